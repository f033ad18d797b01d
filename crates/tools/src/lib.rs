//! One-click setup of coding tools: detect a tool, show where its settings
//! point, point it at the Switchyard gateway, and put its original file back.
//!
//! Every function takes the home directory (and Switchyard's backup folder)
//! as arguments, so tests and the desktop app choose them; [`home_dir`] gives
//! the real one. The status and result types are the serde shapes of
//! `switchyard-api-types` ([`ToolStatus`], [`ToolApplied`], ...), so the
//! dashboard shows exactly what the CLI prints with `--json`.
//!
//! # What each tool gets
//!
//! | tool | file | what Switchyard writes |
//! | --- | --- | --- |
//! | Claude Code | `~/.claude/settings.json` | `env`: `ANTHROPIC_BASE_URL` (gateway root; Claude Code appends `/v1/messages`), `ANTHROPIC_AUTH_TOKEN` (sent as Bearer), `ANTHROPIC_MODEL`, and for background work `ANTHROPIC_DEFAULT_HAIKU_MODEL` plus the older `ANTHROPIC_SMALL_FAST_MODEL` |
//! | Codex CLI | `~/.codex/config.toml` | `model_provider = "switchyard"`, `model`, and `[model_providers.switchyard]` with `base_url` (`…/v1`), `wire_api = "responses"`, and the key as `experimental_bearer_token` (Codex's inline key), else `env_key = "SWITCHYARD_API_KEY"` |
//! | Gemini CLI | `~/.gemini/.env` and `~/.gemini/settings.json` | `GOOGLE_GEMINI_BASE_URL` (root; the SDK appends `/v1beta/...`), `GEMINI_API_KEY`, `GEMINI_MODEL`; in settings, the auth type `gemini-api-key` (`security.auth.selectedType`, or the older top-level `selectedAuthType` when the file uses it) |
//! | OpenCode | `~/.config/opencode/opencode.json` (or `.jsonc`) | `provider.switchyard` with `npm: "@ai-sdk/openai-compatible"`, `options.baseURL`/`apiKey`, the model under `models`; top-level `model: "switchyard/<model>"` |
//! | Continue | `~/.continue/config.yaml` (else `config.json`) | a model named `Switchyard` (`provider: openai`, `apiBase`, `apiKey`, roles chat/edit/apply), between `# switchyard:begin`/`end` comments in YAML |
//! | OpenClaw | `~/.openclaw/openclaw.json` | `models.providers.switchyard` (`baseUrl`, `apiKey`, `api: "openai-completions"`, `models`), `agents.defaults.model.primary = "switchyard/<model>"`, and the model in the `agents.defaults.models` allow-list when there is one |
//! | Droid (Factory) | `~/.factory/settings.json` | one `customModels` entry whose `displayName` starts with `Switchyard` (`baseUrl` `…/v1`, `provider: "generic-chat-completion-api"`, `apiKey`, else `${SWITCHYARD_API_KEY}`) |
//! | Cline, Roo Code, Cursor | (editor state) | nothing: [`manual_setup`] gives the values to paste |
//!
//! # Safety of the user's files
//!
//! Before the first change Switchyard copies each file it will touch into
//! `<backups_dir>/<tool>/` (or notes that it did not exist); [`restore`] puts
//! the bytes back exactly. Edits keep everything else in the file: JSON,
//! JSONC and JSON5 through `jsonc-parser`'s syntax tree, TOML through
//! `toml_edit`, `.env` and YAML line by line. A file that does not parse is
//! refused with the parser's message and left untouched, and every write is
//! a temporary file renamed over the original.
//!
//! # Unsure points
//!
//! - Claude Code: `ANTHROPIC_SMALL_FAST_MODEL` is deprecated in favour of
//!   `ANTHROPIC_DEFAULT_HAIKU_MODEL`; both are written so old and new versions
//!   use the chosen model for background work.
//! - Codex: `experimental_bearer_token` is documented as discouraged in favour
//!   of `env_key`, but it is the only way to keep the key in the file.
//! - Gemini CLI: `~/.gemini/.env` is read only when no `.env` is found in the
//!   project's folders; the auth type is needed because a Google login would
//!   otherwise be used instead of `GEMINI_API_KEY`.
//! - Droid: Factory's documentation now uses `~/.factory/settings.json`
//!   (`customModels`, camelCase); the older `~/.factory/config.json`
//!   (`custom_models`) is still read by Droid but not written here.
//! - OpenClaw's file is JSON5: comments and JSON5 syntax are kept, but only
//!   the keys above are written.
//! - `CODEX_HOME`, `CLAUDE_CONFIG_DIR` and similar overrides are not followed:
//!   the default locations under the home directory are used.

