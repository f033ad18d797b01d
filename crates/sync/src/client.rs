//! A device's side of sync: linking to a hub, and the background task that
//! keeps this device and the hub in step.
//!
//! Each round pushes what changed here since the hub and this device last
//! agreed (a record whose content hash differs from the one recorded in
//! `sync_seen`), then long-polls the hub for others' changes; a local
//! change ends the wait early, so changes travel in well under a second
//! while both sides are online. An offline hub is retried with back-off;
//! routing never waits for sync.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use switchyard_store::{RecordKey, RecordKind, Store, SyncLink, now_millis, record_hash};
use tokio::sync::broadcast;

use crate::crypto::SyncKey;
use crate::wire::{
    BASE_PATH, ConflictItem, ConflictReport, E2eParameters, ErrorAnswer, LeaseAnswer, LeaseRequest,
    LinkAnswer, LinkRequest, MAX_BODY_BYTES, PullAnswer, PushAnswer, PushItem, PushRequest,
    PushResult, SpaceAnswer, UsageReport,
};
use crate::{SyncError, setting_is_shared};

/// Records in one push.
const PUSH_CHUNK: usize = 200;

/// Bytes of records in one push (the hub takes 16 MiB).
const PUSH_BYTES: usize = 8 * 1024 * 1024;

/// How long a pull waits at the hub for news.
const PULL_WAIT_SECS: u64 = 20;

/// How often a local change is looked for while a pull waits.
const LOCAL_LOOK: Duration = Duration::from_millis(250);

/// How often the usage summary goes to the hub.
const USAGE_EVERY: Duration = Duration::from_secs(60);

/// After a record failed to apply, when everything is pulled again.
const FULL_PULL_AFTER_FAILURE: Duration = Duration::from_secs(300);

/// Least time between two looks at what changed here (each reads the
/// whole configuration).
const PENDING_LOOK: Duration = Duration::from_secs(1);

/// Longest wait between attempts while the hub is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What linking needs.
#[derive(Clone)]
pub struct LinkOptions {
    /// The hub's address, such as `https://hub.example:20128`.
    pub hub_url: String,
    /// The one-time pairing code the hub showed.
    pub code: String,
    /// This device's name at the hub.
    pub device_name: String,
    /// End-to-end mode's passphrase.
    pub passphrase: Option<String>,
    /// Allow `http://` to a hub that is not on this machine (no TLS).
    pub allow_http: bool,
}

impl std::fmt::Debug for LinkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkOptions")
            .field("hub_url", &self.hub_url)
            .field("device_name", &self.device_name)
            .field("e2e", &self.passphrase.is_some())
            .finish_non_exhaustive()
    }
}

/// This device's sync state, as the tray, the dashboard and `sync status` show it.
pub type SyncStatus = switchyard_api_types::SyncDeviceStatus;

fn status_of(link: Option<&SyncLink>) -> SyncStatus {
    match link {
        None => SyncStatus {
            linked: false,
            hub_url: None,
            device_id: None,
            device_name: None,
            state: "unlinked".into(),
            last_sync_at: None,
            last_error: None,
            open_conflicts: 0,
            e2e: false,
        },
        Some(link) => SyncStatus {
            linked: true,
            hub_url: Some(link.hub_url.clone()),
            device_id: Some(link.device_id.clone()),
            device_name: Some(link.device_name.clone()),
            state: link.state.clone(),
            last_sync_at: link.last_sync_at,
            last_error: link.last_error.clone(),
            open_conflicts: link.open_conflicts,
            e2e: link.e2e_key.is_some(),
        },
    }
}

/// What the background task tells the shell (tray, notifications, browsers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// The state or the configuration changed (records applied).
    Changed,
    /// New conflicts were recorded; `open` are unresolved.
    Conflict {
        /// Unresolved conflicts.
        open: i64,
    },
    /// The hub revoked this device.
    Revoked,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoundReport {
    /// Records pushed and taken.
    pub pushed: usize,
    /// Records pulled and applied.
    pub applied: usize,
    /// Concurrent edits this device lost (reported to the hub).
    pub conflicts: usize,
}

/// A device's sync: its own database connection, an HTTP client, and
/// events for whoever shows the state.
pub struct SyncClient {
    store: Mutex<Store>,
    http: reqwest::Client,
    /// One push or apply at a time (the background task, `sync now`, a
    /// restore).
    cycle: tokio::sync::Mutex<()>,
    events: broadcast::Sender<SyncEvent>,
    usage_sent: Mutex<Option<Instant>>,
    /// A record failed to apply: pull everything again at this time.
    full_pull_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient").finish_non_exhaustive()
    }
}

