//! The tools as data plus one module per configuration format: where each
//! tool keeps its settings, how to read them, and the edit that points it at
//! Switchyard.

mod claude_code;
mod codex;
mod continue_dev;
mod droid;
mod gemini_cli;
mod manual;
mod openclaw;
mod opencode;

use std::path::{Path, PathBuf};

use switchyard_api_types::{ManualSetup, ToolId, ToolInfo, ToolSetupKind};

use crate::{Target, ToolError, files, same_url};

/// The name Switchyard's entry goes by where a tool names its providers.
pub(crate) const PROVIDER_ID: &str = "switchyard";

/// The environment variable suggested when no key is written into a file.
pub(crate) const KEY_ENV: &str = "SWITCHYARD_API_KEY";

/// What a tool's active setting is now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Current {
    pub(crate) base_url: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) has_api_key: bool,
}

/// One file's new contents, with what it held before (`None`: no file).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// Where to write (a symlink's target).
    pub(crate) path: PathBuf,
    pub(crate) original: Option<String>,
    pub(crate) contents: String,
}

/// Everything setting a tool up would write.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub(crate) changes: Vec<Change>,
    pub(crate) notes: Vec<String>,
}

/// Resolves `path` and reads it: the path to write and its current text.
pub(crate) fn load(path: &Path) -> Result<(PathBuf, Option<String>), ToolError> {
    let resolved = files::resolve(path)?;
    let text = files::read_text(&resolved)?;
    Ok((resolved, text))
}

/// The catalogue entry of `tool`.
pub(crate) fn info(tool: ToolId) -> ToolInfo {
    let (name, setup, config_files, speaks, model_required): (&str, _, &[&str], &str, bool) =
        match tool {
            ToolId::ClaudeCode => (
                "Claude Code",
                ToolSetupKind::File,
                &["~/.claude/settings.json"],
                "Anthropic Messages",
                false,
            ),
            ToolId::Codex => (
                "Codex CLI",
                ToolSetupKind::File,
                &["~/.codex/config.toml"],
                "OpenAI Responses",
                true,
            ),
            ToolId::GeminiCli => (
                "Gemini CLI",
                ToolSetupKind::File,
                &["~/.gemini/.env", "~/.gemini/settings.json"],
                "Gemini",
                false,
            ),
            ToolId::Opencode => (
                "OpenCode",
                ToolSetupKind::File,
                &["~/.config/opencode/opencode.json"],
                "OpenAI Chat",
                true,
            ),
            ToolId::Continue => (
                "Continue",
                ToolSetupKind::File,
                &["~/.continue/config.yaml"],
                "OpenAI Chat",
                true,
            ),
            ToolId::Cline => ("Cline", ToolSetupKind::Manual, &[], "OpenAI Chat", true),
            ToolId::RooCode => ("Roo Code", ToolSetupKind::Manual, &[], "OpenAI Chat", true),
            ToolId::Cursor => ("Cursor", ToolSetupKind::Manual, &[], "OpenAI Chat", true),
            ToolId::Openclaw => (
                "OpenClaw",
                ToolSetupKind::File,
                &["~/.openclaw/openclaw.json"],
                "OpenAI Chat",
                true,
            ),
            ToolId::Droid => (
                "Droid (Factory)",
                ToolSetupKind::File,
                &["~/.factory/settings.json"],
                "OpenAI Chat",
                true,
            ),
        };
    ToolInfo {
        id: tool,
        name: name.to_owned(),
        setup,
        config_files: config_files.iter().map(|file| (*file).to_owned()).collect(),
        speaks: speaks.to_owned(),
        model_required,
    }
}

