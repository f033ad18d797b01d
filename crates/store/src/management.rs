//! What serving the dashboard over HTTP keeps: the dashboard password (an
//! Argon2id hash made by the caller), browser sessions with their CSRF
//! tokens, one-time sign-in links, management tokens, and the record of
//! management calls. Session ids and tokens are random and stored as
//! SHA-256 hashes only, so the database never holds a usable credential.

use crate::db::{OptionalExtension, params};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::{Store, StoreError, StoreResult, now_millis};

/// Prefix of management tokens, so users and secret scanners recognise them.
pub const MANAGEMENT_TOKEN_PREFIX: &str = "sym-";

/// Management calls kept in the record (older ones are dropped).
const LOG_KEPT: i64 = 5000;

/// A browser session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSession {
    /// The token pages send in `X-CSRF-Token` with every change.
    pub csrf_token: String,
    /// Who signed in, for the record (`browser 203.0.113.5`).
    pub actor: String,
    /// When it ends (Unix ms).
    pub expires_at: i64,
    /// The member it belongs to; `None` for an administrator.
    pub member: Option<String>,
}

/// A person who signs in to the dashboard by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DashboardUser {
    /// Their name (unique).
    pub name: String,
    /// `admin` or `member`.
    pub role: String,
    /// When they were added (Unix ms).
    pub created_at: i64,
}

/// A management token as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementToken {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// When it was last used (Unix ms).
    pub last_used_at: Option<i64>,
}

/// One recorded management call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementEntry {
    /// When (Unix ms).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// The operation's name.
    pub operation: String,
    /// Its arguments, secrets taken out.
    pub detail: String,
    /// `ok` or the error's kind.
    pub outcome: String,
}

