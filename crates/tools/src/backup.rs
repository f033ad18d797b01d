//! Backups of the user's files as they were before Switchyard's first change,
//! and restoring them.
//!
//! Backups live in `<backups_dir>/<tool>/` (the caller passes Switchyard's
//! `tool-backups` folder), not next to the tool's file: some tools read every
//! file in their folder, a stray `settings.json.bak` would be confusing there,
//! and one place holds every backup. A `manifest.json` lists each file
//! Switchyard changed, where its original copy is (or that it did not exist),
//! and a digest of what Switchyard last wrote, so a restore can tell whether
//! the user changed the file since. Only the first change makes a backup:
//! applying again keeps the true original.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchyard_api_types::{ToolId, ToolRestored};

use crate::ToolError;
use crate::files;

const MANIFEST: &str = "manifest.json";

/// What a tool's backup folder holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    /// Format version of this file.
    version: u32,
    /// The tool the backup belongs to.
    tool: ToolId,
    /// When the first backup was taken, Unix ms.
    created_at_ms: u64,
    /// One entry per file Switchyard changed.
    files: Vec<BackedUpFile>,
}

/// One file Switchyard changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BackedUpFile {
    /// The file Switchyard wrote (a symlink's target, not the link).
    path: PathBuf,
    /// The original's copy in the backup folder; `None` when there was no file.
    original: Option<String>,
    /// SHA-256 of what Switchyard last wrote, hex.
    written_sha256: Option<String>,
}

/// The folder holding `tool`'s backup.
pub(crate) fn folder(backups_dir: &Path, tool: ToolId) -> PathBuf {
    backups_dir.join(tool.as_str())
}

/// Whether `tool` has a backup to restore.
pub(crate) fn exists(backups_dir: &Path, tool: ToolId) -> bool {
    folder(backups_dir, tool).join(MANIFEST).is_file()
}

fn load(backups_dir: &Path, tool: ToolId) -> Result<Option<Manifest>, ToolError> {
    let path = folder(backups_dir, tool).join(MANIFEST);
    match files::read_text(&path)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| ToolError::malformed(&path, error.to_string())),
    }
}

fn save(backups_dir: &Path, manifest: &Manifest) -> Result<(), ToolError> {
    let path = folder(backups_dir, manifest.tool).join(MANIFEST);
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|error| ToolError::malformed(&path, error.to_string()))?;
    files::write_atomic(&path, text.as_bytes())
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Copies the originals of `paths` into the backup unless they are already
/// there. Returns whether this made the backup (rather than adding to one).
/// Runs before any of the user's files is touched.
pub(crate) fn keep_originals(
    backups_dir: &Path,
    tool: ToolId,
    originals: &[(PathBuf, Option<Vec<u8>>)],
) -> Result<bool, ToolError> {
    let dir = folder(backups_dir, tool);
    let existing = load(backups_dir, tool)?;
    let created = existing.is_none();
    let mut manifest = existing.unwrap_or_else(|| Manifest {
        version: 1,
        tool,
        created_at_ms: now_ms(),
        files: Vec::new(),
    });
    let mut changed = created;
    for (path, original) in originals {
        if manifest.files.iter().any(|file| &file.path == path) {
            continue;
        }
        files::create_private_dir(&dir)?;
        let copy_name = match original {
            None => None,
            Some(bytes) => {
                let name = format!(
                    "{}-{}.orig",
                    manifest.files.len(),
                    path.file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".to_owned())
                );
                files::write_atomic(&dir.join(&name), bytes)?;
                Some(name)
            }
        };
        manifest.files.push(BackedUpFile {
            path: path.clone(),
            original: copy_name,
            written_sha256: None,
        });
        changed = true;
    }
    if changed {
        files::create_private_dir(&dir)?;
        save(backups_dir, &manifest)?;
    }
    Ok(created)
}

/// Notes what Switchyard wrote to `path`, so a restore can see later edits.
pub(crate) fn record_written(
    backups_dir: &Path,
    tool: ToolId,
    path: &Path,
    contents: &[u8],
) -> Result<(), ToolError> {
    let Some(mut manifest) = load(backups_dir, tool)? else {
        return Ok(());
    };
    for file in &mut manifest.files {
        if file.path == path {
            file.written_sha256 = Some(sha256(contents));
        }
    }
    save(backups_dir, &manifest)
}

/// Puts every backed-up file back as it was (or removes it when there was
/// none), then deletes the backup. A file that changed since Switchyard
/// wrote it is first copied into the backup folder, so nothing is lost.
pub(crate) fn restore(
    home: &Path,
    backups_dir: &Path,
    tool: ToolId,
) -> Result<ToolRestored, ToolError> {
    let manifest = load(backups_dir, tool)?.ok_or(ToolError::NoBackup(tool))?;
    let dir = folder(backups_dir, tool);
    let mut restored = ToolRestored {
        tool,
        restored: Vec::new(),
        removed: Vec::new(),
        saved_copies: Vec::new(),
    };
    // Read every original first: a missing copy stops the restore before any file changes.
    let mut originals = Vec::new();
    for file in &manifest.files {
        let original = match &file.original {
            None => None,
            Some(name) => Some(
                files::read_bytes(&dir.join(name))?
                    .ok_or_else(|| ToolError::io(dir.join(name), std::io::ErrorKind::NotFound))?,
            ),
        };
        originals.push(original);
    }
    let stamp = now_ms();
    for (file, original) in manifest.files.iter().zip(originals) {
        let current = files::read_bytes(&file.path)?;
        if let Some(current) = &current {
            let digest = sha256(current);
            let is_ours = file.written_sha256.as_deref() == Some(digest.as_str());
            let is_original = original.as_deref() == Some(current.as_slice());
            if !is_ours && !is_original {
                let name = format!(
                    "changed-{stamp}-{}",
                    file.path
                        .file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".to_owned())
                );
                let copy = dir.join(name);
                files::write_atomic(&copy, current)?;
                restored.saved_copies.push(files::display(home, &copy));
            }
        }
        match original {
            Some(bytes) => {
                if current.as_deref() != Some(bytes.as_slice()) {
                    files::write_atomic(&file.path, &bytes)?;
                }
                restored.restored.push(files::display(home, &file.path));
            }
            None => {
                if current.is_some() {
                    files::remove(&file.path)?;
                    restored.removed.push(files::display(home, &file.path));
                }
            }
        }
    }
    for file in &manifest.files {
        if let Some(name) = &file.original {
            files::remove(&dir.join(name))?;
        }
    }
    files::remove(&dir.join(MANIFEST))?;
    // Leaves the folder when it still holds saved copies.
    let _ = std::fs::remove_dir(&dir);
    Ok(restored)
}
