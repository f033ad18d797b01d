//! Claude Code: the `env` block of `~/.claude/settings.json`, which Claude
//! Code applies over the shell's environment at start.

use std::path::{Path, PathBuf};

use crate::json::{self, Document, Flavor};
use crate::tools::{Change, Current, Plan, load};
use crate::{Target, ToolError};

const BASE_URL: &str = "ANTHROPIC_BASE_URL";
const TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
const API_KEY: &str = "ANTHROPIC_API_KEY";
const MODEL: &str = "ANTHROPIC_MODEL";
/// The background ("small, fast") model: the current name and the older one.
const SMALL_MODELS: [&str; 2] = [
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
];

pub(super) fn path(home: &Path) -> PathBuf {
    home.join(".claude").join("settings.json")
}

pub(super) fn read(home: &Path) -> Result<Current, ToolError> {
    let (path, text) = load(&path(home))?;
    let Some(text) = text else {
        return Ok(Current::default());
    };
    let value = json::value(&path, &text, Flavor::Strict)?;
    Ok(Current {
        base_url: json::str_at(&value, &format!("/env/{BASE_URL}")),
        model: json::str_at(&value, &format!("/env/{MODEL}")),
        has_api_key: json::str_at(&value, &format!("/env/{TOKEN}")).is_some()
            || json::str_at(&value, &format!("/env/{API_KEY}")).is_some(),
    })
}

pub(super) fn plan(home: &Path, target: &Target) -> Result<Plan, ToolError> {
    let (path, original) = load(&path(home))?;
    let document = Document::parse(&path, original.as_deref(), Flavor::Strict)?;
    let env = json::child_object(&path, &document.object(), "env")?;
    json::set(&env, BASE_URL, json::string(&target.root));
    let mut notes = Vec::new();
    match &target.api_key {
        Some(key) => json::set(&env, TOKEN, json::string(key)),
        None if env.get(TOKEN).is_none() => notes.push(format!(
            "Claude Code has no Switchyard key yet: it sends {TOKEN} as 'Authorization: Bearer'; pass a key, or allow unauthenticated loopback clients"
        )),
        None => {}
    }
    if let Some(model) = &target.model {
        json::set(&env, MODEL, json::string(model));
        for name in SMALL_MODELS {
            json::set(&env, name, json::string(model));
        }
    }
    Ok(Plan {
        changes: vec![Change {
            path,
            original,
            contents: document.text(),
        }],
        notes,
    })
}