/// A random token with `prefix`: 256 bits, hex.
fn random_token(prefix: &str) -> String {
    let random: [u8; 32] = rand::rng().random();
    format!("{prefix}{}", hex::encode(random))
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// The dashboard password's Argon2id hash (PHC string), if one is set.
    pub fn dashboard_password_hash(&self) -> StoreResult<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT argon2_hash FROM dashboard_password WHERE id = 1",
                params![],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Stores a new dashboard password hash and ends every session and
    /// sign-in link (a changed password signs everybody out).
    pub fn set_dashboard_password_hash(&mut self, argon2_hash: &str) -> StoreResult<()> {
        let transaction = self.conn.transaction()?;
        transaction.execute(
            "INSERT INTO dashboard_password (id, argon2_hash, set_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET argon2_hash = excluded.argon2_hash, set_at = excluded.set_at",
            params![argon2_hash, now_millis()],
        )?;
        transaction.execute("DELETE FROM dashboard_sessions", params![])?;
        transaction.execute("DELETE FROM signin_links", params![])?;
        transaction.commit()?;
        Ok(())
    }

    /// Starts a session for `actor` lasting `lifetime_ms`; answers the
    /// session id (for the cookie) and its CSRF token.
    pub fn create_dashboard_session(
        &self,
        actor: &str,
        lifetime_ms: i64,
        member: Option<&str>,
    ) -> StoreResult<(String, String)> {
        let id = random_token("");
        let csrf = random_token("");
        let now = now_millis();
        self.conn.execute(
            "DELETE FROM dashboard_sessions WHERE expires_at <= ?1",
            params![now],
        )?;
        self.conn.execute(
            "INSERT INTO dashboard_sessions (id_hash, csrf_token, actor, created_at, expires_at, member)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![digest(&id), csrf, actor, now, now + lifetime_ms, member],
        )?;
        Ok((id, csrf))
    }

    /// The live session with id `id`, if any (expired ones are not).
    pub fn dashboard_session(&self, id: &str) -> StoreResult<Option<DashboardSession>> {
        Ok(self
            .conn
            .query_row(
                "SELECT csrf_token, actor, expires_at, member FROM dashboard_sessions
                 WHERE id_hash = ?1 AND expires_at > ?2",
                params![digest(id), now_millis()],
                |row| {
                    Ok(DashboardSession {
                        csrf_token: row.get(0)?,
                        actor: row.get(1)?,
                        expires_at: row.get(2)?,
                        member: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Adds (or replaces) dashboard user `name` with `role` (`admin` or
    /// `member`) and a password's Argon2id hash; ends their sessions.
    pub fn set_dashboard_user(&self, name: &str, role: &str, argon2_hash: &str) -> StoreResult<()> {
        if !matches!(role, "admin" | "member") {
            return Err(StoreError::Invalid(format!(
                "role {role:?}: use admin or member"
            )));
        }
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "a user name is 1 to 64 printable characters".into(),
            ));
        }
        let transaction = self.conn.transaction()?;
        transaction.execute(
            "INSERT INTO dashboard_users (name, argon2_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET argon2_hash = excluded.argon2_hash, role = excluded.role",
            params![name, argon2_hash, role, now_millis()],
        )?;
        transaction.execute(
            "DELETE FROM dashboard_sessions WHERE member = ?1 OR actor LIKE ?2",
            params![name, format!("user {name} %")],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Dashboard user `name`'s role and password hash.
    pub fn dashboard_user(&self, name: &str) -> StoreResult<Option<(String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT role, argon2_hash FROM dashboard_users WHERE name = ?1",
                params![name.trim()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// Every dashboard user, by name.
    pub fn list_dashboard_users(&self) -> StoreResult<Vec<DashboardUser>> {
        let rows = self.conn.query_rows(
            "SELECT name, role, created_at FROM dashboard_users ORDER BY name",
            params![],
        )?;
        rows.iter()
            .map(|row| {
                Ok(DashboardUser {
                    name: row.get(0)?,
                    role: row.get(1)?,
                    created_at: row.get(2)?,
                })
            })
            .collect()
    }

    /// Removes dashboard user `name` and ends their sessions.
    pub fn remove_dashboard_user(&self, name: &str) -> StoreResult<()> {
        let transaction = self.conn.transaction()?;
        let removed =
            transaction.execute("DELETE FROM dashboard_users WHERE name = ?1", params![name])?;
        if removed == 0 {
            return Err(StoreError::NotFound(format!("dashboard user {name:?}")));
        }
        transaction.execute(
            "DELETE FROM dashboard_sessions WHERE member = ?1 OR actor LIKE ?2",
            params![name, format!("user {name} %")],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Ends session `id` (logout).
    pub fn end_dashboard_session(&self, id: &str) -> StoreResult<()> {
        self.conn.execute(
            "DELETE FROM dashboard_sessions WHERE id_hash = ?1",
            params![digest(id)],
        )?;
        Ok(())
    }

    /// Makes a one-time sign-in link token valid for `lifetime_ms`,
    /// replacing any earlier one.
    pub fn create_signin_link(&self, lifetime_ms: i64) -> StoreResult<String> {
        let token = random_token("");
        self.conn.execute("DELETE FROM signin_links", params![])?;
        self.conn.execute(
            "INSERT INTO signin_links (token_hash, expires_at) VALUES (?1, ?2)",
            params![digest(&token), now_millis() + lifetime_ms],
        )?;
        Ok(token)
    }

    /// Uses up sign-in link `token`: true once, if it is valid.
    pub fn take_signin_link(&self, token: &str) -> StoreResult<bool> {
        let removed = self.conn.execute(
            "DELETE FROM signin_links WHERE token_hash = ?1 AND expires_at > ?2",
            params![digest(token), now_millis()],
        )?;
        Ok(removed == 1)
    }

    /// Makes a management token named `name`; answers its id and value.
    pub fn create_management_token(&self, name: &str) -> StoreResult<(i64, String)> {
        let token = random_token(MANAGEMENT_TOKEN_PREFIX);
        self.conn.execute(
            "INSERT INTO management_tokens (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
            params![name, digest(&token), now_millis()],
        )?;
        Ok((self.conn.last_insert_rowid()?, token))
    }

    /// Live management tokens, oldest first.
    pub fn list_management_tokens(&self) -> StoreResult<Vec<ManagementToken>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, name, created_at, last_used_at FROM management_tokens
             WHERE revoked_at IS NULL ORDER BY id",
        )?;
        let rows = statement.query_map(params![], |row| {
            Ok(ManagementToken {
                id: row.get(0)?,
                name: row.get(1)?,
                created_at: row.get(2)?,
                last_used_at: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes management token `id`.
    pub fn revoke_management_token(&self, id: i64) -> StoreResult<()> {
        let changed = self.conn.execute(
            "UPDATE management_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now_millis()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("management token {id}")));
        }
        Ok(())
    }

    /// The name of the live management token `token`, noting its use.
    pub fn check_management_token(&self, token: &str) -> StoreResult<Option<String>> {
        let hash = digest(token);
        let name: Option<String> = self
            .conn
            .query_row(
                "SELECT name FROM management_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
                params![hash],
                |row| row.get(0),
            )
            .optional()?;
        if name.is_some() {
            self.conn.execute(
                "UPDATE management_tokens SET last_used_at = ?2 WHERE token_hash = ?1",
                params![hash, now_millis()],
            )?;
        }
        Ok(name)
    }

    /// Makes a random token with `prefix`, keeps only its SHA-256 in the
    /// setting `setting` (replacing an earlier one) and answers the token.
    pub fn create_setting_token(&self, setting: &str, prefix: &str) -> StoreResult<String> {
        let token = random_token(prefix);
        self.set_setting(setting, &digest(&token))?;
        Ok(token)
    }

    /// Records a management call.
    pub fn record_management(&self, entry: &ManagementEntry) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO management_log (at, actor, operation, detail, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                entry.at,
                entry.actor,
                entry.operation,
                entry.detail,
                entry.outcome
            ],
        )?;
        self.conn.execute(
            "DELETE FROM management_log WHERE id <= (SELECT MAX(id) FROM management_log) - ?1",
            params![LOG_KEPT],
        )?;
        Ok(())
    }

    /// The newest `limit` recorded management calls, newest first.
    pub fn management_log(&self, limit: u32) -> StoreResult<Vec<ManagementEntry>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT at, actor, operation, detail, outcome FROM management_log
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map(params![limit], |row| {
            Ok(ManagementEntry {
                at: row.get(0)?,
                actor: row.get(1)?,
                operation: row.get(2)?,
                detail: row.get(3)?,
                outcome: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn sessions_expire_end_and_end_with_a_new_password() {
        let (_dir, mut store) = store();
        let (id, csrf) = store
            .create_dashboard_session("browser 1", 60_000, None)
            .unwrap();
        let session = store.dashboard_session(&id).unwrap().unwrap();
        assert_eq!(session.csrf_token, csrf);
        assert!(store.dashboard_session("forged").unwrap().is_none());
        let (expired, _) = store
            .create_dashboard_session("browser 2", -1, None)
            .unwrap();
        assert!(store.dashboard_session(&expired).unwrap().is_none());
        store.end_dashboard_session(&id).unwrap();
        assert!(store.dashboard_session(&id).unwrap().is_none());
        let (again, _) = store
            .create_dashboard_session("browser 1", 60_000, None)
            .unwrap();
        store.set_dashboard_password_hash("$argon2id$x").unwrap();
        assert!(store.dashboard_session(&again).unwrap().is_none());
        assert_eq!(
            store.dashboard_password_hash().unwrap().as_deref(),
            Some("$argon2id$x")
        );
    }

    #[test]
    fn signin_links_work_once() {
        let (_dir, store) = store();
        let token = store.create_signin_link(60_000).unwrap();
        assert!(!store.take_signin_link("other").unwrap());
        assert!(store.take_signin_link(&token).unwrap());
        assert!(!store.take_signin_link(&token).unwrap());
    }

    #[test]
    fn management_tokens_check_and_revoke() {
        let (_dir, store) = store();
        let (id, token) = store.create_management_token("ci").unwrap();
        assert!(token.starts_with(MANAGEMENT_TOKEN_PREFIX));
        assert_eq!(
            store.check_management_token(&token).unwrap().as_deref(),
            Some("ci")
        );
        assert!(
            store.list_management_tokens().unwrap()[0]
                .last_used_at
                .is_some()
        );
        store.revoke_management_token(id).unwrap();
        assert!(store.check_management_token(&token).unwrap().is_none());
        assert!(store.revoke_management_token(id).is_err());
    }
}
