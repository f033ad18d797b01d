//! Events out: what happened (a key's budget nearly or wholly spent, an
//! account needing a new login, a quota window nearly used, a fallback, a
//! provider's breaker opening or closing, a key paused) posted to each
//! webhook that wants it, as JSON or in Slack's or Discord's format,
//! signed with HMAC-SHA256 over `"<timestamp>.<body>"` in
//! `X-Switchyard-Signature: t=<unix seconds>,v1=<hex>` (receivers refuse
//! old timestamps: replays). Events queue without waiting (a full queue
//! drops the event with a warning, never holding a request); each delivery
//! is retried with back-off, recorded, and a webhook that keeps failing is
//! turned off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchyard_store::{Store, Webhook, WebhookDelivery, now_millis};
use tokio::sync::mpsc;

/// Every event a webhook can ask for.
pub const EVENTS: &[&str] = &[
    "budget_warning",
    "budget_exhausted",
    "account_needs_login",
    "quota_nearly_used",
    "fallback",
    "breaker_opened",
    "breaker_closed",
    "key_paused",
    "test",
];

/// The formats a webhook can take.
pub const FORMATS: &[&str] = &["json", "slack", "discord"];

/// Events waiting for the sender at most.
const QUEUE: usize = 256;

/// Attempts per delivery.
const ATTEMPTS: u32 = 4;

/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sets the first retry's wait in milliseconds (then doubling); 1000 by
/// default. For tests of retries.
pub const BACKOFF_ENV: &str = "SWITCHYARD_WEBHOOK_BACKOFF_MS";

/// Something that happened, for the webhooks that want it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// One of [`EVENTS`].
    pub name: &'static str,
    /// A sentence for people (Slack, Discord).
    pub text: String,
    /// Details for programs.
    pub data: Value,
    /// When (Unix ms).
    pub at: i64,
}

impl WebhookEvent {
    /// An event now.
    pub fn new(name: &'static str, text: impl Into<String>, data: Value) -> Self {
        Self {
            name,
            text: text.into(),
            data,
            at: now_millis(),
        }
    }

    /// The body posted to a webhook of `format`.
    fn body(&self, format: &str) -> Value {
        match format {
            "slack" => json!({ "text": format!("*Switchyard*: {}", self.text) }),
            "discord" => json!({ "content": format!("**Switchyard**: {}", self.text) }),
            _ => json!({
                "event": self.name,
                "at": jiff::Timestamp::from_millisecond(self.at).map(|at| at.to_string()).unwrap_or_default(),
                "text": self.text,
                "data": self.data,
            }),
        }
    }
}

/// Where the gateway hands its events; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dispatcher {
    queue: Option<mpsc::Sender<WebhookEvent>>,
}

impl Dispatcher {
    /// Starts the sender for the webhooks of the database in `data_dir`,
    /// on the current tokio runtime.
    pub(crate) fn start(data_dir: &Path) -> Self {
        let (queue, mut events) = mpsc::channel::<WebhookEvent>(QUEUE);
        let data_dir = data_dir.to_owned();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                // Deliveries run side by side; one slow endpoint holds no other.
                tokio::spawn(deliver(data_dir.clone(), event));
            }
        });
        Self { queue: Some(queue) }
    }

    /// Queues `event` without waiting.
    pub(crate) fn emit(&self, event: WebhookEvent) {
        if let Some(queue) = &self.queue
            && queue.try_send(event).is_err()
        {
            tracing::warn!("webhook queue full: an event was dropped");
        }
    }
}

/// Posts `event` to every enabled webhook of the database in `data_dir`
/// that wants it, with retries; returns when every delivery is recorded.
pub async fn deliver(data_dir: PathBuf, event: WebhookEvent) {
    let hooks = match Store::open_in_dir(&data_dir).and_then(|store| {
        let hooks = store.list_webhooks()?;
        hooks
            .into_iter()
            .filter(|hook| hook.enabled && wants(hook, event.name))
            .map(|hook| store.webhook_secret(hook.id).map(|secret| (hook, secret)))
            .collect::<Result<Vec<_>, _>>()
    }) {
        Ok(hooks) => hooks,
        Err(error) => {
            tracing::warn!(%error, "cannot read the webhooks");
            return;
        }
    };
    let deliveries = hooks
        .into_iter()
        .map(|(hook, secret)| deliver_one(&data_dir, hook, secret, &event));
    futures_util::future::join_all(deliveries).await;
}

