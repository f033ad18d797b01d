//! The request log entry of a request in progress ([`PendingRecord`]):
//! its attempts, usage, cost and (with `log_bodies`) bodies with secrets
//! taken out, queued for the usage writer when the answer is done; and the
//! plain response builder the handlers and the relay share.

use std::time::Instant;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use switchyard_protocol::Usage;
use switchyard_store::{Attempt, KEY_PREFIX, Price, RequestRecord, now_millis};

use crate::routing::{Candidate, RoutingConfig};
use crate::{ApiError, RouterState};
use switchyard_protocol::Dialect;

/// The usage record of a request in progress. Finishing it queues it for the
/// usage writer; dropping it unfinished (the client went away) records 499.
pub(crate) struct PendingRecord {
    state: RouterState,
    /// The caller's key's policy (its allowed models).
    pub(crate) policy: Option<std::sync::Arc<switchyard_store::KeyPolicy>>,
    /// Whether `/metrics` is on (a token exists): only then is it counted.
    metrics_on: bool,
    /// The client's dialect, in which errors are rendered.
    pub(crate) dialect: Dialect,
    started: Instant,
    /// The record as known so far.
    pub(crate) record: RequestRecord,
    /// The attempt in flight: its start and the price of its target.
    attempt: Option<(Instant, Option<Price>)>,
    /// Whether bodies are kept (the `log_bodies` setting).
    log_bodies: bool,
    /// The account key to take out of logged bodies.
    secret: Option<String>,
    finished: bool,
    /// What the answer is billed by besides its tokens.
    pub(crate) metered: Metered,
}

/// What an answer is billed by besides its tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Metered {
    /// Tokens only.
    #[default]
    Tokens,
    /// The answer's `data` are images made, priced per image.
    Images,
    /// The answer says how many seconds of audio it heard, priced per second.
    AudioSeconds,
}

/// Status recorded when the client disconnects before the answer is complete.
const CLIENT_CLOSED_REQUEST: u16 = 499;
/// Most bytes of a response body kept by body logging.
const MAX_LOGGED_BODY: usize = 256 * 1024;

impl PendingRecord {
    pub(crate) fn new(
        state: &RouterState,
        endpoint: &str,
        caller: &crate::auth::CallerKey,
        dialect: Dialect,
    ) -> Self {
        let api_key_id = caller.key_id;
        Self {
            state: state.clone(),
            policy: caller.policy.clone(),
            metrics_on: caller.config.metrics_token.is_some(),
            dialect,
            started: Instant::now(),
            record: RequestRecord {
                started_at: now_millis(),
                api_key_id,
                endpoint: endpoint.to_owned(),
                dialect: Some(dialect.name().to_owned()),
                ..RequestRecord::default()
            },
            attempt: None,
            log_bodies: false,
            secret: None,
            finished: false,
            metered: Metered::Tokens,
        }
    }

    /// Notes that `candidate` is being tried now.
    pub(crate) fn begin_attempt(&mut self, candidate: &Candidate) {
        self.record.target = Some(candidate.target.clone());
        self.record.provider = Some(candidate.provider_name().to_owned());
        self.record.account_id = Some(candidate.account.id);
        self.record.account = Some(candidate.account.label.clone());
        self.attempt = Some((Instant::now(), candidate.price.clone()));
        if self.log_bodies {
            self.secret = Some(candidate.account.api_key.clone());
        }
    }

    /// Closes the attempt in flight with `status` and adds it to the path.
    pub(crate) fn end_attempt(&mut self, status: u16, error: Option<&str>) {
        let Some((started, _)) = self.attempt.take() else {
            return;
        };
        self.record.attempts.push(Attempt {
            target: self.record.target.clone().unwrap_or_default(),
            provider: self.record.provider.clone(),
            account: self.record.account.clone(),
            status,
            latency_ms: started.elapsed().as_millis() as u64,
            error: error.map(str::to_owned),
            skipped: false,
        });
    }

    /// Records the tokens of the answer and what they cost.
    pub(crate) fn record_usage(&mut self, usage: &Usage) {
        let record = &mut self.record;
        record.prompt_tokens = Some(usage.input_tokens);
        record.completion_tokens = Some(usage.output_tokens);
        record.cached_tokens = Some(usage.cache_read_tokens);
        record.reasoning_tokens = Some(usage.reasoning_tokens);
        record.cost_usd = self
            .attempt
            .as_ref()
            .and_then(|(_, price)| price.as_ref())
            .map(|price| switchyard_config::pricing::cost_of(price, usage));
    }

