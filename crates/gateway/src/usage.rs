//! Usage recording off the hot path: handlers queue a [`RequestRecord`] and a
//! dedicated thread writes batches to SQLite, so a slow disk never delays a
//! response. [`UsageRecorder::flush`] waits until everything queued is stored.

use std::sync::mpsc::{self, Receiver, Sender};

use switchyard_store::{RequestRecord, Store};

/// Largest number of records written in one transaction.
const MAX_BATCH: usize = 256;

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
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                UsageMessage::Record(record) => batch.push(*record),
                UsageMessage::Flush(done) => waiting.push(done),
            }
            next = if batch.len() < MAX_BATCH {
                inbox.try_recv().ok()
            } else {
                None
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
    }
}
