//! `switchyard setup`: list coding tools, point one at the gateway (with a
//! backup of its original file), show its current setting, or restore it.

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use switchyard_config::settings::{ListenAddress, Settings, endpoint_url};
use switchyard_store::NewApiKey;
use switchyard_tools::{ManualSetup, SetupOptions, ToolApplied, ToolId, ToolSetupKind, ToolStatus};

use crate::{Output, open_store};

#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    /// The tool: claude-code, codex, gemini-cli, opencode, continue, cline,
    /// roo-code, cursor, openclaw, droid (omit to list them all)
    tool: Option<String>,
    /// Model, combo or alias name the tool should ask Switchyard for
    #[arg(long)]
    model: Option<String>,
    /// A Switchyard API key for the tool to send (visible to other users of
    /// this machine while the command runs; --new-key avoids that)
    #[arg(long, conflicts_with = "new_key")]
    key: Option<String>,
    /// Create a Switchyard API key for the tool and print it once
    #[arg(long)]
    new_key: bool,
    /// Show the tool's current setting instead of changing it
    #[arg(long, conflicts_with_all = ["restore", "key", "new_key"])]
    show: bool,
    /// Put the tool's files back as they were before Switchyard's first change
    #[arg(long, conflicts_with_all = ["model", "key", "new_key"])]
    restore: bool,
}

/// What `setup <tool>` did, with the key it created if any.
#[derive(Debug, Serialize)]
struct SetupResult {
    #[serde(flatten)]
    applied: ToolApplied,
    /// The key created by `--new-key` (shown only this once).
    #[serde(skip_serializing_if = "Option::is_none")]
    created_key: Option<NewApiKey>,
}

