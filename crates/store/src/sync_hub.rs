//! Sync through a hub, the hub's side: pairing codes and linked devices
//! (credentials stored as SHA-256 hashes), every record's newest version
//! (bodies sealed; in end-to-end mode they arrive as ciphertext), pushes
//! taken as compare-and-swap on versions, conflicts with the losing value
//! kept, refresh leases and the devices' usage summaries.

use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{OptionalExtension, params};
use crate::sync::DailyUsage;
use crate::{Store, StoreError, StoreResult, now_millis};

/// Prefix of device credentials, so users and secret scanners recognise them.
pub const DEVICE_TOKEN_PREFIX: &str = "syd-";

/// How long pushes are remembered to refuse their replays.
const REPLAY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// The hub's sync space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncSpace {
    /// Random, made once.
    pub space_id: String,
    /// The newest version given out.
    pub version: i64,
    /// End-to-end mode: the passphrase's salt (base64).
    pub e2e_salt: Option<String>,
    /// End-to-end mode: a known text sealed with the derived key.
    pub e2e_check: Option<String>,
    /// How many records it holds (deleted ones included).
    pub items: i64,
}

/// A linked device as the hub lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncDevice {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it linked (Unix ms).
    pub created_at: i64,
    /// When it last pushed or pulled (Unix ms).
    pub last_seen_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Requests it reported in its usage summaries.
    pub requests: i64,
    /// What they cost, USD.
    pub cost_usd: f64,
}

/// A record as a device pushes it.
#[derive(Debug, Clone)]
pub struct PushedItem {
    /// `provider`, `account`, ...
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The version the device's change is based on (0: new).
    pub base: i64,
    /// The new body (JSON, or end-to-end ciphertext); `None`: deleted.
    pub body: Option<String>,
}

/// A record as the hub holds it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct HubItem {
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: i64,
    /// Its body (opened); `None`: deleted.
    pub body: Option<String>,
    /// The device that wrote it.
    pub device: String,
}

impl std::fmt::Debug for HubItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubItem")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("deleted", &self.body.is_none())
            .finish_non_exhaustive()
    }
}

/// What became of one pushed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Taken: its new version.
    Accepted(i64),
    /// Another device changed it first: the hub's record, which stands.
    Conflict(HubItem),
}

/// A concurrent edit the hub recorded.
#[derive(Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SyncConflict {
    /// Its id.
    pub id: i64,
    /// The record's kind.
    pub kind: String,
    /// The record's name.
    pub name: String,
    /// The version that won.
    pub winner_version: i64,
    /// The device whose edit won.
    pub winner_device: String,
    /// The device whose edit lost.
    pub loser_device: String,
    /// The losing value (opened; ciphertext in end-to-end mode), for restore.
    pub loser_body: Option<String>,
    /// When (Unix ms).
    pub at: i64,
    /// When it was restored or dismissed.
    pub resolved_at: Option<i64>,
}

impl std::fmt::Debug for SyncConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConflict")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn random_text(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill(&mut raw[..]);
    hex::encode(raw)
}

impl Store {
    /// The hub's sync space, made on first use.
    pub fn sync_space(&self) -> StoreResult<SyncSpace> {
        self.conn.execute(
            "INSERT INTO sync_space (id, space_id, version) VALUES (1, ?1, 0)
             ON CONFLICT (id) DO NOTHING",
            params![random_text(16)],
        )?;
        let items: i64 =
            self.conn
                .query_row("SELECT COUNT(*) FROM sync_items", params![], |row| {
                    row.get(0)
                })?;
        Ok(self.conn.query_row(
            "SELECT space_id, version, e2e_salt, e2e_check FROM sync_space WHERE id = 1",
            params![],
            |row| {
                Ok(SyncSpace {
                    space_id: row.get(0)?,
                    version: row.get(1)?,
                    e2e_salt: row.get(2)?,
                    e2e_check: row.get(3)?,
                    items,
                })
            },
        )?)
    }

    /// Makes a one-time pairing code, valid for `lifetime_ms`.
    pub fn create_pairing_code(&self, lifetime_ms: i64) -> StoreResult<String> {
        self.sync_space()?;
        // 10 characters of a 32-letter alphabet without look-alikes: 50 bits,
        // and wrong codes are limited by the hub.
        const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
        let mut rng = rand::rng();
        let code: String = (0..10)
            .map(|i| {
                let c = ALPHABET[rng.random_range(0..ALPHABET.len())] as char;
                if i == 5 {
                    format!("-{c}")
                } else {
                    c.to_string()
                }
            })
            .collect();
        let now = now_millis();
        self.conn.execute(
            "DELETE FROM sync_pairing_codes WHERE expires_at < ?1",
            params![now],
        )?;
        self.conn.execute(
            "INSERT INTO sync_pairing_codes (code_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
            params![sha256_hex(&normalize_code(&code)), now, now + lifetime_ms],
        )?;
        Ok(code)
    }

