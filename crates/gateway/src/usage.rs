//! Usage recording off the hot path: handlers queue a [`RequestRecord`] and a
//! dedicated thread writes batches to the database, so a slow disk never
//! delays a response. While PostgreSQL cannot be reached the records wait
//! in memory (at most [`MAX_QUEUED_RECORDS`]) and are written when it is back. Cooldowns go the same way (routing already has them in its
//! snapshot), written as soon as they arrive. [`UsageRecorder::flush`] waits until everything queued is stored;
//! [`UsageRecorder::written`] tells watchers (the desktop's live log) each
//! time a batch lands.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::Duration;

use switchyard_store::{Cooldown, RequestRecord, Store};

use crate::commits::CommitWatch;

/// Largest number of records written in one transaction.
const MAX_BATCH: usize = 256;
/// How long the writer gathers records before writing them, so a busy gateway
/// writes a few transactions a second instead of one per request.
const GATHER_FOR: Duration = Duration::from_millis(100);
/// Most records kept while the database cannot be reached (PostgreSQL
/// down); past it the oldest are dropped, counted in the log.
pub(crate) const MAX_QUEUED_RECORDS: usize = 100_000;
/// How often the writer tries again while the database cannot be reached.
const RETRY_EVERY: Duration = Duration::from_secs(1);

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
    /// Records waiting for the database to come back.
    queued: Arc<AtomicUsize>,
}

impl UsageRecorder {
    /// Starts the writer thread, which owns `store` (its own connection) and
    /// ends once every clone of the recorder is dropped.
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (queue, inbox) = mpsc::channel();
        let (count, written) = tokio::sync::watch::channel(0);
        let commits = CommitWatch::open(&store);
        let own_commits = commits.clone();
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            store,
            written: count,
            commits: own_commits,
            queued: Arc::clone(&queued),
            pending: VecDeque::new(),
            cooldowns: VecDeque::new(),
            dropped: 0,
        };
        std::thread::Builder::new()
            .name("switchyard-usage".into())
            .spawn(move || writer.run(inbox))?;
        Ok(Self {
            queue,
            written,
            commits,
            queued,
        })
    }

    /// Records kept in memory because the database cannot be reached.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
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

/// The writer thread's state.
struct Writer {
    store: Store,
    written: tokio::sync::watch::Sender<u64>,
    commits: CommitWatch,
    queued: Arc<AtomicUsize>,
    /// Records not yet stored, oldest first.
    pending: VecDeque<RequestRecord>,
    /// Cooldown changes not yet stored.
    cooldowns: VecDeque<CooldownChange>,
    /// Records dropped since the database was lost (past the bound).
    dropped: u64,
}

impl Writer {
    fn run(mut self, inbox: Receiver<UsageMessage>) {
        let mut waiting = Vec::new();
        let mut open = true;
        while open {
            // Block for the first message (or, with records kept for a lost
            // database, until it is time to try again), then let more arrive
            // without waking up for each one: a request's `send` must not
            // cost a context switch.
            let first = if self.pending.is_empty() && self.cooldowns.is_empty() {
                match inbox.recv() {
                    Ok(first) => Some(first),
                    Err(_) => break,
                }
            } else {
                match inbox.recv_timeout(RETRY_EVERY) {
                    Ok(first) => Some(first),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut next = first;
            let mut gathered = false;
            let mut arrived = 0;
            while let Some(message) = next.take() {
                match message {
                    UsageMessage::Record(record) => {
                        self.keep(*record);
                        arrived += 1;
                    }
                    UsageMessage::Cooldown(change) => self.cooldowns.push_back(change),
                    // A flush is answered as soon as what came before it is written.
                    UsageMessage::Flush(done) => waiting.push(done),
                }
                if !waiting.is_empty() || !self.cooldowns.is_empty() || arrived >= MAX_BATCH {
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
            self.write_records();
            self.write_cooldowns();
            self.queued.store(self.pending.len(), Ordering::Relaxed);
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
        // Last try before the process ends.
        self.write_records();
        self.write_cooldowns();
    }

    /// Keeps a record to write, dropping the oldest past the bound.
    fn keep(&mut self, record: RequestRecord) {
        if self.pending.len() >= MAX_QUEUED_RECORDS {
            self.pending.pop_front();
            self.dropped += 1;
            if self.dropped == 1 || self.dropped.is_power_of_two() {
                tracing::error!(
                    dropped = self.dropped,
                    "the database is unreachable and {MAX_QUEUED_RECORDS} usage records are waiting: dropping the oldest"
                );
            }
        }
        self.pending.push_back(record);
    }

    /// Writes pending records in batches; stops (keeping them) when the
    /// database cannot be reached, drops a batch it refuses.
    fn write_records(&mut self) {
        while !self.pending.is_empty() {
            let count = self.pending.len().min(MAX_BATCH);
            let batch: Vec<RequestRecord> = self.pending.range(..count).cloned().collect();
            let before = self.commits.header();
            match self.store.record_requests(&batch) {
                Ok(()) => {
                    // Request records are no part of the routing snapshot.
                    self.commits.own_commit(before, self.commits.header());
                    self.pending.drain(..count);
                    self.written.send_modify(|written| *written += count as u64);
                    if self.dropped > 0 && self.pending.is_empty() {
                        tracing::warn!(
                            dropped = self.dropped,
                            "the database is back; usage caught up"
                        );
                        self.dropped = 0;
                    }
                }
                Err(error) if error.is_unreachable() => {
                    tracing::warn!(%error, waiting = self.pending.len(), "cannot reach the database: usage kept in memory");
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, records = count, "cannot record usage");
                    self.pending.drain(..count);
                }
            }
        }
    }

    /// Writes cooldown changes; keeps them while the database cannot be reached.
    fn write_cooldowns(&mut self) {
        while let Some(change) = self.cooldowns.pop_front() {
            let before = self.commits.header();
            let written = match &change {
                CooldownChange::Set(cooldown) => self.store.set_cooldown(cooldown),
                CooldownChange::End { account_id, model } => {
                    self.store.clear_cooldown(*account_id, model)
                }
            };
            match written {
                // The routing snapshot already holds it.
                Ok(()) => self.commits.own_commit(before, self.commits.header()),
                Err(error) if error.is_unreachable() => {
                    self.cooldowns.push_front(change);
                    if self.cooldowns.len() > MAX_BATCH * 16 {
                        self.cooldowns.pop_back();
                    }
                    return;
                }
                Err(error) => tracing::error!(%error, ?change, "cannot store a cooldown"),
            }
        }
    }
}