pub(crate) fn setup(data_dir: &Path, args: SetupArgs, output: Output) -> Result<()> {
    let home = switchyard_tools::home_dir().context("cannot find the home directory")?;
    let backups_dir = data_dir.join("tool-backups");
    let store = open_store(data_dir)?;
    let settings = Settings::load(&store)?;
    let address = ListenAddress::from_env()
        .and_then(|overrides| overrides.resolve(&settings))
        .map_err(anyhow::Error::msg)?;
    let endpoint = endpoint_url(address);
    let mut options = SetupOptions {
        base_url: endpoint.trim_end_matches("/v1").to_owned(),
        api_key: args.key.clone(),
        model: args.model.clone(),
    };

    let Some(name) = args.tool.as_deref() else {
        let statuses: Vec<ToolStatus> = ToolId::ALL
            .into_iter()
            .map(|tool| switchyard_tools::status(&home, &backups_dir, tool, &options))
            .collect();
        return output.print(&statuses, || list_text(&statuses, &endpoint));
    };
    let tool = ToolId::parse(name).with_context(|| {
        let known: Vec<_> = ToolId::ALL.iter().map(|tool| tool.as_str()).collect();
        format!("no tool {name:?}; known tools: {}", known.join(", "))
    })?;

    if args.show {
        let status = switchyard_tools::status(&home, &backups_dir, tool, &options);
        return output.print(&status, || status_text(&status));
    }
    if args.restore {
        let restored = switchyard_tools::restore(&home, &backups_dir, tool)?;
        return output.print(&restored, || {
            let mut lines = Vec::new();
            for file in &restored.restored {
                lines.push(format!("restored {file}"));
            }
            for file in &restored.removed {
                lines.push(format!("removed {file} (Switchyard had created it)"));
            }
            for file in &restored.saved_copies {
                lines.push(format!(
                    "the file had changed since Switchyard wrote it; that version is saved as {file}"
                ));
            }
            if lines.is_empty() {
                lines.push("nothing to restore: the files were already as they were".into());
            }
            lines.join("\n")
        });
    }

    let info = switchyard_tools::catalogue()
        .into_iter()
        .find(|info| info.id == tool)
        .context("the tool is missing from the catalogue")?;
    // Refuse before creating a key that would be of no use.
    if info.setup == ToolSetupKind::File {
        let status = switchyard_tools::status(&home, &backups_dir, tool, &options);
        if !status.installed {
            bail!(
                "{} does not seem to be installed: nothing was changed (install it first, then run this again)",
                info.name
            );
        }
        if let Some(problem) = status.problem {
            bail!("{problem}");
        }
        if info.model_required
            && options.model.is_none()
            && status.configured_for_switchyard != Some(true)
        {
            bail!(
                "{} needs a model: pass --model with a `prefix/model`, combo or alias name (see `switchyard combo list`, `switchyard provider list`)",
                info.name
            );
        }
    }
    let created_key = if args.new_key {
        let created = store.create_api_key(tool.as_str())?;
        options.api_key = Some(created.key.clone());
        Some(created)
    } else {
        None
    };
    let applied = switchyard_tools::apply(&home, &backups_dir, tool, &options)?;
    // Some tools take the root URL, others `/v1`: say what was written.
    let written_url = switchyard_tools::status(&home, &backups_dir, tool, &options)
        .current_base_url
        .unwrap_or(endpoint);
    let result = SetupResult {
        applied,
        created_key,
    };
    output.print(&result, || {
        applied_text(&info.name, &result, &written_url, &options)
    })
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn list_text(statuses: &[ToolStatus], endpoint: &str) -> String {
    let mut text = format!(
        "{:<12} {:<16} {:<10} {:<11} MODEL",
        "TOOL", "NAME", "INSTALLED", "SWITCHYARD"
    );
    for status in statuses {
        let switchyard = match (&status.problem, status.configured_for_switchyard) {
            (Some(_), _) => "unreadable",
            (None, None) => "manual",
            (None, Some(true)) => "yes",
            (None, Some(false)) => "no",
        };
        text.push_str(&format!(
            "\n{:<12} {:<16} {:<10} {:<11} {}",
            status.tool.as_str(),
            status.name,
            yes_no(status.installed),
            switchyard,
            status.current_model.as_deref().unwrap_or("-")
        ));
    }
    text.push_str(&format!(
        "\n\nSwitchyard is at {endpoint}. Set a tool up with `switchyard setup <tool> --model <model> --new-key`; `--show` shows its setting, `--restore` puts its file back."
    ));
    text
}

fn manual_text(manual: &ManualSetup) -> String {
    let mut text = String::new();
    for (number, step) in manual.steps.iter().enumerate() {
        text.push_str(&format!("\n  {}. {step}", number + 1));
    }
    for value in &manual.values {
        text.push_str(&format!("\n     {}: {}", value.label, value.value));
    }
    if let Some(caveat) = &manual.caveat {
        text.push_str(&format!("\n  Note: {caveat}"));
    }
    text
}

fn status_text(status: &ToolStatus) -> String {
    let mut lines = vec![format!("{} ({})", status.name, status.tool.as_str())];
    let found = if status.detected.is_empty() {
        String::new()
    } else {
        format!(" ({})", status.detected.join(", "))
    };
    lines.push(format!("installed: {}{found}", yes_no(status.installed)));
    if let Some(path) = &status.config_path {
        let exists = if status.config_exists {
            ""
        } else {
            " (not created yet)"
        };
        lines.push(format!("config: {path}{exists}"));
    }
    match status.configured_for_switchyard {
        Some(configured) => lines.push(format!("points at Switchyard: {}", yes_no(configured))),
        None => lines.push(
            "points at Switchyard: unknown (its settings live inside the editor; set it up by hand)"
                .into(),
        ),
    }
    if let Some(url) = &status.current_base_url {
        lines.push(format!("base URL: {url}"));
    }
    if let Some(model) = &status.current_model {
        lines.push(format!("model: {model}"));
    }
    if status.setup == ToolSetupKind::File {
        lines.push(format!(
            "API key: {}",
            if status.has_api_key { "set" } else { "not set" }
        ));
    }
    if let Some(backup) = &status.backup_path {
        lines.push(format!("backup of the original: {backup}"));
    }
    if let Some(problem) = &status.problem {
        lines.push(format!("problem: {problem}"));
    }
    let mut text = lines.join("\n");
    if let Some(manual) = &status.manual {
        text.push_str("\nTo set it up:");
        text.push_str(&manual_text(manual));
    }
    text
}

fn applied_text(
    name: &str,
    result: &SetupResult,
    endpoint: &str,
    options: &SetupOptions,
) -> String {
    let applied = &result.applied;
    let mut text = String::new();
    if let Some(created) = &result.created_key {
        text.push_str(&format!(
            "{}\n(new key {} {:?} for {name}: shown only this once)\n",
            created.key, created.info.id, created.info.name
        ));
    }
    if let Some(manual) = &applied.manual {
        text.push_str(&format!(
            "{name} keeps its settings inside the editor, where Switchyard cannot write them. Set it up by hand:"
        ));
        text.push_str(&manual_text(manual));
        return text;
    }
    let model = options
        .model
        .as_deref()
        .map(|model| format!(" (model {model})"))
        .unwrap_or_default();
    if applied.files_written.is_empty() {
        text.push_str(&format!(
            "{name} already uses Switchyard at {endpoint}{model}; nothing changed"
        ));
    } else {
        text.push_str(&format!("{name} now uses Switchyard at {endpoint}{model}"));
        for file in &applied.files_written {
            text.push_str(&format!("\nwrote {file}"));
        }
    }
    if let Some(backup) = &applied.backup_path {
        let tool = applied.tool.as_str();
        text.push_str(&format!(
            "\nthe original is kept in {backup}: `switchyard setup {tool} --restore` puts it back"
        ));
    }
    for note in &applied.notes {
        text.push_str(&format!("\nnote: {note}"));
    }
    text
}