fn wants(hook: &Webhook, event: &str) -> bool {
    event == "test" || hook.events.is_empty() || hook.events.iter().any(|wanted| wanted == event)
}

/// `X-Switchyard-Signature` for `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

async fn deliver_one(data_dir: &Path, hook: Webhook, secret: String, event: &WebhookEvent) {
    let body = event.body(&hook.format).to_string();
    let backoff = std::env::var(BACKOFF_ENV)
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or(1000);
    let client = match switchyard_providers::tls::http_client()
        .timeout(ATTEMPT_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "cannot build the webhook client");
            return;
        }
    };
    let mut attempts = 0;
    let mut status = None;
    let mut error = None;
    while attempts < ATTEMPTS {
        if attempts > 0 {
            tokio::time::sleep(Duration::from_millis(backoff << (attempts - 1))).await;
        }
        attempts += 1;
        let timestamp = now_millis() / 1000;
        let sent = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("user-agent", "Switchyard-Webhook")
            .header("x-switchyard-event", event.name)
            .header(
                "x-switchyard-signature",
                signature(&secret, timestamp, &body),
            )
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => {
                status = Some(answer.status().as_u16());
                error = None;
                break;
            }
            Ok(answer) => {
                status = Some(answer.status().as_u16());
                error = Some(format!("answered {}", answer.status()));
            }
            Err(failure) => error = Some(without_url(&failure)),
        }
    }
    let delivery = WebhookDelivery {
        webhook_id: hook.id,
        event: event.name.into(),
        at: now_millis(),
        attempts: i64::from(attempts),
        status,
        outcome: if error.is_none() {
            "delivered"
        } else {
            "failed"
        }
        .into(),
        error,
    };
    match Store::open_in_dir(data_dir).and_then(|store| store.record_webhook_delivery(&delivery)) {
        Ok(true) => tracing::warn!(
            webhook = hook.id,
            "webhook turned off after failing repeatedly"
        ),
        Ok(false) => {}
        Err(failure) => tracing::warn!(%failure, "cannot record a webhook delivery"),
    }
}

/// A client error's text without the address (it may carry a token).
fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        "the request failed".into()
    }
}

/// Checks a webhook's address and the events it asks for.
pub fn check_webhook(url: &str, format: &str, events: &[String]) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| format!("{url:?} is not an address"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("a webhook's address is http:// or https://".into());
    }
    if !FORMATS.contains(&format) {
        return Err(format!("the format is one of {}", FORMATS.join(", ")));
    }
    if let Some(unknown) = events
        .iter()
        .find(|event| !EVENTS.contains(&event.as_str()))
    {
        return Err(format!(
            "unknown event {unknown:?}; events: {}",
            EVENTS.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_checks() {
        let signed = signature("whsec_x", 1_700_000_000, "{}");
        assert!(signed.starts_with("t=1700000000,v1="));
        assert_eq!(signed, signature("whsec_x", 1_700_000_000, "{}"));
        assert_ne!(signed, signature("whsec_y", 1_700_000_000, "{}"));
        assert!(check_webhook("ftp://x", "json", &[]).is_err());
        assert!(check_webhook("https://hooks.example/x", "teams", &[]).is_err());
        assert!(check_webhook("https://hooks.example/x", "slack", &["nope".into()]).is_err());
        assert!(check_webhook("https://hooks.example/x", "discord", &["fallback".into()]).is_ok());
        let event = WebhookEvent::new("fallback", "fell back", json!({"model": "m"}));
        assert_eq!(event.body("slack")["text"], "*Switchyard*: fell back");
        assert_eq!(event.body("json")["data"]["model"], "m");
    }
}