    /// Whether `code` is a pairing code that can still link a device.
    pub fn pairing_code_is_valid(&self, code: &str) -> StoreResult<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM sync_pairing_codes
                 WHERE code_hash = ?1 AND used_by IS NULL AND expires_at >= ?2",
                params![sha256_hex(&normalize_code(code)), now_millis()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Links a device with a pairing code: its id and credential, or
    /// `None` if the code is unknown, used or expired. With `e2e`, the
    /// space becomes end-to-end if it is not yet and holds nothing.
    pub fn redeem_pairing_code(
        &self,
        code: &str,
        device_name: &str,
        e2e: Option<(&str, &str)>,
    ) -> StoreResult<Option<(String, String)>> {
        let transaction = self.conn.unchecked_transaction()?;
        let space = self.sync_space()?;
        let used = self.conn.execute(
            "UPDATE sync_pairing_codes SET used_by = ?1
             WHERE code_hash = ?2 AND used_by IS NULL AND expires_at >= ?3",
            params![device_name, sha256_hex(&normalize_code(code)), now_millis()],
        )?;
        if used == 0 {
            return Ok(None);
        }
        match (e2e, &space.e2e_salt) {
            (Some((salt, check)), None) => {
                if space.items > 0 {
                    return Err(StoreError::Conflict(
                        "this hub already syncs without end-to-end encryption; link without a passphrase".into(),
                    ));
                }
                self.conn.execute(
                    "UPDATE sync_space SET e2e_salt = ?1, e2e_check = ?2 WHERE id = 1",
                    params![salt, check],
                )?;
            }
            (None, Some(_)) => {
                return Err(StoreError::Conflict(
                    "this hub's sync is end-to-end encrypted: link with its passphrase".into(),
                ));
            }
            (Some((salt, _)), Some(existing)) if salt != existing => {
                return Err(StoreError::Conflict(
                    "this hub's end-to-end parameters changed meanwhile: link again".into(),
                ));
            }
            (Some(_), Some(_)) | (None, None) => {}
        }
        let device_id = format!("dev-{}", random_text(6));
        let token = format!("{DEVICE_TOKEN_PREFIX}{}", random_text(24));
        self.conn.execute(
            "INSERT INTO sync_devices (id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![device_id, device_name, sha256_hex(&token), now_millis()],
        )?;
        transaction.commit()?;
        Ok(Some((device_id, token)))
    }

    /// The device holding `token`, if it is linked and not revoked (its
    /// last contact recorded); `Err(NotFound)` names a revoked one.
    pub fn sync_device_by_token(&self, token: &str) -> StoreResult<Option<String>> {
        let row: Option<(String, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT id, revoked_at FROM sync_devices WHERE token_hash = ?1",
                params![sha256_hex(token)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some((id, Some(_))) => Err(StoreError::NotFound(format!("device {id} (revoked)"))),
            Some((id, None)) => {
                self.conn.execute(
                    "UPDATE sync_devices SET last_seen_at = ?1 WHERE id = ?2",
                    params![now_millis(), id],
                )?;
                Ok(Some(id))
            }
        }
    }

    /// Linked devices, revoked ones included, with their usage summaries.
    pub fn list_sync_devices(&self) -> StoreResult<Vec<SyncDevice>> {
        let rows = self.conn.query_rows(
            "SELECT d.id, d.name, d.created_at, d.last_seen_at, d.revoked_at,
                    COALESCE(SUM(u.requests), 0), COALESCE(SUM(u.cost_usd), 0)
             FROM sync_devices d LEFT JOIN sync_usage u ON u.device_id = d.id
             GROUP BY d.id, d.name, d.created_at, d.last_seen_at, d.revoked_at
             ORDER BY d.created_at",
            params![],
        )?;
        rows.into_iter()
            .map(|row| {
                Ok(SyncDevice {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    created_at: row.get(2)?,
                    last_seen_at: row.get(3)?,
                    revoked_at: row.get(4)?,
                    requests: row.get(5)?,
                    cost_usd: row.get(6)?,
                })
            })
            .collect()
    }

    /// Revokes a device (by id or name): it can no longer push or pull.
    pub fn revoke_sync_device(&self, id_or_name: &str) -> StoreResult<String> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT id FROM sync_devices WHERE (id = ?1 OR name = ?1) AND revoked_at IS NULL
                 ORDER BY created_at DESC LIMIT 1",
                params![id_or_name],
                |row| row.get(0),
            )
            .optional()?;
        let id = id.ok_or_else(|| StoreError::NotFound(format!("linked device {id_or_name:?}")))?;
        self.conn.execute(
            "UPDATE sync_devices SET revoked_at = ?1 WHERE id = ?2",
            params![now_millis(), id],
        )?;
        self.conn
            .execute("DELETE FROM sync_leases WHERE device_id = ?1", params![id])?;
        Ok(id)
    }

