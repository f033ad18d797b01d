//! Webhooks: an address, a format (`json`, `slack`, `discord`), the events
//! it wants (none listed: all), its signing secret (sealed like provider
//! keys) and whether it is on; and the record of deliveries. A webhook
//! whose deliveries keep failing is turned off.

use crate::db::{OptionalExtension, params};
use rand::Rng;

use crate::{Store, StoreError, StoreResult, now_millis};

/// Failed deliveries in a row after which a webhook is turned off.
pub const WEBHOOK_FAILURES_TO_DISABLE: i64 = 5;

/// Deliveries kept in the record.
const DELIVERIES_KEPT: i64 = 2000;

/// A webhook as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Row id.
    pub id: i64,
    /// Where events are posted.
    pub url: String,
    /// `json`, `slack` or `discord`.
    pub format: String,
    /// The events it wants; empty: all.
    pub events: Vec<String>,
    /// Whether it is on.
    pub enabled: bool,
    /// Failed deliveries in a row.
    pub consecutive_failures: i64,
    /// When it was added (Unix ms).
    pub created_at: i64,
}

/// One delivery as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The webhook.
    pub webhook_id: i64,
    /// The event's name.
    pub event: String,
    /// When the delivery ended (Unix ms).
    pub at: i64,
    /// Attempts made.
    pub attempts: i64,
    /// The last HTTP status, if one came.
    pub status: Option<u16>,
    /// `delivered` or `failed`.
    pub outcome: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

impl Store {
    /// Adds a webhook; answers it with its signing secret (shown once).
    pub fn add_webhook(
        &self,
        url: &str,
        format: &str,
        events: &[String],
    ) -> StoreResult<(Webhook, String)> {
        let random: [u8; 32] = rand::rng().random();
        let secret = format!("whsec_{}", hex::encode(random));
        let sealed = self.secrets.seal(&secret);
        let events_json = (!events.is_empty())
            .then(|| serde_json::to_string(events))
            .transpose()
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let created_at = now_millis();
        self.conn.execute(
            "INSERT INTO webhooks (url, format, events, sealed_secret, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![url, format, events_json, sealed, created_at],
        )?;
        Ok((
            Webhook {
                id: self.conn.last_insert_rowid()?,
                url: url.into(),
                format: format.into(),
                events: events.to_vec(),
                enabled: true,
                consecutive_failures: 0,
                created_at,
            },
            secret,
        ))
    }

    /// Every webhook, oldest first.
    pub fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, url, format, events, enabled, consecutive_failures, created_at
             FROM webhooks ORDER BY id",
        )?;
        let rows = statement.query_map(params![], |row| {
            let events: Option<String> = row.get(3)?;
            Ok(Webhook {
                id: row.get(0)?,
                url: row.get(1)?,
                format: row.get(2)?,
                events: events
                    .and_then(|text| serde_json::from_str(&text).ok())
                    .unwrap_or_default(),
                enabled: row.get(4)?,
                consecutive_failures: row.get(5)?,
                created_at: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Webhook `id`'s signing secret.
    pub fn webhook_secret(&self, id: i64) -> StoreResult<String> {
        let sealed: Option<String> = self
            .conn
            .query_row(
                "SELECT sealed_secret FROM webhooks WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()?;
        let sealed = sealed.ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))?;
        self.secrets.open(&sealed)
    }

    /// Removes webhook `id` (its deliveries stay in the record).
    pub fn remove_webhook(&self, id: i64) -> StoreResult<()> {
        if self
            .conn
            .execute("DELETE FROM webhooks WHERE id = ?1", [id])?
            == 0
        {
            return Err(StoreError::NotFound(format!("webhook {id}")));
        }
        Ok(())
    }

    /// Turns webhook `id` on (its failure count starts over) or off.
    pub fn set_webhook_enabled(&self, id: i64, enabled: bool) -> StoreResult<()> {
        let changed = self.conn.execute(
            "UPDATE webhooks SET enabled = ?2,
                    consecutive_failures = CASE WHEN ?3 = 1 THEN 0 ELSE consecutive_failures END
             WHERE id = ?1",
            params![id, enabled, enabled],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("webhook {id}")));
        }
        Ok(())
    }

    /// Records a delivery and counts it towards turning the webhook off:
    /// after [`WEBHOOK_FAILURES_TO_DISABLE`] failures in a row it is off.
    /// Answers whether this delivery turned it off.
    pub fn record_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<bool> {
        self.conn.execute(
            "INSERT INTO webhook_deliveries (webhook_id, event, at, attempts, status, outcome, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                delivery.webhook_id,
                delivery.event,
                delivery.at,
                delivery.attempts,
                delivery.status,
                delivery.outcome,
                delivery.error
            ],
        )?;
        self.conn.execute(
            "DELETE FROM webhook_deliveries WHERE id <= (SELECT MAX(id) FROM webhook_deliveries) - ?1",
            [DELIVERIES_KEPT],
        )?;
        if delivery.outcome == "delivered" {
            self.conn.execute(
                "UPDATE webhooks SET consecutive_failures = 0 WHERE id = ?1",
                [delivery.webhook_id],
            )?;
            return Ok(false);
        }
        let turned_off = self.conn.execute(
            "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1,
                    enabled = CASE WHEN consecutive_failures + 1 >= ?2 THEN 0 ELSE enabled END
             WHERE id = ?1 AND enabled = 1 AND consecutive_failures + 1 >= ?2",
            params![delivery.webhook_id, WEBHOOK_FAILURES_TO_DISABLE],
        )?;
        if turned_off == 0 {
            self.conn.execute(
                "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ?1",
                [delivery.webhook_id],
            )?;
        }
        Ok(turned_off == 1)
    }

    /// The newest `limit` deliveries, newest first.
    pub fn webhook_deliveries(&self, limit: u32) -> StoreResult<Vec<WebhookDelivery>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT webhook_id, event, at, attempts, status, outcome, error
             FROM webhook_deliveries ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit], |row| {
            Ok(WebhookDelivery {
                webhook_id: row.get(0)?,
                event: row.get(1)?,
                at: row.get(2)?,
                attempts: row.get(3)?,
                status: row.get(4)?,
                outcome: row.get(5)?,
                error: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_keep_a_sealed_secret_and_turn_off_after_failures() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let (hook, secret) = store
            .add_webhook("http://127.0.0.1:9/hook", "json", &["fallback".into()])
            .unwrap();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(store.webhook_secret(hook.id).unwrap(), secret);
        let failed = |n: i64| WebhookDelivery {
            webhook_id: hook.id,
            event: "fallback".into(),
            at: n,
            attempts: 3,
            status: Some(500),
            outcome: "failed".into(),
            error: Some("500".into()),
        };
        for n in 1..WEBHOOK_FAILURES_TO_DISABLE {
            assert!(!store.record_webhook_delivery(&failed(n)).unwrap());
        }
        assert!(store.record_webhook_delivery(&failed(9)).unwrap());
        let listed = &store.list_webhooks().unwrap()[0];
        assert!(!listed.enabled);
        assert_eq!(listed.events, vec!["fallback"]);
        store.set_webhook_enabled(hook.id, true).unwrap();
        assert_eq!(store.list_webhooks().unwrap()[0].consecutive_failures, 0);
        assert_eq!(store.webhook_deliveries(10).unwrap().len(), 5);
    }
}