mod backup;
mod detect;
mod files;
mod json;
mod tools;

use std::path::{Path, PathBuf};

pub use switchyard_api_types::{
    ManualSetup, ManualValue, ToolApplied, ToolId, ToolInfo, ToolRestored, ToolSetupKind,
    ToolSetupOptions as SetupOptions, ToolStatus,
};

/// Why a tool could not be read, set up or restored.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Neither the tool's folder nor its program was found.
    #[error("{name} does not seem to be installed (looked for {looked_for})")]
    NotInstalled {
        /// Display name of the tool.
        name: String,
        /// What was looked for, for the message.
        looked_for: String,
    },
    /// The user's file does not parse (or has an unexpected shape); it was not changed.
    #[error(
        "{path} could not be read: {message}; it was left unchanged, fix it or restore it first"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The tool needs a model (or combo) name and none was given or configured.
    #[error(
        "{0} needs a model: pass one (a `prefix/model`, combo or alias name that Switchyard routes)"
    )]
    ModelRequired(String),
    /// The options themselves are wrong, such as a base URL that is not http(s).
    #[error("{0}")]
    InvalidOptions(String),
    /// There is no backup to restore.
    #[error("Switchyard has no backup of {} to restore", .0.as_str())]
    NoBackup(ToolId),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl ToolError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: impl Into<std::io::Error>) -> Self {
        Self::Io {
            path: path.into(),
            source: source.into(),
        }
    }

    pub(crate) fn malformed(path: &Path, message: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// The current user's home directory.
pub fn home_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_path_buf())
}

/// Every tool Switchyard knows, in display order.
pub fn catalogue() -> Vec<ToolInfo> {
    ToolId::ALL.into_iter().map(tools::info).collect()
}

/// Checked options: the gateway's root URL and the optional key and model.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Root URL without a trailing slash or `/v1`, such as `http://127.0.0.1:20128`.
    pub(crate) root: String,
    pub(crate) api_key: Option<String>,
    pub(crate) model: Option<String>,
}

impl Target {
    fn new(options: &SetupOptions) -> Result<Self, ToolError> {
        let mut root = options.base_url.trim().trim_end_matches('/').to_owned();
        if let Some(stripped) = root.strip_suffix("/v1") {
            root = stripped.to_owned();
        }
        let lower = root.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://"))
            || root.len() <= "https://".len()
        {
            return Err(ToolError::InvalidOptions(format!(
                "the gateway URL must start with http:// or https://, not {:?}",
                options.base_url
            )));
        }
        let clean = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        Ok(Self {
            root,
            api_key: clean(&options.api_key),
            model: clean(&options.model),
        })
    }

    /// The OpenAI-style base URL, `<root>/v1`.
    pub(crate) fn v1(&self) -> String {
        format!("{}/v1", self.root)
    }
}

/// Compares base URLs the way a client would reach them.
pub(crate) fn same_url(a: &str, b: &str) -> bool {
    let clean = |url: &str| url.trim().trim_end_matches('/').to_ascii_lowercase();
    clean(a) == clean(b)
}