    /// Takes a push from `device` as one transaction: each record is
    /// accepted when its base is the hub's version, else reported as a
    /// conflict with the hub's record. A `request_id` seen before is
    /// refused (`Conflict`), so a replayed push changes nothing.
    pub fn push_sync_items(
        &self,
        device: &str,
        request_id: &str,
        items: &[PushedItem],
    ) -> StoreResult<Vec<PushOutcome>> {
        let transaction = self.conn.unchecked_transaction()?;
        let now = now_millis();
        self.conn.execute(
            "DELETE FROM sync_requests WHERE at < ?1",
            params![now - REPLAY_WINDOW_MS],
        )?;
        let fresh = self.conn.execute(
            "INSERT INTO sync_requests (request_id, at) VALUES (?1, ?2) ON CONFLICT (request_id) DO NOTHING",
            params![request_id, now],
        )?;
        if fresh == 0 {
            return Err(StoreError::Conflict(
                "this push was already taken (a replay)".into(),
            ));
        }
        // The space's row lock first: pushes (from every process on the
        // database) compare and swap one at a time.
        self.conn.execute(
            "UPDATE sync_space SET version = version WHERE id = 1",
            params![],
        )?;
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            let current = self.hub_item(&item.kind, &item.name)?;
            let current_version = current.as_ref().map_or(0, |current| current.version);
            if item.base != current_version {
                let current = current.unwrap_or_else(|| HubItem {
                    kind: item.kind.clone(),
                    name: item.name.clone(),
                    version: 0,
                    body: None,
                    device: String::new(),
                });
                outcomes.push(PushOutcome::Conflict(current));
                continue;
            }
            let version: i64 = self.conn.query_row(
                "UPDATE sync_space SET version = version + 1 WHERE id = 1 RETURNING version",
                params![],
                |row| row.get(0),
            )?;
            self.conn.execute(
                "INSERT INTO sync_items (kind, name, version, body, device_id, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (kind, name) DO UPDATE SET version = excluded.version,
                    body = excluded.body, device_id = excluded.device_id,
                    updated_at = excluded.updated_at",
                params![
                    item.kind,
                    item.name,
                    version,
                    item.body.as_deref().map(|body| self.secrets.seal(body)),
                    device,
                    now
                ],
            )?;
            outcomes.push(PushOutcome::Accepted(version));
        }
        transaction.commit()?;
        Ok(outcomes)
    }

    fn hub_item(&self, kind: &str, name: &str) -> StoreResult<Option<HubItem>> {
        let row: Option<(i64, Option<String>, String)> = self
            .conn
            .query_row(
                "SELECT version, body, device_id FROM sync_items WHERE kind = ?1 AND name = ?2",
                params![kind, name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        row.map(|(version, body, device)| {
            Ok(HubItem {
                kind: kind.to_owned(),
                name: name.to_owned(),
                version,
                body: body.map(|body| self.secrets.open(&body)).transpose()?,
                device,
            })
        })
        .transpose()
    }

    /// The hub's version of a record (0: it has none).
    pub fn sync_item_version(&self, kind: &str, name: &str) -> StoreResult<i64> {
        Ok(self
            .conn
            .query_row(
                "SELECT version FROM sync_items WHERE kind = ?1 AND name = ?2",
                params![kind, name],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Records newer than `since`, oldest first, at most `limit`.
    pub fn pull_sync_items(&self, since: i64, limit: i64) -> StoreResult<Vec<HubItem>> {
        let rows = self.conn.query_rows(
            "SELECT kind, name, version, body, device_id FROM sync_items
             WHERE version > ?1 ORDER BY version LIMIT ?2",
            params![since, limit],
        )?;
        rows.into_iter()
            .map(|row| {
                let body: Option<String> = row.get(3)?;
                Ok(HubItem {
                    kind: row.get(0)?,
                    name: row.get(1)?,
                    version: row.get(2)?,
                    body: body.map(|body| self.secrets.open(&body)).transpose()?,
                    device: row.get(4)?,
                })
            })
            .collect()
    }

    /// Records a conflict `loser` reported: its edit of a record lost to
    /// the hub's `winner_version`; its value is kept (sealed) for restore.
    pub fn record_sync_conflict(
        &self,
        loser: &str,
        kind: &str,
        name: &str,
        winner_version: i64,
        loser_body: Option<&str>,
    ) -> StoreResult<i64> {
        let winner = self
            .hub_item(kind, name)?
            .map(|item| item.device)
            .unwrap_or_default();
        self.conn.execute(
            "INSERT INTO sync_conflicts (kind, name, winner_version, winner_device, loser_device,
                                         loser_body, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                kind,
                name,
                winner_version,
                winner,
                loser,
                loser_body.map(|body| self.secrets.seal(body)),
                now_millis()
            ],
        )?;
        Ok(self.conn.last_insert_rowid()?)
    }

    /// The conflicts recorded, newest first (`open_only`: not yet resolved).
    pub fn list_sync_conflicts(&self, open_only: bool) -> StoreResult<Vec<SyncConflict>> {
        let filter = if open_only {
            " WHERE resolved_at IS NULL"
        } else {
            ""
        };
        let rows = self.conn.query_rows(
            &format!(
                "SELECT id, kind, name, winner_version, winner_device, loser_device, loser_body,
                        at, resolved_at
                 FROM sync_conflicts{filter} ORDER BY id DESC LIMIT 200"
            ),
            params![],
        )?;
        rows.into_iter()
            .map(|row| {
                let body: Option<String> = row.get(6)?;
                Ok(SyncConflict {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    name: row.get(2)?,
                    winner_version: row.get(3)?,
                    winner_device: row.get(4)?,
                    loser_device: row.get(5)?,
                    loser_body: body.map(|body| self.secrets.open(&body)).transpose()?,
                    at: row.get(7)?,
                    resolved_at: row.get(8)?,
                })
            })
            .collect()
    }

    /// The newest conflict's id and how many are open.
    pub fn sync_conflict_summary(&self) -> StoreResult<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(id), 0),
                    COALESCE(SUM(CASE WHEN resolved_at IS NULL THEN 1 ELSE 0 END), 0)
             FROM sync_conflicts",
            params![],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?)
    }

    /// Marks a conflict resolved (restored or dismissed).
    pub fn resolve_sync_conflict(&self, id: i64) -> StoreResult<()> {
        let changed = self.conn.execute(
            "UPDATE sync_conflicts SET resolved_at = COALESCE(resolved_at, ?1) WHERE id = ?2",
            params![now_millis(), id],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("sync conflict {id}")));
        }
        Ok(())
    }

    /// Takes the lease to refresh `subject`'s tokens for `device` for
    /// `lease_ms` by the hub's clock; `false` while another device holds it.
    pub fn take_sync_lease(&self, subject: &str, device: &str, lease_ms: i64) -> StoreResult<bool> {
        let now = now_millis();
        let changed = self.conn.execute(
            "INSERT INTO sync_leases (subject, device_id, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (subject) DO UPDATE SET device_id = excluded.device_id, until = excluded.until
             WHERE sync_leases.until < ?4 OR sync_leases.device_id = excluded.device_id",
            params![subject, device, now + lease_ms, now],
        )?;
        Ok(changed > 0)
    }

    /// Ends `device`'s lease on `subject`.
    pub fn end_sync_lease(&self, subject: &str, device: &str) -> StoreResult<()> {
        self.conn.execute(
            "DELETE FROM sync_leases WHERE subject = ?1 AND device_id = ?2",
            params![subject, device],
        )?;
        Ok(())
    }

    /// Replaces `device`'s usage summary for the days it reports.
    pub fn set_sync_usage(&self, device: &str, rows: &[DailyUsage]) -> StoreResult<()> {
        let transaction = self.conn.unchecked_transaction()?;
        for row in rows {
            self.conn.execute(
                "INSERT INTO sync_usage (device_id, day, model, requests, prompt_tokens,
                                         completion_tokens, cost_usd)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (device_id, day, model) DO UPDATE SET requests = excluded.requests,
                    prompt_tokens = excluded.prompt_tokens,
                    completion_tokens = excluded.completion_tokens, cost_usd = excluded.cost_usd",
                params![
                    device,
                    row.day.to_string(),
                    row.model,
                    row.requests,
                    row.prompt_tokens,
                    row.completion_tokens,
                    row.cost_usd
                ],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }
}

