//! The JSON shapes of the hub's API (`/sync/v1/...`).

use serde::{Deserialize, Serialize};
use switchyard_store::DailyUsage;

/// Base path of the hub's API.
pub const BASE_PATH: &str = "/sync/v1";

/// Most records in one push or one pull.
pub const MAX_ITEMS: usize = 500;

/// Most bytes of one record's body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// `GET /sync/v1/space`: what a device needs before linking.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpaceAnswer {
    /// The space's id.
    pub space_id: String,
    /// End-to-end mode's salt and check value, if the space is end-to-end.
    pub e2e: Option<E2eParameters>,
    /// Whether it holds no record yet.
    pub empty: bool,
}

/// A space's end-to-end parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2eParameters {
    /// The passphrase's salt (base64).
    pub salt: String,
    /// A known text sealed with the derived key.
    pub check: String,
}

/// `POST /sync/v1/link`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LinkRequest {
    /// The one-time pairing code.
    pub code: String,
    /// The device's name.
    pub name: String,
    /// End-to-end mode: the parameters (made by the first device).
    pub e2e: Option<E2eParameters>,
}

/// The answer to a link.
#[derive(Clone, Serialize, Deserialize)]
pub struct LinkAnswer {
    /// The device's id.
    pub device_id: String,
    /// The device's credential (`syd-…`), shown once.
    pub token: String,
    /// The space's id.
    pub space_id: String,
}

/// One record as pushed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushItem {
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The hub version the change is based on (0: new here).
    pub base: i64,
    /// The body (JSON text, or end-to-end ciphertext); `None`: deleted.
    pub body: Option<String>,
}

/// `POST /sync/v1/push`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest {
    /// Random, once per push: a replay is refused.
    pub request_id: String,
    /// The records.
    pub items: Vec<PushItem>,
}

/// One record's outcome, in the push's order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushResult {
    /// Whether it was taken.
    pub accepted: bool,
    /// Its version now (the new one, or the hub's).
    pub version: i64,
    /// When not taken: the hub's body, which stands.
    pub body: Option<String>,
    /// When not taken: the device that wrote the hub's version.
    pub device: Option<String>,
}

/// The answer to a push.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushAnswer {
    /// The space's id.
    pub space_id: String,
    /// One per pushed record.
    pub results: Vec<PushResult>,
}

/// One record as pulled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullItem {
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: i64,
    /// Its body; `None`: deleted.
    pub body: Option<String>,
    /// The device that wrote it.
    pub device: String,
}

/// `GET /sync/v1/pull?since=N&wait=S`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullAnswer {
    /// The space's id.
    pub space_id: String,
    /// The hub's newest version.
    pub version: i64,
    /// Records newer than `since`, oldest first.
    pub items: Vec<PullItem>,
    /// Whether more are waiting (pull again at once).
    pub more: bool,
    /// The newest conflict's id.
    pub newest_conflict: i64,
    /// Conflicts not yet resolved.
    pub open_conflicts: i64,
}

/// `POST /sync/v1/conflicts`: the device's edit lost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConflictReport {
    /// The record's kind.
    pub kind: String,
    /// The record's name.
    pub name: String,
    /// The version that won.
    pub winner_version: i64,
    /// The losing value (as pushed), kept for restore.
    pub loser_body: Option<String>,
}

/// One conflict as the hub lists it (`GET /sync/v1/conflicts`): the
/// store's record of it, the losing value opened (ciphertext end to end).
pub type ConflictItem = switchyard_store::SyncConflict;

/// `POST /sync/v1/lease`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// The account (`prefix/label`).
    pub subject: String,
    /// `true` gives the lease back.
    #[serde(default)]
    pub end: bool,
}

/// The answer to a lease request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseAnswer {
    /// Whether this device holds the lease now.
    pub granted: bool,
    /// The hub's version of the account's record (a device behind it
    /// waits for the newer tokens instead of refreshing).
    pub version: i64,
}

/// `POST /sync/v1/usage`: a device's usage summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageReport {
    /// Per UTC day and model.
    pub rows: Vec<DailyUsage>,
}

/// An error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorAnswer {
    /// The error.
    pub error: ErrorBody,
}

/// An error's code and message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable: `unauthorized`, `device_revoked`, `bad_code`,
    /// `replayed`, `invalid`, `too_many_attempts`, `mode_mismatch`.
    pub code: String,
    /// For people.
    pub message: String,
}
