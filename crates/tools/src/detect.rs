//! Whether a tool is installed: its configuration folder under the home
//! directory, its program on `PATH`, or (for editor extensions) its folder
//! among the editors' installed extensions.

use std::path::{Path, PathBuf};

use switchyard_api_types::ToolId;

use crate::files;

/// What was found of a tool.
#[derive(Debug, Clone, Default)]
pub(crate) struct Detection {
    /// Whether anything was found.
    pub(crate) installed: bool,
    /// What was found, for people to read.
    pub(crate) found: Vec<String>,
    /// The first extension folder found (manual tools show it).
    pub(crate) extension_dir: Option<PathBuf>,
}

/// Where each tool leaves traces: folders under home, program names, extension ids.
fn traces(
    tool: ToolId,
) -> (
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
) {
    match tool {
        ToolId::ClaudeCode => (&[".claude"], &["claude"], &["anthropic.claude-code"]),
        ToolId::Codex => (&[".codex"], &["codex"], &[]),
        ToolId::GeminiCli => (&[".gemini"], &["gemini"], &[]),
        ToolId::Opencode => (&[".config/opencode"], &["opencode"], &[]),
        ToolId::Continue => (&[".continue"], &["cn"], &["continue.continue"]),
        ToolId::Cline => (&[], &[], &["saoudrizwan.claude-dev"]),
        ToolId::RooCode => (&[], &[], &["rooveterinaryinc.roo-cline"]),
        ToolId::Cursor => (&[".cursor"], &["cursor"], &[]),
        ToolId::Openclaw => (&[".openclaw"], &["openclaw"], &[]),
        ToolId::Droid => (&[".factory"], &["droid"], &[]),
    }
}

/// Where VS Code and its relatives keep installed extensions, under home.
const EXTENSION_ROOTS: [&str; 6] = [
    ".vscode/extensions",
    ".vscode-insiders/extensions",
    ".vscode-server/extensions",
    ".vscode-oss/extensions",
    ".cursor/extensions",
    ".windsurf/extensions",
];

/// Looks for `tool` under `home` and on `PATH`.
pub(crate) fn detect(home: &Path, tool: ToolId) -> Detection {
    let (folders, programs, extensions) = traces(tool);
    let mut detection = Detection::default();
    for folder in folders {
        let path = home.join(folder);
        if path.is_dir() {
            detection.found.push(files::display(home, &path));
        }
    }
    for program in programs {
        if on_path(program).is_some() {
            detection.found.push(format!("{program} on PATH"));
        }
    }
    for extension in extensions {
        if let Some(dir) = extension_dir(home, extension) {
            detection.found.push(files::display(home, &dir));
            detection.extension_dir.get_or_insert(dir);
        }
    }
    detection.installed = !detection.found.is_empty();
    detection
}

/// The installed folder of extension `id` (`publisher.name-version`), if any.
fn extension_dir(home: &Path, id: &str) -> Option<PathBuf> {
    let prefix = format!("{id}-");
    EXTENSION_ROOTS.iter().find_map(|root| {
        let entries = std::fs::read_dir(home.join(root)).ok()?;
        entries.flatten().map(|entry| entry.path()).find(|path| {
            path.is_dir()
                && path.file_name().is_some_and(|name| {
                    name.to_string_lossy()
                        .to_ascii_lowercase()
                        .starts_with(&prefix)
                })
        })
    })
}

/// The program `name` on `PATH`, if it is there and can be run.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        candidates(name)
            .into_iter()
            .map(|file| dir.join(file))
            .find(|candidate| is_runnable(candidate))
    })
}

#[cfg(windows)]
fn candidates(name: &str) -> Vec<String> {
    ["", ".exe", ".cmd", ".bat"]
        .iter()
        .map(|extension| format!("{name}{extension}"))
        .collect()
}

#[cfg(not(windows))]
fn candidates(name: &str) -> Vec<String> {
    vec![name.to_owned()]
}

#[cfg(unix)]
fn is_runnable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_runnable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_folder_or_an_extension_counts_as_installed() {
        let home = tempfile::tempdir().unwrap();
        assert!(!detect(home.path(), ToolId::Droid).installed);
        std::fs::create_dir_all(home.path().join(".factory")).unwrap();
        let droid = detect(home.path(), ToolId::Droid);
        assert!(droid.installed);
        assert_eq!(droid.found, vec!["~/.factory".to_owned()]);

        std::fs::create_dir_all(
            home.path()
                .join(".vscode/extensions/saoudrizwan.claude-dev-3.20.1"),
        )
        .unwrap();
        let cline = detect(home.path(), ToolId::Cline);
        assert!(cline.installed);
        assert!(cline.extension_dir.is_some());
        assert!(!detect(home.path(), ToolId::RooCode).installed);
    }
}