/// A pairing code as compared: upper case, without spaces and dashes.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, base: i64, body: Option<&str>) -> PushedItem {
        PushedItem {
            kind: "combo".into(),
            name: name.into(),
            base,
            body: body.map(str::to_owned),
        }
    }

    #[test]
    fn pairing_pushes_conflicts_leases_and_revocation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let space = store.sync_space().unwrap();
        assert_eq!((space.version, space.items), (0, 0));

        // A code links once; wrong and used codes link nothing.
        let code = store.create_pairing_code(60_000).unwrap();
        assert!(
            store
                .redeem_pairing_code("WRONG-CODE0", "x", None)
                .unwrap()
                .is_none()
        );
        let (laptop, token) = store
            .redeem_pairing_code(&code.to_lowercase(), "laptop", None)
            .unwrap()
            .unwrap();
        assert!(
            store
                .redeem_pairing_code(&code, "again", None)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store.sync_device_by_token(&token).unwrap(),
            Some(laptop.clone())
        );
        let code = store.create_pairing_code(60_000).unwrap();
        let (desktop, desktop_token) = store
            .redeem_pairing_code(&code, "desktop", None)
            .unwrap()
            .unwrap();

        // Compare-and-swap on versions; a replayed push changes nothing.
        let first = store
            .push_sync_items(
                &laptop,
                "request-0000000001",
                &[item("team", 0, Some("{\"v\":1}"))],
            )
            .unwrap();
        assert_eq!(first, vec![PushOutcome::Accepted(1)]);
        assert!(matches!(
            store.push_sync_items(
                &laptop,
                "request-0000000001",
                &[item("team", 1, Some("{}"))]
            ),
            Err(StoreError::Conflict(_))
        ));
        let stale = store
            .push_sync_items(
                &desktop,
                "request-0000000002",
                &[item("team", 0, Some("{\"v\":2}"))],
            )
            .unwrap();
        let PushOutcome::Conflict(current) = &stale[0] else {
            panic!("{stale:?}")
        };
        assert_eq!(
            (current.version, current.body.as_deref()),
            (1, Some("{\"v\":1}"))
        );
        assert_eq!(current.device, laptop);
        let id = store
            .record_sync_conflict(&desktop, "combo", "team", 1, Some("{\"v\":2}"))
            .unwrap();
        assert_eq!(store.sync_conflict_summary().unwrap(), (id, 1));
        let conflicts = store.list_sync_conflicts(true).unwrap();
        assert_eq!(conflicts[0].winner_device, laptop);
        assert_eq!(conflicts[0].loser_body.as_deref(), Some("{\"v\":2}"));
        store.resolve_sync_conflict(id).unwrap();
        assert_eq!(store.sync_conflict_summary().unwrap(), (id, 0));
        let deleted = store
            .push_sync_items(&desktop, "request-0000000003", &[item("team", 1, None)])
            .unwrap();
        assert_eq!(deleted, vec![PushOutcome::Accepted(2)]);
        let pulled = store.pull_sync_items(0, 10).unwrap();
        assert_eq!(pulled.len(), 1);
        assert_eq!((pulled[0].version, pulled[0].body.is_none()), (2, true));
        assert!(store.pull_sync_items(2, 10).unwrap().is_empty());
        assert_eq!(store.sync_item_version("combo", "team").unwrap(), 2);

        // One lease holder at a time per account.
        assert!(store.take_sync_lease("qw/shared", &laptop, 45_000).unwrap());
        assert!(
            !store
                .take_sync_lease("qw/shared", &desktop, 45_000)
                .unwrap()
        );
        store.end_sync_lease("qw/shared", &laptop).unwrap();
        assert!(
            store
                .take_sync_lease("qw/shared", &desktop, 45_000)
                .unwrap()
        );

        // Usage summaries add up per device; a revoked device is refused.
        store
            .set_sync_usage(
                &desktop,
                &[DailyUsage {
                    day: 20_000,
                    model: "m".into(),
                    requests: 3,
                    prompt_tokens: 30,
                    completion_tokens: 3,
                    cost_usd: 0.25,
                }],
            )
            .unwrap();
        assert_eq!(store.revoke_sync_device("desktop").unwrap(), desktop);
        assert!(matches!(
            store.sync_device_by_token(&desktop_token),
            Err(StoreError::NotFound(_))
        ));
        let devices = store.list_sync_devices().unwrap();
        let listed = devices.iter().find(|d| d.id == desktop).unwrap();
        assert_eq!((listed.requests, listed.revoked_at.is_some()), (3, true));
        assert!(store.sync_device_by_token("syd-unknown").unwrap().is_none());
    }
}