    /// Adds `images` made at the target's price per image to the cost.
    pub(crate) fn record_images(&mut self, images: u64) {
        let per_image = self
            .attempt
            .as_ref()
            .and_then(|(_, price)| price.as_ref())
            .and_then(|price| price.per_image);
        if let Some(per_image) = per_image {
            let cost = self.record.cost_usd.unwrap_or(0.0) + per_image * images as f64;
            self.record.cost_usd = Some(cost);
        }
    }

    /// Adds `seconds` of audio at the target's price per second to the cost.
    pub(crate) fn record_audio_seconds(&mut self, seconds: f64) {
        let per_second = self
            .attempt
            .as_ref()
            .and_then(|(_, price)| price.as_ref())
            .and_then(|price| price.per_audio_second);
        if let Some(per_second) = per_second
            && seconds.is_finite()
            && seconds > 0.0
        {
            let cost = self.record.cost_usd.unwrap_or(0.0) + per_second * seconds;
            self.record.cost_usd = Some(cost);
        }
    }

    /// Notes that the first bytes of the answer are going out now.
    pub(crate) fn first_byte(&mut self) {
        if self.record.ttfb_ms.is_none() {
            self.record.ttfb_ms = Some(self.started.elapsed().as_millis() as u64);
        }
    }

    /// Keeps the request body, when body logging is on.
    fn capture_request(&mut self, body: &[u8]) {
        if self.log_bodies {
            let request = redact_body(body, None);
            self.record.bodies.get_or_insert_default().request = Some(request);
        }
    }

    /// Appends to the logged response body, when body logging is on.
    pub(crate) fn capture_response(&mut self, bytes: &[u8]) {
        if !self.log_bodies {
            return;
        }
        let secret = self.secret.as_deref();
        let bodies = self.record.bodies.get_or_insert_default();
        let response = bodies.response.get_or_insert_default();
        if response.len() < MAX_LOGGED_BODY {
            response.push_str(&redact_body(bytes, secret));
        }
    }

    /// Records the request as ended with `status`.
    pub(crate) fn finish(mut self, status: StatusCode) {
        self.complete(status.as_u16());
    }

    /// Records `error` (its body too, when body logging is on: failed
    /// requests are the ones people open the log for) and renders it for
    /// the client.
    pub(crate) fn fail(mut self, error: ApiError) -> Response {
        let dialect = self.dialect;
        if self.log_bodies {
            let body = error.to_json_for(dialect).to_string();
            self.capture_response(body.as_bytes());
        }
        self.finish(error.status);
        error.into_response_for(dialect)
    }

    /// Turns body logging on (the `log_bodies` setting) and keeps `body`.
    pub(crate) fn log_bodies_of(&mut self, config: &RoutingConfig, body: &[u8]) {
        if config.settings.log_bodies && !self.log_bodies {
            self.log_bodies = true;
            self.capture_request(body);
        }
    }

    fn complete(&mut self, status: u16) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.end_attempt(status, None);
        self.first_byte();
        let mut record = std::mem::take(&mut self.record);
        record.status = status;
        record.latency_ms = self.started.elapsed().as_millis() as u64;
        self.state.window_counts.count(&record);
        let state = &self.state;
        state
            .key_limits
            .count(&record, self.policy.as_deref(), &|event| state.emit(event));
        if self.metrics_on {
            self.state.metrics.observe(&record);
        }
        self.state.usage.record(record);
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        self.complete(CLIENT_CLOSED_REQUEST);
    }
}

/// A body as text for the request log, with secrets taken out: the
/// account's key, Switchyard keys, and values of fields named like secrets.
fn redact_body(body: &[u8], secret: Option<&str>) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    if let Some(secret) = secret.filter(|secret| secret.len() >= 4) {
        text = text.replace(secret, "[redacted]");
    }
    if let Ok(mut json) = serde_json::from_str::<Value>(&text) {
        redact_fields(&mut json);
        text = json.to_string();
    }
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(KEY_PREFIX) {
        redacted.push_str(&rest[..at]);
        redacted.push_str("[redacted]");
        rest = rest[at..]
            .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    }
    redacted.push_str(rest);
    redacted
}

/// Blanks the values of object fields whose names say they hold secrets.
fn redact_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                let name = name.to_ascii_lowercase();
                let secret = [
                    "api_key",
                    "apikey",
                    "authorization",
                    "password",
                    "secret",
                    "access_token",
                    "refresh_token",
                ]
                .iter()
                .any(|marker| name.contains(marker));
                if secret && field.is_string() {
                    *field = Value::String("[redacted]".into());
                } else {
                    redact_fields(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_fields),
        _ => {}
    }
}

/// Builds a response with `status`, a content type and `body`.
pub(crate) fn response_with(status: StatusCode, content_type: &str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, value);
    }
    response
}