/// What was looked for when deciding whether `tool` is installed.
pub(crate) fn looked_for(tool: ToolId) -> String {
    match tool {
        ToolId::ClaudeCode => "~/.claude or `claude` on PATH",
        ToolId::Codex => "~/.codex or `codex` on PATH",
        ToolId::GeminiCli => "~/.gemini or `gemini` on PATH",
        ToolId::Opencode => "~/.config/opencode or `opencode` on PATH",
        ToolId::Continue => "~/.continue or the Continue extension",
        ToolId::Cline => "the Cline extension",
        ToolId::RooCode => "the Roo Code extension",
        ToolId::Cursor => "~/.cursor or `cursor` on PATH",
        ToolId::Openclaw => "~/.openclaw or `openclaw` on PATH",
        ToolId::Droid => "~/.factory or `droid` on PATH",
    }
    .to_owned()
}

/// The main file Switchyard reads and writes for a file-based tool.
pub(crate) fn config_path(tool: ToolId, home: &Path) -> PathBuf {
    match tool {
        ToolId::ClaudeCode => claude_code::path(home),
        ToolId::Codex => codex::path(home),
        ToolId::GeminiCli => gemini_cli::env_path(home),
        ToolId::Opencode => opencode::path(home),
        ToolId::Continue => continue_dev::path(home),
        ToolId::Openclaw => openclaw::path(home),
        ToolId::Droid => droid::path(home),
        ToolId::Cline | ToolId::RooCode | ToolId::Cursor => home.to_path_buf(),
    }
}

/// The app folder shown for a manual tool when no extension folder was found.
pub(crate) fn manual_folder(tool: ToolId, home: &Path) -> Option<PathBuf> {
    (tool == ToolId::Cursor).then(|| home.join(".cursor"))
}

/// The tool's active setting now.
pub(crate) fn read(tool: ToolId, home: &Path) -> Result<Current, ToolError> {
    match tool {
        ToolId::ClaudeCode => claude_code::read(home),
        ToolId::Codex => codex::read(home),
        ToolId::GeminiCli => gemini_cli::read(home),
        ToolId::Opencode => opencode::read(home),
        ToolId::Continue => continue_dev::read(home),
        ToolId::Openclaw => openclaw::read(home),
        ToolId::Droid => droid::read(home),
        ToolId::Cline | ToolId::RooCode | ToolId::Cursor => Ok(Current::default()),
    }
}

/// The edits that point `tool` at `target`.
pub(crate) fn plan(tool: ToolId, home: &Path, target: &Target) -> Result<Plan, ToolError> {
    match tool {
        ToolId::ClaudeCode => claude_code::plan(home, target),
        ToolId::Codex => codex::plan(home, target),
        ToolId::GeminiCli => gemini_cli::plan(home, target),
        ToolId::Opencode => opencode::plan(home, target),
        ToolId::Continue => continue_dev::plan(home, target),
        ToolId::Openclaw => openclaw::plan(home, target),
        ToolId::Droid => droid::plan(home, target),
        ToolId::Cline | ToolId::RooCode | ToolId::Cursor => Ok(Plan::default()),
    }
}

/// Whether a tool whose base URL is `url` reaches the gateway at `target`.
pub(crate) fn points_at(tool: ToolId, target: &Target, url: &str) -> bool {
    match tool {
        // Claude Code appends `/v1/messages`; the gateway folds a doubled `/v1`.
        ToolId::ClaudeCode => same_url(url, &target.root) || same_url(url, &target.v1()),
        ToolId::GeminiCli => same_url(url, &target.root),
        _ => same_url(url, &target.v1()),
    }
}

/// The values to paste for a manual tool.
pub(crate) fn manual(tool: ToolId, target: &Target) -> Option<ManualSetup> {
    manual::setup(tool, target)
}

/// The model to write: the one asked for, else the one Switchyard's entry
/// already has; tools that cannot work without one refuse.
pub(crate) fn model_or(
    tool: ToolId,
    target: &Target,
    existing: Option<String>,
) -> Result<String, ToolError> {
    target
        .model
        .clone()
        .or(existing)
        .ok_or_else(|| ToolError::ModelRequired(info(tool).name))
}
