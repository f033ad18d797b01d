//! Sync across a user's devices through a hub they own: a Switchyard in
//! server mode (`switchyard serve`) that keeps every synced record's newest
//! version, and devices (desktops, other servers) linked to it with a
//! one-time pairing code.
//!
//! - [`hub`] is the hub's API under `/sync/v1` (served beside `/v1`).
//! - [`client`] is a device's side: linking, and the background task that
//!   pushes local changes and long-polls the hub for others'.
//! - [`crypto`] is the end-to-end mode (a passphrase; the hub sees only
//!   ciphertext).
//! - [`HubLease`] makes the hub the one place that says who refreshes an
//!   account's tokens.
//!
//! Versions are the hub's counter, never a device's clock: a push names
//! the version its change is based on and is taken only if the record is
//! still at that version (compare-and-swap); otherwise the hub's record
//! stands on every device, and the device whose edit lost reports the
//! conflict with its value kept for restore.

pub mod client;
pub mod crypto;
pub mod hub;
mod lease;
pub mod wire;

pub use client::{LinkOptions, SyncClient, SyncEvent, SyncStatus};
pub use lease::HubLease;

/// Why sync could not do something. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The hub cannot be reached or did not answer in time.
    #[error("the sync hub cannot be reached: {0}")]
    Offline(String),
    /// The hub revoked this device.
    #[error("this device was revoked by the sync hub; link it again with a new pairing code")]
    Revoked,
    /// The hub refused what was asked (its message says why).
    #[error("{0}")]
    Refused(String),
    /// The hub's space is not the one this device linked to.
    #[error("the sync hub was reset (its data is not the one this device linked to); link again")]
    HubReset,
    /// An answer did not have the expected shape, or did not open.
    #[error("sync: {0}")]
    Protocol(String),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] switchyard_store::StoreError),
}

/// Whether the setting called `name` syncs (see `SettingKey::shared`).
pub fn setting_is_shared(name: &str) -> bool {
    switchyard_config::settings::SettingKey::parse(name).is_ok_and(|key| key.shared())
}