impl SyncClient {
    /// The sync of the installation in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Arc<Self>, SyncError> {
        let http = switchyard_providers::tls::http_client()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("switchyard-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| SyncError::Protocol(format!("cannot make an HTTP client: {error}")))?;
        Ok(Arc::new(Self {
            store: Mutex::new(Store::open_in_dir(data_dir)?),
            http,
            cycle: tokio::sync::Mutex::new(()),
            events: broadcast::channel(64).0,
            usage_sent: Mutex::new(None),
            full_pull_at: Mutex::new(None),
        }))
    }

    /// Events from the background task.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.subscribe()
    }

    fn read<T>(
        &self,
        run: impl FnOnce(&Store) -> Result<T, switchyard_store::StoreError>,
    ) -> Result<T, SyncError> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        Ok(run(&store)?)
    }

    fn emit(&self, event: SyncEvent) {
        let _ = self.events.send(event);
    }

    /// This device's sync state.
    pub fn status(&self) -> Result<SyncStatus, SyncError> {
        let link = self.read(Store::sync_link)?;
        Ok(status_of(link.as_ref()))
    }

    /// Links this device to a hub with a pairing code (replacing any
    /// link). With a passphrase the records are sealed end to end: the
    /// first device to link sets the passphrase up, later ones must give
    /// the same.
    pub async fn link(&self, options: LinkOptions) -> Result<SyncStatus, SyncError> {
        let hub_url = hub_url(&options.hub_url, options.allow_http)?;
        let device_name = options.device_name.trim().to_owned();
        let code = options.code.trim().to_owned();
        let space_path = format!(
            "space?code={}",
            url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()
        );
        let space: SpaceAnswer = self
            .request(
                &hub_url,
                None,
                reqwest::Method::GET,
                &space_path,
                None::<&()>,
                15,
            )
            .await?;
        let (e2e, key) = match (&space.e2e, &options.passphrase) {
            (Some(parameters), Some(passphrase)) => {
                let key = SyncKey::derive(passphrase, &parameters.salt)?;
                if !key.verifies(&parameters.check) {
                    return Err(SyncError::Refused(
                        "this is not the hub's sync passphrase".into(),
                    ));
                }
                (Some(parameters.clone()), Some(key))
            }
            (Some(_), None) => {
                return Err(SyncError::Refused(
                    "this hub's sync is end-to-end encrypted: link with its passphrase".into(),
                ));
            }
            (None, Some(passphrase)) => {
                if !space.empty {
                    return Err(SyncError::Refused(
                        "this hub already syncs without end-to-end encryption; link without a passphrase"
                            .into(),
                    ));
                }
                let salt = SyncKey::new_salt();
                let key = SyncKey::derive(passphrase, &salt)?;
                let check = key.check_value();
                (Some(E2eParameters { salt, check }), Some(key))
            }
            (None, None) => (None, None),
        };
        let request = LinkRequest {
            code,
            name: device_name.clone(),
            e2e,
        };
        let answer: LinkAnswer = self
            .request(
                &hub_url,
                None,
                reqwest::Method::POST,
                "link",
                Some(&request),
                15,
            )
            .await?;
        let link = SyncLink {
            hub_url,
            space_id: answer.space_id,
            device_id: answer.device_id,
            device_name,
            token: answer.token,
            e2e_key: key.map(|key| key.to_base64()),
            cursor: 0,
            linked_at: now_millis(),
            last_sync_at: None,
            state: "syncing".into(),
            last_error: None,
            conflicts_seen: 0,
            open_conflicts: 0,
        };
        let _cycle = self.cycle.lock().await;
        self.read(|store| store.set_sync_link(&link))?;
        self.emit(SyncEvent::Changed);
        self.status()
    }

    /// Ends the link (the hub forgets this device's credential); the
    /// configuration stays as it is. Whether there was a link.
    pub async fn unlink(&self) -> Result<bool, SyncError> {
        let Some(link) = self.read(Store::sync_link)? else {
            return Ok(false);
        };
        let told: Result<Value, _> = self
            .device_request(&link, reqwest::Method::DELETE, "device", None::<&()>, 10)
            .await;
        if let Err(error) = told {
            tracing::warn!(%error, "sync: the hub was not told of the unlink");
        }
        let _cycle = self.cycle.lock().await;
        let removed = self.read(Store::remove_sync_link)?;
        self.emit(SyncEvent::Changed);
        Ok(removed)
    }

    /// Keeps this device in step with its hub until the process ends
    /// (idle while it is not linked).
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let client = Arc::clone(self);
        tokio::spawn(async move { client.run().await })
    }

    async fn run(&self) {
        let mut backoff = Duration::from_secs(1);
        // Each start pulls everything once (records that failed to apply
        // before are tried again; those already here are skipped).
        *self.full_pull_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        loop {
            let link = match self.read(Store::sync_link) {
                Ok(Some(link)) if link.state != "revoked" => link,
                Ok(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, "sync: cannot read the link");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            match self.round(&link, true).await {
                Ok(_) => backoff = Duration::from_secs(1),
                Err(SyncError::Revoked) => {
                    tracing::warn!("sync: this device was revoked by the hub");
                    let _ = self.read(|store| {
                        store.set_sync_state("revoked", Some(&SyncError::Revoked.to_string()), None)
                    });
                    self.emit(SyncEvent::Revoked);
                    self.emit(SyncEvent::Changed);
                }
                Err(error) => {
                    let state = match &error {
                        SyncError::Offline(_) => "offline",
                        _ => "error",
                    };
                    if link.state != state || link.last_error.as_deref() != Some(&error.to_string())
                    {
                        tracing::warn!(%error, "sync: round failed; trying again");
                        let _ = self.read(|store| {
                            store.set_sync_state(state, Some(&error.to_string()), None)
                        });
                        self.emit(SyncEvent::Changed);
                    }
                    let wait = if matches!(error, SyncError::HubReset) {
                        MAX_BACKOFF
                    } else {
                        backoff
                    };
                    let jitter = Duration::from_millis(rand::random::<u64>() % 500);
                    tokio::time::sleep(wait + jitter).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One round now, without waiting for news: `sync now`.
    pub async fn sync_now(&self) -> Result<RoundReport, SyncError> {
        let link = self
            .read(Store::sync_link)?
            .ok_or_else(|| SyncError::Refused("this device is not linked to a sync hub".into()))?;
        match self.round(&link, false).await {
            Err(SyncError::Revoked) => {
                let _ = self.read(|store| {
                    store.set_sync_state("revoked", Some(&SyncError::Revoked.to_string()), None)
                });
                Err(SyncError::Revoked)
            }
            other => other,
        }
    }

    /// Pushes local changes, then pulls the hub's (with `wait`, waiting
    /// for news until a local change).
    async fn round(&self, link: &SyncLink, wait: bool) -> Result<RoundReport, SyncError> {
        let mut report = self.push(link).await?;
        let full = {
            let mut at = self.full_pull_at.lock().unwrap_or_else(|p| p.into_inner());
            let due = at.is_some_and(|at| at <= Instant::now());
            if due {
                *at = None;
            }
            due
        };
        if full {
            self.read(|store| store.set_sync_cursor(0))?;
        }
        loop {
            let cursor = self.read(Store::sync_link)?.map_or(0, |link| link.cursor);
            let waiting = wait && report.pushed == 0 && report.applied == 0;
            let answer = if waiting {
                tokio::select! {
                    answer = self.pull(link, cursor, PULL_WAIT_SECS) => answer?,
                    () = self.local_change() => return Ok(report),
                }
            } else {
                self.pull(link, cursor, 0).await?
            };
            report.applied += self.apply_pull(link, cursor, &answer).await?;
            self.note_conflicts(answer.newest_conflict, answer.open_conflicts)?;
            let state = if answer.open_conflicts > 0 {
                "conflict"
            } else {
                "synced"
            };
            self.read(|store| store.set_sync_state(state, None, Some(now_millis())))?;
            if report.applied > 0 || link.state != state {
                self.emit(SyncEvent::Changed);
            }
            if !answer.more {
                break;
            }
        }
        self.send_usage(link).await;
        Ok(report)
    }

    /// Resolves when something here changed that the hub has not seen.
    async fn local_change(&self) {
        let version = || self.read(Store::data_version).ok();
        let mut seen = version();
        let mut looked = Instant::now();
        loop {
            tokio::time::sleep(LOCAL_LOOK).await;
            let now = version();
            // The usage writer changes the database with every request:
            // the configuration is read at most once a second for it.
            if now == seen || looked.elapsed() < PENDING_LOOK {
                continue;
            }
            seen = now;
            looked = Instant::now();
            let pending = self.read(|store| {
                let local = local_records(store)?;
                let agreed = store.sync_seen()?;
                Ok(!pending(&local, &agreed).is_empty())
            });
            if pending.unwrap_or(false) {
                return;
            }
        }
    }

    fn e2e_key(link: &SyncLink) -> Result<Option<SyncKey>, SyncError> {
        link.e2e_key
            .as_deref()
            .map(SyncKey::from_base64)
            .transpose()
    }

    /// Pushes what changed here; records that another device changed
    /// first take the hub's value, and real differences are reported as
    /// conflicts with this device's value kept at the hub.
    async fn push(&self, link: &SyncLink) -> Result<RoundReport, SyncError> {
        let _cycle = self.cycle.lock().await;
        let key = Self::e2e_key(link)?;
        let (local, agreed) = self.read(|store| Ok((local_records(store)?, store.sync_seen()?)))?;
        let mut report = RoundReport::default();
        let mut items = Vec::new();
        for record in pending(&local, &agreed) {
            let body = encode(key.as_ref(), &record, local.get(&record));
            if body
                .as_ref()
                .is_some_and(|body| body.len() > MAX_BODY_BYTES)
            {
                // Never blocks the others: this one stays here until smaller.
                tracing::warn!(%record, "sync: a record too large to sync stays on this device");
                continue;
            }
            let item = PushItem {
                kind: record.kind.as_str().into(),
                name: record.name.clone(),
                base: agreed.get(&record).map_or(0, |(version, _)| *version),
                body,
            };
            items.push((record, item));
        }
        while !items.is_empty() {
            // Batches of at most PUSH_CHUNK records and PUSH_BYTES bytes.
            let mut size = 0;
            let count = items
                .iter()
                .take(PUSH_CHUNK)
                .take_while(|(_, item)| {
                    size += item.body.as_ref().map_or(0, String::len) + item.name.len() + 64;
                    size <= PUSH_BYTES
                })
                .count()
                .max(1);
            let chunk: Vec<_> = items.drain(..count).collect();
            let request = PushRequest {
                request_id: hex_random(16),
                items: chunk.iter().map(|(_, item)| item.clone()).collect(),
            };
            let answer: PushAnswer = self
                .device_request(link, reqwest::Method::POST, "push", Some(&request), 30)
                .await?;
            if answer.space_id != link.space_id {
                return Err(SyncError::HubReset);
            }
            if answer.results.len() != chunk.len() {
                return Err(SyncError::Protocol(
                    "the hub answered a push with another count".into(),
                ));
            }
            for ((record, _), result) in chunk.iter().zip(answer.results) {
                let mine = local.get(record);
                if result.accepted {
                    self.read(|store| {
                        store.set_sync_seen(record, result.version, &record_hash(mine))
                    })?;
                    report.pushed += 1;
                    continue;
                }
                if self
                    .take_hub_value(link, key.as_ref(), record, mine, &agreed, &result)
                    .await?
                {
                    report.conflicts += 1;
                }
                report.applied += 1;
            }
        }
        if report.applied > 0 || report.conflicts > 0 {
            self.emit(SyncEvent::Changed);
        }
        Ok(report)
    }

    /// Another device's edit of `record` reached the hub first: its value
    /// stands here too (for an account, with the newer tokens of the two);
    /// if this device's edit is lost by it, the conflict is reported first,
    /// with this device's value kept at the hub. Whether it was a conflict.
    async fn take_hub_value(
        &self,
        link: &SyncLink,
        key: Option<&SyncKey>,
        record: &RecordKey,
        mine: Option<&Value>,
        agreed: &BTreeMap<RecordKey, (i64, String)>,
        result: &PushResult,
    ) -> Result<bool, SyncError> {
        let winner = match decode(key, record, result.body.as_deref()) {
            Ok(winner) => winner,
            Err(error) => {
                tracing::warn!(%error, %record, "sync: the hub's value does not open");
                return Ok(false);
            }
        };
        // Changed here again while the push was under way: the next round.
        let now_here = self.read(|store| Ok(local_records(store)?.remove(record)))?;
        if record_hash(now_here.as_ref()) != record_hash(mine) {
            return Ok(false);
        }
        let merged = match (record.kind, &winner, mine) {
            (RecordKind::Account, Some(winner), Some(mine)) => Some(merge_account(winner, mine)),
            _ => None,
        };
        let target = merged.as_ref().or(winner.as_ref());
        let conflict = !same_edit(record.kind, target, mine);
        if conflict {
            let report = ConflictReport {
                kind: record.kind.as_str().into(),
                name: record.name.clone(),
                winner_version: result.version,
                loser_body: encode(key, record, mine),
            };
            let _: Value = self
                .device_request(link, reqwest::Method::POST, "conflicts", Some(&report), 15)
                .await?;
            tracing::warn!(%record, winner = ?result.device, "sync: concurrent edit; the hub's value stands, this device's is kept for restore");
        }
        let applied = self.read(|store| {
            store.apply_sync_record(record, winner.as_ref())?;
            let after = local_records(store)?;
            store.set_sync_seen(record, result.version, &record_hash(after.get(record)))?;
            if let Some(merged) = &merged {
                store.apply_sync_record(record, Some(merged))?;
            }
            Ok(())
        });
        if let Err(error) = applied {
            // It cannot stand here (its provider is gone, say): this
            // device's value goes out again, against the hub's version.
            tracing::warn!(%error, %record, "sync: cannot take the hub's value; pushing this device's again");
            let hash = agreed
                .get(record)
                .map_or_else(|| "-".to_owned(), |(_, hash)| hash.clone());
            self.read(|store| store.set_sync_seen(record, result.version, &hash))?;
        }
        Ok(conflict)
    }

    async fn pull(&self, link: &SyncLink, since: i64, wait: u64) -> Result<PullAnswer, SyncError> {
        let (conflicts, open) = self
            .read(Store::sync_link)?
            .map_or((0, 0), |link| (link.conflicts_seen, link.open_conflicts));
        let path = format!("pull?since={since}&wait={wait}&conflicts={conflicts}&open={open}");
        let answer: PullAnswer = self
            .device_request(link, reqwest::Method::GET, &path, None::<&()>, wait + 15)
            .await?;
        if answer.space_id != link.space_id || answer.version < since {
            return Err(SyncError::HubReset);
        }
        Ok(answer)
    }

    /// Applies pulled records this device has not changed meanwhile (its
    /// own changes go out with the next push and meet the hub's there).
    async fn apply_pull(
        &self,
        link: &SyncLink,
        since: i64,
        answer: &PullAnswer,
    ) -> Result<usize, SyncError> {
        let _cycle = self.cycle.lock().await;
        let key = Self::e2e_key(link)?;
        let (local, agreed) = self.read(|store| Ok((local_records(store)?, store.sync_seen()?)))?;
        let mut items: Vec<_> = answer
            .items
            .iter()
            .filter_map(|item| {
                let kind = RecordKind::parse(&item.kind)?;
                Some((RecordKey::new(kind, item.name.clone()), item))
            })
            .collect();
        // Parents first (a provider before its accounts), removals before
        // additions (a prefix moved frees its name first), then in order.
        items.sort_by_key(|(record, item)| (record.kind, item.body.is_some(), item.version));
        let changed_here = |record: &RecordKey| {
            let mine = record_hash(local.get(record));
            match agreed.get(record) {
                Some((_, hash)) => *hash != mine,
                None => local.contains_key(record),
            }
        };
        let mut applied = Vec::new();
        let mut failed = false;
        for (record, item) in items {
            if agreed
                .get(&record)
                .is_some_and(|(version, _)| *version >= item.version)
            {
                continue;
            }
            if record.kind == RecordKind::Setting && !setting_is_shared(&record.name) {
                continue;
            }
            if changed_here(&record) {
                continue;
            }
            // A provider removed elsewhere stays while accounts of it
            // changed here are on their way to the hub.
            if record.kind == RecordKind::Provider && item.body.is_none() {
                let prefix = format!("{}/", record.name);
                let accounts_changed = local.keys().chain(agreed.keys()).any(|other| {
                    other.kind == RecordKind::Account
                        && other.name.starts_with(&prefix)
                        && changed_here(other)
                });
                if accounts_changed {
                    continue;
                }
            }
            let outcome = decode(key.as_ref(), &record, item.body.as_deref()).and_then(|body| {
                self.read(|store| store.apply_sync_record(&record, body.as_ref()))
            });
            match outcome {
                Ok(()) => applied.push((record, item.version)),
                Err(error) => {
                    tracing::warn!(%error, %record, "sync: a record from the hub was not applied; retrying later");
                    failed = true;
                }
            }
        }
        if failed {
            *self.full_pull_at.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Instant::now() + FULL_PULL_AFTER_FAILURE);
        }
        let newest = answer
            .items
            .iter()
            .map(|item| item.version)
            .max()
            .unwrap_or(since)
            .max(since);
        self.read(|store| {
            if !applied.is_empty() {
                let after = local_records(store)?;
                for (record, version) in &applied {
                    store.set_sync_seen(record, *version, &record_hash(after.get(record)))?;
                }
            }
            store.set_sync_cursor(newest)
        })?;
        if !applied.is_empty() {
            tracing::info!(
                records = applied.len(),
                "sync: applied changes from the hub"
            );
        }
        Ok(applied.len())
    }

    fn note_conflicts(&self, newest: i64, open: i64) -> Result<(), SyncError> {
        let link = self.read(Store::sync_link)?;
        let Some(link) = link else { return Ok(()) };
        if link.conflicts_seen == newest && link.open_conflicts == open {
            return Ok(());
        }
        self.read(|store| store.set_sync_conflicts(newest, open))?;
        if newest > link.conflicts_seen {
            self.emit(SyncEvent::Conflict { open });
        }
        Ok(())
    }

    async fn send_usage(&self, link: &SyncLink) {
        {
            let sent = self.usage_sent.lock().unwrap_or_else(|p| p.into_inner());
            if sent.is_some_and(|at| at.elapsed() < USAGE_EVERY) {
                return;
            }
        }
        *self.usage_sent.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let since = (now_millis() / 86_400_000 - 1) * 86_400_000;
        let rows = match self.read(|store| store.daily_usage_since(since)) {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "sync: cannot read usage for the hub");
                return;
            }
        };
        let sent: Result<Value, _> = self
            .device_request(
                link,
                reqwest::Method::POST,
                "usage",
                Some(&UsageReport { rows }),
                15,
            )
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "sync: usage summary not sent");
        }
    }

    /// The hub's conflicts, newest first, with the kept values opened.
    pub async fn conflicts(&self) -> Result<Vec<ConflictItem>, SyncError> {
        let link = self.linked()?;
        let key = Self::e2e_key(&link)?;
        let mut conflicts: Vec<ConflictItem> = self
            .device_request(&link, reqwest::Method::GET, "conflicts", None::<&()>, 15)
            .await?;
        for conflict in &mut conflicts {
            if let (Some(key), Some(kind)) = (&key, RecordKind::parse(&conflict.kind)) {
                let record = RecordKey::new(kind, conflict.name.clone());
                conflict.loser_body = decode(Some(key), &record, conflict.loser_body.as_deref())
                    .ok()
                    .flatten()
                    .map(|body| body.to_string());
            }
        }
        Ok(conflicts)
    }

    /// Puts back the value that lost conflict `id` (it then syncs to
    /// every device as a new edit) and marks the conflict resolved.
    pub async fn restore(&self, id: i64) -> Result<RecordKey, SyncError> {
        let link = self.linked()?;
        let key = Self::e2e_key(&link)?;
        let conflicts: Vec<ConflictItem> = self
            .device_request(&link, reqwest::Method::GET, "conflicts", None::<&()>, 15)
            .await?;
        let conflict = conflicts
            .into_iter()
            .find(|conflict| conflict.id == id)
            .ok_or_else(|| SyncError::Refused(format!("the hub has no conflict {id}")))?;
        let kind = RecordKind::parse(&conflict.kind).ok_or_else(|| {
            SyncError::Protocol(format!("unknown record kind {:?}", conflict.kind))
        })?;
        let record = RecordKey::new(kind, conflict.name.clone());
        let kept = decode(key.as_ref(), &record, conflict.loser_body.as_deref())?;
        {
            let _cycle = self.cycle.lock().await;
            self.read(|store| {
                // An account keeps the newer tokens it has now.
                let current = local_records(store)?.remove(&record);
                let body = match (record.kind, &kept, &current) {
                    (RecordKind::Account, Some(kept), Some(current)) => {
                        Some(merge_account(kept, current))
                    }
                    _ => kept.clone(),
                };
                store.apply_sync_record(&record, body.as_ref())
            })?;
        }
        let _: Value = self
            .device_request(
                &link,
                reqwest::Method::POST,
                &format!("conflicts/{id}/resolve"),
                None::<&()>,
                15,
            )
            .await?;
        self.emit(SyncEvent::Changed);
        Ok(record)
    }

    /// Asks the hub for the turn to refresh `subject`'s tokens: granted
    /// only when this device already has the hub's newest tokens.
    pub(crate) async fn take_lease(&self, subject: &str) -> Result<bool, SyncError> {
        let link = self.linked()?;
        let request = LeaseRequest {
            subject: subject.to_owned(),
            end: false,
        };
        let answer: LeaseAnswer = self
            .device_request(&link, reqwest::Method::POST, "lease", Some(&request), 5)
            .await?;
        if !answer.granted {
            return Ok(false);
        }
        let record = RecordKey::new(RecordKind::Account, subject);
        let here = self
            .read(Store::sync_seen)?
            .get(&record)
            .map_or(0, |(version, _)| *version);
        if answer.version > here {
            // Newer tokens are on their way here: wait for them (the turn
            // runs out by itself if it cannot be given back now).
            if let Err(error) = self.end_lease(subject).await {
                tracing::debug!(%error, subject, "sync: lease not given back");
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// Pushes what changed here now (new tokens, before the turn passes on).
    pub(crate) async fn push_now(&self) -> Result<(), SyncError> {
        let link = self.linked()?;
        self.push(&link).await.map(|_| ())
    }

    /// Gives the turn back.
    pub(crate) async fn end_lease(&self, subject: &str) -> Result<(), SyncError> {
        let link = self.linked()?;
        let request = LeaseRequest {
            subject: subject.to_owned(),
            end: true,
        };
        let _: LeaseAnswer = self
            .device_request(&link, reqwest::Method::POST, "lease", Some(&request), 5)
            .await?;
        Ok(())
    }

    /// The link, when there is a working one.
    pub(crate) fn linked(&self) -> Result<SyncLink, SyncError> {
        match self.read(Store::sync_link)? {
            None => Err(SyncError::Refused(
                "this device is not linked to a sync hub".into(),
            )),
            Some(link) if link.state == "revoked" => Err(SyncError::Revoked),
            Some(link) => Ok(link),
        }
    }

    async fn device_request<T: DeserializeOwned>(
        &self,
        link: &SyncLink,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
        timeout_secs: u64,
    ) -> Result<T, SyncError> {
        self.request(
            &link.hub_url,
            Some(&link.token),
            method,
            path,
            body,
            timeout_secs,
        )
        .await
    }

    async fn request<T: DeserializeOwned>(
        &self,
        hub_url: &str,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
        timeout_secs: u64,
    ) -> Result<T, SyncError> {
        let mut request = self
            .http
            .request(method, format!("{hub_url}{BASE_PATH}/{path}"))
            .timeout(Duration::from_secs(timeout_secs));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| SyncError::Offline(describe(&error)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| SyncError::Offline(describe(&error)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|error| {
                SyncError::Protocol(format!("the hub's answer to {path} does not fit: {error}"))
            });
        }
        let error: Option<ErrorAnswer> = serde_json::from_slice(&bytes).ok();
        let (code, message) = error.map_or_else(
            || (String::new(), format!("the hub answered {status}")),
            |answer| (answer.error.code, answer.error.message),
        );
        Err(match (status.as_u16(), code.as_str()) {
            (401, "device_revoked" | "unauthorized") if token.is_some() => SyncError::Revoked,
            (500..=599, _) | (429, _) => SyncError::Offline(message),
            _ => SyncError::Refused(message),
        })
    }
}

/// Every record that syncs from here: the store's, without the settings
/// that stay on this machine.
fn local_records(
    store: &Store,
) -> Result<BTreeMap<RecordKey, Value>, switchyard_store::StoreError> {
    let mut records = store.sync_records()?;
    records
        .retain(|record, _| record.kind != RecordKind::Setting || setting_is_shared(&record.name));
    Ok(records)
}

/// Records whose content here differs from what this device and the hub
/// last agreed on (new, changed or removed here).
fn pending(
    local: &BTreeMap<RecordKey, Value>,
    agreed: &BTreeMap<RecordKey, (i64, String)>,
) -> Vec<RecordKey> {
    let mut keys: Vec<&RecordKey> = local.keys().chain(agreed.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|record| {
            if record.kind == RecordKind::Setting && !setting_is_shared(&record.name) {
                return false;
            }
            let hash = record_hash(local.get(*record));
            match agreed.get(*record) {
                Some((_, agreed)) => *agreed != hash,
                None => local.contains_key(*record),
            }
        })
        .cloned()
        .collect()
}

/// The hub's value of an account with the newer tokens of the two (by
/// expiry) and the facts either side learned (the hub's first).
fn merge_account(winner: &Value, mine: &Value) -> Value {
    let mut merged = winner.clone();
    let expiry = |value: &Value| {
        value
            .pointer("/secrets/expires_at")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MIN)
    };
    if expiry(mine) > expiry(winner)
        && let Some(secrets) = mine.get("secrets")
    {
        merged["secrets"] = secrets.clone();
    }
    if let (Some(learned), Some(Value::Object(facts))) = (
        mine.get("meta").and_then(Value::as_object),
        merged.get_mut("meta"),
    ) {
        for (name, value) in learned {
            facts.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    merged
}

/// Whether this device's edit survived in `now_here` (for an account,
/// tokens aside: the newer ones win by rule, no one's edit is lost).
fn same_edit(kind: RecordKind, now_here: Option<&Value>, mine: Option<&Value>) -> bool {
    let without_tokens = |value: Option<&Value>| {
        value.cloned().map(|mut value| {
            if kind == RecordKind::Account
                && let Some(object) = value.as_object_mut()
            {
                object.remove("secrets");
            }
            value
        })
    };
    record_hash(without_tokens(now_here).as_ref()) == record_hash(without_tokens(mine).as_ref())
}

/// A record's body as sent: JSON text, sealed in end-to-end mode.
fn encode(key: Option<&SyncKey>, record: &RecordKey, body: Option<&Value>) -> Option<String> {
    let text = body?.to_string();
    Some(match key {
        Some(key) => key.seal(record.kind.as_str(), &record.name, &text),
        None => text,
    })
}

/// A body as received, opened and parsed.
fn decode(
    key: Option<&SyncKey>,
    record: &RecordKey,
    body: Option<&str>,
) -> Result<Option<Value>, SyncError> {
    let Some(body) = body else { return Ok(None) };
    let text = match key {
        Some(key) => key.open(record.kind.as_str(), &record.name, body)?,
        None => body.to_owned(),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|_| SyncError::Protocol(format!("{record}: the hub's value is not JSON")))
}

/// The hub's address, checked: `https://`, or `http://` on this machine
/// (or when allowed).
fn hub_url(url: &str, allow_http: bool) -> Result<String, SyncError> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|error| {
        SyncError::Refused(format!("the hub's address {url:?} is not a URL: {error}"))
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback || allow_http => {}
        "http" => {
            return Err(SyncError::Refused(
                "the hub's address is http://: sync carries provider secrets, so use https:// (or pass --allow-http on a network you trust)".into(),
            ));
        }
        other => {
            return Err(SyncError::Refused(format!(
                "the hub's address has scheme {other:?}; use https://"
            )));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SyncError::Refused(
            "the hub's address carries no credentials; the pairing code is enough".into(),
        ));
    }
    let origin = parsed.origin().ascii_serialization();
    let path = parsed.path().trim_end_matches('/');
    Ok(format!("{origin}{path}"))
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            message = format!("{message}: {inner}");
            source = inner.source();
        }
        message
    }
}

