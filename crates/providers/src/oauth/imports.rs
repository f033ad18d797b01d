//! Where installed official CLIs keep their credentials (Claude Code, Codex,
//! Gemini CLI, Kiro, Qwen Code), and reading those files. Each service's
//! type reads its own file's fields; the files are never changed.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::service::Service;

/// Where `service`'s CLI keeps its credentials under `home`, if it has a file.
pub fn credentials_path(service: &Service, home: &Path) -> Option<PathBuf> {
    service.cli_credentials.map(|relative| home.join(relative))
}

/// The user's home directory.
pub fn home_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_owned())
}

/// The CLI's credentials file as JSON, and where it is.
pub fn read_credentials(service: &Service, home: &Path) -> Result<(Value, PathBuf), String> {
    let path = credentials_path(service, home)
        .ok_or_else(|| format!("{} has no credentials file to import", service.name))?;
    let text = std::fs::read_to_string(&path).map_err(|error| {
        format!(
            "cannot read {} ({error}); log in with the {} CLI first, or use `switchyard connect {}`",
            path.display(),
            service.name,
            service.id
        )
    })?;
    let json = serde_json::from_str(&text)
        .map_err(|error| format!("{} is not JSON: {error}", path.display()))?;
    Ok((json, path))
}
