//! Gemini CLI: environment variables in `~/.gemini/.env` (the Google GenAI
//! SDK reads `GOOGLE_GEMINI_BASE_URL`; the CLI reads `GEMINI_API_KEY` and
//! `GEMINI_MODEL`) and the API-key auth type in `~/.gemini/settings.json`.
//! The `.env` file is edited line by line: other lines, comments and an
//! `export ` prefix stay as they were.

use std::path::{Path, PathBuf};

use crate::json::{self, Document, Flavor};
use crate::tools::{Change, Current, Plan, load};
use crate::{Target, ToolError};

const BASE_URL: &str = "GOOGLE_GEMINI_BASE_URL";
const API_KEY: &str = "GEMINI_API_KEY";
const MODEL: &str = "GEMINI_MODEL";
const AUTH_TYPE: &str = "gemini-api-key";

pub(super) fn env_path(home: &Path) -> PathBuf {
    home.join(".gemini").join(".env")
}

fn settings_path(home: &Path) -> PathBuf {
    home.join(".gemini").join("settings.json")
}

pub(super) fn read(home: &Path) -> Result<Current, ToolError> {
    let (_, text) = load(&env_path(home))?;
    let text = text.unwrap_or_default();
    // A malformed settings file is worth reporting even though `.env` holds the values.
    let (settings, settings_text) = load(&settings_path(home))?;
    if let Some(settings_text) = settings_text {
        json::value(&settings, &settings_text, Flavor::Lenient)?;
    }
    Ok(Current {
        base_url: get(&text, BASE_URL),
        model: get(&text, MODEL),
        has_api_key: get(&text, API_KEY).is_some(),
    })
}

pub(super) fn plan(home: &Path, target: &Target) -> Result<Plan, ToolError> {
    let (env, original_env) = load(&env_path(home))?;
    let (settings, original_settings) = load(&settings_path(home))?;

    let mut text = original_env.clone().unwrap_or_default();
    text = set(&text, BASE_URL, &target.root);
    let mut notes = Vec::new();
    match &target.api_key {
        Some(key) => text = set(&text, API_KEY, key),
        None if get(&text, API_KEY).is_none() => notes.push(format!(
            "Gemini CLI has no Switchyard key yet: it sends {API_KEY} as x-goog-api-key; pass a key, or allow unauthenticated loopback clients"
        )),
        None => {}
    }
    if let Some(model) = &target.model {
        text = set(&text, MODEL, model);
    }

    let document = Document::parse(&settings, original_settings.as_deref(), Flavor::Lenient)?;
    let root = document.object();
    // Settings files from before the 2025 reorganisation keep the auth type at the top level.
    if root.get("selectedAuthType").is_some() {
        json::set(&root, "selectedAuthType", json::string(AUTH_TYPE));
    } else {
        let security = json::child_object(&settings, &root, "security")?;
        let auth = json::child_object(&settings, &security, "auth")?;
        json::set(&auth, "selectedType", json::string(AUTH_TYPE));
    }
    notes.push(
        "a .env file in your project folder takes the place of ~/.gemini/.env for Gemini CLI"
            .to_owned(),
    );
    notes.push(
        "Gemini CLI answers headless prompts (`gemini -p`) only in a trusted folder: trust it once in an interactive session, or set GEMINI_CLI_TRUST_WORKSPACE=true for that run (otherwise it exits with code 55)"
            .to_owned(),
    );
    Ok(Plan {
        changes: vec![
            Change {
                path: env,
                original: original_env,
                contents: text,
            },
            Change {
                path: settings,
                original: original_settings,
                contents: document.text(),
            },
        ],
        notes,
    })
}

/// The name and value of an assignment line (`NAME=value`, `export NAME=value`).
fn assignment(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start();
    let line = line.strip_prefix("export ").map_or(line, str::trim_start);
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    valid.then_some((name, value))
}

/// The value of `name`, unquoted, or `None` when it is absent or empty.
fn get(text: &str, name: &str) -> Option<String> {
    let value = text
        .lines()
        .rev()
        .filter_map(assignment)
        .find(|(key, _)| *key == name)?
        .1
        .trim();
    let value = if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.to_owned()
    } else {
        // An unquoted value ends at a ` #` comment.
        value
            .split_once(" #")
            .map_or(value, |(value, _)| value)
            .trim()
            .to_owned()
    };
    (!value.is_empty()).then_some(value)
}

/// `value` as written in a `.env` file: bare when that is unambiguous.
fn quote(value: &str) -> String {
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@+,%=".contains(c));
    if bare && !value.is_empty() {
        value.to_owned()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// `text` with `name` set to `value`: every existing assignment rewritten in
/// place (keeping `export `), or one line appended.
fn set(text: &str, name: &str, value: &str) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut found = false;
    let mut lines: Vec<String> = text
        .split_inclusive('\n')
        .map(|line| match assignment(line) {
            Some((key, _)) if key == name => {
                found = true;
                let export = if line.trim_start().starts_with("export ") {
                    "export "
                } else {
                    ""
                };
                let ending = if line.ends_with("\r\n") {
                    "\r\n"
                } else if line.ends_with('\n') {
                    "\n"
                } else {
                    ""
                };
                format!("{export}{name}={}{ending}", quote(value))
            }
            _ => line.to_owned(),
        })
        .collect();
    if !found {
        if lines.last().is_some_and(|line| !line.ends_with('\n')) {
            lines.push(newline.to_owned());
        }
        lines.push(format!("{name}={}{newline}", quote(value)));
    }
    lines.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_are_replaced_in_place_and_others_kept() {
        let text = "# mine\nexport GEMINI_API_KEY=\"old key\"\nOTHER=1 # note\n";
        let text = set(text, API_KEY, "sy-new");
        let text = set(&text, BASE_URL, "http://127.0.0.1:20128");
        assert_eq!(
            text,
            "# mine\nexport GEMINI_API_KEY=sy-new\nOTHER=1 # note\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:20128\n"
        );
        assert_eq!(get(&text, "OTHER").as_deref(), Some("1"));
        assert_eq!(get(&text, API_KEY).as_deref(), Some("sy-new"));
        assert_eq!(
            get(&set("", MODEL, "a b\"c"), MODEL).as_deref(),
            Some("a b\"c")
        );
        assert_eq!(set("A=1", MODEL, "m"), "A=1\nGEMINI_MODEL=m\n");
    }
}