fn hex_random(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_addresses_need_tls_off_this_machine() {
        assert_eq!(
            hub_url("https://hub.example:8443/", false).unwrap(),
            "https://hub.example:8443"
        );
        assert_eq!(
            hub_url("http://127.0.0.1:20128", false).unwrap(),
            "http://127.0.0.1:20128"
        );
        assert!(hub_url("http://hub.example", false).is_err());
        assert_eq!(hub_url("http://hub.lan", true).unwrap(), "http://hub.lan");
        assert!(hub_url("https://user:pw@hub.example", false).is_err());
        assert!(hub_url("ftp://hub.example", false).is_err());
    }

    #[test]
    fn pending_records_are_those_changed_since_the_hub_agreed() {
        let a = RecordKey::new(RecordKind::Combo, "a");
        let b = RecordKey::new(RecordKind::Combo, "b");
        let c = RecordKey::new(RecordKind::Combo, "c");
        let host = RecordKey::new(RecordKind::Setting, "host");
        let body = serde_json::json!({"name": "a"});
        let local = BTreeMap::from([
            (a.clone(), body.clone()),
            (b.clone(), serde_json::json!({"name": "b"})),
            (host.clone(), serde_json::json!({"value": "0.0.0.0"})),
        ]);
        let agreed = BTreeMap::from([
            (a.clone(), (3, record_hash(Some(&body)))),
            (c.clone(), (4, record_hash(Some(&body)))),
        ]);
        // a unchanged, b new, c removed here, host never syncs.
        assert_eq!(pending(&local, &agreed), vec![b, c]);
    }
}
