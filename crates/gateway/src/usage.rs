//! Usage recording off the hot path: handlers queue a [`RequestRecord`] and a
//! dedicated thread writes batches to SQLite, so a slow disk never delays a
//! response. Cooldowns go the same way (routing already has them in its
//! snapshot), written as soon as they arrive. [`UsageRecorder::flush`] waits until everything queued is stored;
//! [`UsageRecorder::written`] tells watchers (the desktop's live log) each
//! time a batch lands.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::Duration;

use switchyard_store::{Cooldown, RequestRecord, Store};

use crate::commits::CommitWatch;

/// Largest number of records written in one transaction.
const MAX_BATCH: usize = 256;
/// How long the writer gathers records before writing them, so a busy gateway
/// writes a few transactions a second instead of one per request.
const GATHER_FOR: Duration = Duration::from_millis(100);

enum UsageMessage {
    Record(Box<RequestRecord>),
    Cooldown(CooldownChange),
    /// Write everything queued before this message, then answer.
    Flush(Sender<()>),
}

/// A cooldown to store or to end.
#[derive(Debug)]
pub(crate) enum CooldownChange {
    /// An account (or one of its models) cools down.
    Set(Cooldown),
    /// An account's (or model's) cooldown ended.
    End {
        /// The account.
        account_id: i64,
        /// The model, `""` for the whole account.
        model: String,
    },
}

/// Queue to the usage writer thread. Cheap to clone.
#[derive(Clone)]
pub struct UsageRecorder {
    queue: Sender<UsageMessage>,
    written: tokio::sync::watch::Receiver<u64>,
    /// Which commits the routing snapshot may ignore (the writer's own).
    commits: CommitWatch,
}

impl UsageRecorder {
    /// Starts the writer thread, which owns `store` (its own connection) and
    /// ends once every clone of the recorder is dropped.
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (queue, inbox) = mpsc::channel();
        let (count, written) = tokio::sync::watch::channel(0);
        let commits = CommitWatch::open(&store);
        let own_commits = commits.clone();
        std::thread::Builder::new()
            .name("switchyard-usage".into())
            .spawn(move || write_batches(store, inbox, count, own_commits))?;
        Ok(Self {
            queue,
            written,
            commits,
        })
    }

    /// The watch over the database's commits, shared with the routing snapshot.
    pub(crate) fn commits(&self) -> &CommitWatch {
        &self.commits
    }

    /// The number of records written so far, changing after each batch.
    pub fn written(&self) -> tokio::sync::watch::Receiver<u64> {
        self.written.clone()
    }

    /// Queues a record; never blocks.
    pub fn record(&self, record: RequestRecord) {
        let _ = self.queue.send(UsageMessage::Record(Box::new(record)));
    }

    /// Queues a cooldown change; never blocks. Written at once, before any
    /// later flush is answered.
    pub(crate) fn change_cooldown(&self, change: CooldownChange) {
        let _ = self.queue.send(UsageMessage::Cooldown(change));
    }

    /// Blocks until every record queued so far is written.
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        if self.queue.send(UsageMessage::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

fn write_batches(
    mut store: Store,
    inbox: Receiver<UsageMessage>,
    written: tokio::sync::watch::Sender<u64>,
    commits: CommitWatch,
) {
    let mut batch = Vec::new();
    let mut cooldowns = Vec::new();
    let mut waiting = Vec::new();
    let mut open = true;
    while open {
        // Block for the first message, then let more arrive without waking
        // up for each one: a request's `send` must not cost a context switch.
        let first = match inbox.recv() {
            Ok(first) => first,
            Err(_) => break,
        };
        let mut next = Some(first);
        let mut gathered = false;
        while let Some(message) = next.take() {
            match message {
                UsageMessage::Record(record) => batch.push(*record),
                UsageMessage::Cooldown(change) => cooldowns.push(change),
                // A flush is answered as soon as what came before it is written.
                UsageMessage::Flush(done) => waiting.push(done),
            }
            if !waiting.is_empty() || !cooldowns.is_empty() || batch.len() >= MAX_BATCH {
                break;
            }
            next = match inbox.try_recv() {
                Ok(message) => Some(message),
                Err(TryRecvError::Empty) if !gathered => {
                    gathered = true;
                    std::thread::sleep(GATHER_FOR);
                    inbox.try_recv().ok()
                }
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    None
                }
            };
        }
        if !batch.is_empty() {
            let before = commits.header();
            match store.record_requests(&batch) {
                Ok(()) => {
                    // Request records are no part of the routing snapshot.
                    commits.own_commit(before, commits.header());
                    written.send_modify(|count| *count += batch.len() as u64);
                }
                Err(error) => {
                    tracing::error!(%error, records = batch.len(), "cannot record usage");
                }
            }
            batch.clear();
        }
        for change in cooldowns.drain(..) {
            let before = commits.header();
            let written = match &change {
                CooldownChange::Set(cooldown) => store.set_cooldown(cooldown),
                CooldownChange::End { account_id, model } => {
                    store.clear_cooldown(*account_id, model)
                }
            };
            match written {
                // The routing snapshot already holds it.
                Ok(()) => commits.own_commit(before, commits.header()),
                Err(error) => tracing::error!(%error, ?change, "cannot store a cooldown"),
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
