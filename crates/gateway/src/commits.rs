//! Knowing cheaply whether anyone committed to the database since the
//! routing snapshot was last confirmed, so that requests neither ask SQLite
//! (`PRAGMA data_version`: a statement prepared and run, and file locks) nor
//! reload the snapshot after each batch of usage records.
//!
//! In WAL mode SQLite keeps the WAL-index header at the start of the
//! database's `-shm` file; every commit by any connection rewrites it, and
//! its `iChange` field goes up by exactly one per transaction ("WAL-index
//! format" in SQLite's file format documentation). Reading its first copy is
//! one `pread`: unchanged bytes mean nobody committed since; changed bytes
//! only mean "ask SQLite". When the database is not in WAL mode or the file
//! cannot be read, every request asks SQLite, as before.
//!
//! Request records are no part of the snapshot, so the usage writer vouches
//! for its own commits: it reads the header before and after each batch, and
//! when the header before was the confirmed one and exactly one transaction
//! (its own) happened in between, the header after becomes the confirmed one.
//! Any other commit in between shows in `iChange`, and the handlers ask SQLite.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};

use switchyard_store::Store;

/// Bytes of one copy of the header (`WalIndexHdr`).
const HEADER_LEN: usize = 48;
/// `iVersion` of every WAL-index since SQLite 3.7.0.
const WAL_INDEX_VERSION: u32 = 3_007_000;

/// One copy of the WAL-index header as read.
pub(crate) type Header = [u8; HEADER_LEN];

/// The watch shared by the handlers and the usage writer; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct CommitWatch(Option<Arc<Watch>>);

struct Watch {
    shm: File,
    /// The header as of which the handlers' snapshot is known to be current.
    confirmed: Mutex<Option<Header>>,
}

impl CommitWatch {
    /// Watches the database `store` has open; a watch that never vouches
    /// (every look asks SQLite) when the database is not in WAL mode or its
    /// WAL-index cannot be read.
    pub(crate) fn open(store: &Store) -> Self {
        let wal = store
            .journal_mode()
            .is_ok_and(|mode| mode.eq_ignore_ascii_case("wal"));
        if !wal {
            return Self::default();
        }
        let Ok(shm) = File::open(shm_path(store.path())) else {
            return Self::default();
        };
        let watch = Self(Some(Arc::new(Watch {
            shm,
            confirmed: Mutex::new(None),
        })));
        if watch.header().is_none() {
            return Self::default();
        }
        watch
    }

    /// The current header, or `None` when it cannot be read or is not one.
    pub(crate) fn header(&self) -> Option<Header> {
        let watch = self.0.as_ref()?;
        let mut header = [0; HEADER_LEN];
        read_at(&watch.shm, &mut header).ok()?;
        let version = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
        let initialised = header[12] == 1;
        (version == WAL_INDEX_VERSION && initialised).then_some(header)
    }

    /// Whether nobody committed since the snapshot was last confirmed, as far
    /// as `header` (read just now) tells.
    pub(crate) fn unchanged(&self, header: Option<&Header>) -> bool {
        match (&self.0, header) {
            (Some(watch), Some(header)) => watch.confirmed() == Some(*header),
            _ => false,
        }
    }

    /// Notes that the snapshot is current as of `header` (read before the
    /// snapshot was checked against SQLite).
    pub(crate) fn confirm(&self, header: Option<Header>) {
        if let Some(watch) = &self.0 {
            *watch.lock() = header;
        }
    }

    /// The usage writer's part: `before` and `after` were read around one
    /// of its transactions.
    pub(crate) fn own_commit(&self, before: Option<Header>, after: Option<Header>) {
        let (Some(watch), Some(before), Some(after)) = (&self.0, before, after) else {
            return;
        };
        let mut confirmed = watch.lock();
        if *confirmed == Some(before)
            && change_counter(&after) == change_counter(&before).wrapping_add(1)
        {
            *confirmed = Some(after);
        }
    }
}

impl Watch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Header>> {
        self.confirmed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn confirmed(&self) -> Option<Header> {
        *self.lock()
    }
}

/// `iChange`: one more for every committed transaction.
fn change_counter(header: &Header) -> u32 {
    u32::from_ne_bytes([header[8], header[9], header[10], header[11]])
}

fn shm_path(database: &Path) -> std::path::PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push("-shm");
    path.into()
}

#[cfg(unix)]
fn read_at(file: &File, buffer: &mut Header) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, 0)
}

#[cfg(windows)]
fn read_at(file: &File, buffer: &mut Header) -> std::io::Result<()> {
    let read = std::os::windows::fs::FileExt::seek_read(file, buffer, 0)?;
    if read == buffer.len() {
        Ok(())
    } else {
        Err(std::io::ErrorKind::UnexpectedEof.into())
    }
}

#[cfg(not(any(unix, windows)))]
fn read_at(_file: &File, _buffer: &mut Header) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_commit_changes_the_header_by_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let watch = CommitWatch::open(&store);
        let before = watch.header().expect("the database is in WAL mode");
        assert_eq!(watch.header(), Some(before), "reading changes nothing");
        assert!(!watch.unchanged(Some(&before)), "nothing confirmed yet");
        watch.confirm(Some(before));
        assert!(watch.unchanged(Some(&before)));

        // Another connection commits.
        Store::open_in_dir(dir.path())
            .unwrap()
            .set_setting("log_bodies", "true")
            .unwrap();
        let after = watch.header().unwrap();
        assert_ne!(after, before);
        assert!(!watch.unchanged(Some(&after)));
        assert_eq!(change_counter(&after), change_counter(&before) + 1);
    }

    #[test]
    fn the_writer_vouches_only_for_its_own_single_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let watch = CommitWatch::open(&store);
        let commit = |value: &str| store.set_setting("log_bodies", value).unwrap();

        // Its own commit, with the confirmed header before: vouched for.
        let confirmed = watch.header();
        watch.confirm(confirmed);
        commit("true");
        let after = watch.header();
        watch.own_commit(confirmed, after);
        assert!(watch.unchanged(after.as_ref()));

        // Someone else committed as well: not vouched for.
        let before = watch.header();
        commit("false");
        Store::open_in_dir(dir.path())
            .unwrap()
            .set_setting("log_bodies", "true")
            .unwrap();
        let after_two = watch.header();
        watch.own_commit(before, after_two);
        assert!(!watch.unchanged(after_two.as_ref()));

        // The header before was not the confirmed one: not vouched for.
        watch.confirm(None);
        let before = watch.header();
        commit("false");
        let after = watch.header();
        watch.own_commit(before, after);
        assert!(!watch.unchanged(after.as_ref()));
    }

    #[test]
    fn without_wal_every_look_asks_sqlite() {
        let watch = CommitWatch::default();
        assert_eq!(watch.header(), None);
        watch.confirm(None);
        assert!(!watch.unchanged(None));
    }
}