/// What `tool` looks like under `home`: installed, where its file is, and
/// whether it points at the gateway described by `switchyard` (its base URL,
/// and for manual tools the key and model to show). Never fails: a file that
/// cannot be read is reported in `problem`.
pub fn status(
    home: &Path,
    backups_dir: &Path,
    tool: ToolId,
    switchyard: &SetupOptions,
) -> ToolStatus {
    let info = tools::info(tool);
    let detection = detect::detect(home, tool);
    let has_backup = backup::exists(backups_dir, tool);
    let mut status = ToolStatus {
        tool,
        name: info.name.clone(),
        setup: info.setup,
        installed: detection.installed,
        detected: detection.found.clone(),
        config_path: None,
        config_exists: false,
        configured_for_switchyard: None,
        current_base_url: None,
        current_model: None,
        has_api_key: false,
        has_backup,
        backup_path: has_backup.then(|| files::display(home, &backup::folder(backups_dir, tool))),
        problem: None,
        manual: None,
    };
    let target = Target::new(switchyard);
    if info.setup == ToolSetupKind::Manual {
        let folder = detection
            .extension_dir
            .clone()
            .or_else(|| tools::manual_folder(tool, home).filter(|dir| dir.is_dir()));
        status.config_path = folder.as_deref().map(|dir| files::display(home, dir));
        status.config_exists = status.config_path.is_some();
        match &target {
            Ok(target) => status.manual = tools::manual(tool, target),
            Err(error) => status.problem = Some(error.to_string()),
        }
        return status;
    }
    let config_path = tools::config_path(tool, home);
    status.config_exists = config_path.exists();
    status.config_path = Some(files::display(home, &config_path));
    match tools::read(tool, home) {
        Ok(current) => {
            status.configured_for_switchyard = Some(match (&target, &current.base_url) {
                (Ok(target), Some(url)) => tools::points_at(tool, target, url),
                _ => false,
            });
            status.current_base_url = current.base_url;
            status.current_model = current.model;
            status.has_api_key = current.has_api_key;
        }
        Err(error) => {
            status.configured_for_switchyard = Some(false);
            status.problem = Some(error.to_string());
        }
    }
    if let Err(error) = target {
        status.problem.get_or_insert(error.to_string());
    }
    status
}

/// The steps and values to paste into a tool Switchyard cannot configure
/// itself (Cline, Roo Code, Cursor); `None` for the others.
pub fn manual_setup(
    tool: ToolId,
    options: &SetupOptions,
) -> Result<Option<ManualSetup>, ToolError> {
    Ok(tools::manual(tool, &Target::new(options)?))
}

/// Points `tool` at the gateway: backs up each file before its first change,
/// then writes it atomically, keeping everything unrelated in it. For manual
/// tools nothing is written and the result carries the values to paste.
pub fn apply(
    home: &Path,
    backups_dir: &Path,
    tool: ToolId,
    options: &SetupOptions,
) -> Result<ToolApplied, ToolError> {
    let target = Target::new(options)?;
    let info = tools::info(tool);
    if info.setup == ToolSetupKind::Manual {
        return Ok(ToolApplied {
            tool,
            is_manual: true,
            files_written: Vec::new(),
            backup_created: false,
            backup_path: None,
            manual: tools::manual(tool, &target),
            notes: Vec::new(),
        });
    }
    let detection = detect::detect(home, tool);
    if !detection.installed {
        return Err(ToolError::NotInstalled {
            name: info.name,
            looked_for: tools::looked_for(tool),
        });
    }
    // Every file is read and edited in memory first: a parse error stops here,
    // before the backup or any write.
    let plan = tools::plan(tool, home, &target)?;
    let changes: Vec<_> = plan
        .changes
        .into_iter()
        .filter(|change| change.original.as_deref() != Some(change.contents.as_str()))
        .collect();
    let mut applied = ToolApplied {
        tool,
        is_manual: false,
        files_written: Vec::new(),
        backup_created: false,
        backup_path: None,
        manual: None,
        notes: plan.notes,
    };
    if !changes.is_empty() {
        let originals: Vec<_> = changes
            .iter()
            .map(|change| {
                (
                    change.path.clone(),
                    change
                        .original
                        .as_ref()
                        .map(|text| text.as_bytes().to_vec()),
                )
            })
            .collect();
        applied.backup_created = backup::keep_originals(backups_dir, tool, &originals)?;
        for change in &changes {
            files::write_atomic(&change.path, change.contents.as_bytes())?;
            backup::record_written(backups_dir, tool, &change.path, change.contents.as_bytes())?;
            applied
                .files_written
                .push(files::display(home, &change.path));
        }
    }
    if backup::exists(backups_dir, tool) {
        applied.backup_path = Some(files::display(home, &backup::folder(backups_dir, tool)));
    }
    Ok(applied)
}

/// Puts back every file of `tool` exactly as it was before Switchyard's first
/// change (removing files Switchyard created), then deletes the backup.
pub fn restore(home: &Path, backups_dir: &Path, tool: ToolId) -> Result<ToolRestored, ToolError> {
    backup::restore(home, backups_dir, tool)
}
