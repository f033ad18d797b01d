//! Reading and atomically replacing the user's configuration files.
//!
//! A write goes to a temporary file in the same folder, is flushed to disk,
//! and is renamed over the target, so the user's file is either the old one
//! or the new one, never half of each. A symlinked file (dotfile managers
//! keep configuration that way) is written at the symlink's target, so the
//! link survives.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ToolError;

/// The path to read and write for `path`: the target of a symlink, else `path` itself.
pub(crate) fn resolve(path: &Path) -> Result<PathBuf, ToolError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(|error| ToolError::io(path, error))
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// The file's bytes, or `None` when it does not exist.
pub(crate) fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, ToolError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ToolError::io(path, error)),
    }
}

/// The file's text, or `None` when it does not exist; a file that is not
/// UTF-8 is reported as malformed rather than guessed at.
pub(crate) fn read_text(path: &Path) -> Result<Option<String>, ToolError> {
    match read_bytes(path)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ToolError::malformed(path, "the file is not UTF-8 text")),
    }
}

/// Replaces `path` with `contents` atomically, creating its folder if needed.
/// An existing file keeps its permissions; a new one is readable by its owner
/// only, since these files hold API keys.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), ToolError> {
    let folder = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(folder).map_err(|error| ToolError::io(folder, error))?;
    let existing_permissions = fs::metadata(path).ok().map(|meta| meta.permissions());
    let mut temporary = tempfile::Builder::new()
        .prefix(".switchyard-")
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(|error| ToolError::io(folder, error))?;
    temporary
        .write_all(contents)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(|error| ToolError::io(temporary.path(), error))?;
    if let Some(permissions) = existing_permissions {
        fs::set_permissions(temporary.path(), permissions)
            .map_err(|error| ToolError::io(temporary.path(), error))?;
    }
    // On error the temporary file is dropped, which deletes it: the target is untouched.
    temporary
        .persist(path)
        .map_err(|error| ToolError::io(path, error.error))?;
    sync_folder(folder);
    Ok(())
}

/// Makes the rename itself durable where the platform allows it.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = fs::File::open(folder) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}

/// Removes a file; a file already gone is fine.
pub(crate) fn remove(path: &Path) -> Result<(), ToolError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(ToolError::io(path, error)),
    }
}

/// Creates a folder readable by its owner only (backups hold API keys).
pub(crate) fn create_private_dir(path: &Path) -> Result<(), ToolError> {
    fs::create_dir_all(path).map_err(|error| ToolError::io(path, error))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(|error| ToolError::io(path, error))?;
    }
    Ok(())
}

/// `path` written with `~` for the home directory, for people to read.
pub(crate) fn display(home: &Path, path: &Path) -> String {
    match path.strip_prefix(home) {
        Ok(rest) if rest.as_os_str().is_empty() => "~".to_owned(),
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_keeps_its_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        // Nothing is left behind in the folder.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_written_at_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dotfiles-settings.json");
        fs::write(&target, "{}").unwrap();
        let link = dir.path().join("settings.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let resolved = resolve(&link).unwrap();
        write_atomic(&resolved, b"{\"a\": 1}").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"a\": 1}");
    }
}
