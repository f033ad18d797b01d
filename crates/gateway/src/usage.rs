//! Usage recording off the hot path: handlers queue a [`RequestRecord`] and a
//! dedicated thread writes batches to SQLite, so a slow disk never delays a
//! response. [`UsageRecorder::flush`] waits until everything queued is stored.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use switchyard_store::{RequestRecord, Store};

/// Largest number of records written in one transaction.
const MAX_BATCH: usize = 256;
/// How long the writer gathers records before writing them, so a busy gateway
/// writes a few transactions a second instead of one per request.
const GATHER_FOR: Duration = Duration::from_millis(100);

enum UsageMessage {
    Record(Box<RequestRecord>),
    /// Write everything queued before this message, then answer.
    Flush(Sender<()>),
}

/// Queue to the usage writer thread. Cheap to clone.
#[derive(Clone)]
pub struct UsageRecorder {
    queue: Sender<UsageMessage>,
}

impl UsageRecorder {
    /// Starts the writer thread, which owns `store` (its own connection) and
    /// ends once every clone of the recorder is dropped.
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (queue, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("switchyard-usage".into())
            .spawn(move || write_batches(store, inbox))?;
        Ok(Self { queue })
    }

    /// Queues a record; never blocks.
    pub fn record(&self, record: RequestRecord) {
        let _ = self.queue.send(UsageMessage::Record(Box::new(record)));
    }

    /// Blocks until every record queued so far is written.
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        if self.queue.send(UsageMessage::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

fn write_batches(mut store: Store, inbox: Receiver<UsageMessage>) {
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    while let Ok(first) = inbox.recv() {
        let deadline = Instant::now() + GATHER_FOR;
        let mut next = Some(first);
        let mut open = true;
        while let Some(message) = next {
            match message {
                UsageMessage::Record(record) => batch.push(*record),
                // A flush is answered as soon as what came before it is written.
                UsageMessage::Flush(done) => waiting.push(done),
            }
            if !waiting.is_empty() || batch.len() >= MAX_BATCH {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            next = match inbox.recv_timeout(left) {
                Ok(message) => Some(message),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            };
        }
        if !batch.is_empty() {
            if let Err(error) = store.record_requests(&batch) {
                tracing::error!(%error, records = batch.len(), "cannot record usage");
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
        if !open {
            break;
        }
    }
}
