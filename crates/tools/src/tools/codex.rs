//! Codex CLI: `~/.codex/config.toml`, edited with `toml_edit` so comments,
//! key order and the user's other providers and profiles stay as they are.
//! Codex ignores overrides of its built-in `openai` provider, hence a
//! provider of our own, selected with the root `model_provider` key.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::tools::{Change, Current, KEY_ENV, PROVIDER_ID, Plan, load, model_or};
use crate::{Target, ToolError};
use switchyard_api_types::ToolId;

const TOKEN: &str = "experimental_bearer_token";
const ENV_KEY: &str = "env_key";

pub(super) fn path(home: &Path) -> PathBuf {
    home.join(".codex").join("config.toml")
}

fn parse(path: &Path, text: Option<&str>) -> Result<DocumentMut, ToolError> {
    text.unwrap_or("")
        .parse::<DocumentMut>()
        .map_err(|error| ToolError::malformed(path, error.to_string().trim().to_owned()))
}

pub(super) fn read(home: &Path) -> Result<Current, ToolError> {
    let (path, text) = load(&path(home))?;
    let document = parse(&path, text.as_deref())?;
    let provider_id = document
        .get("model_provider")
        .and_then(Item::as_str)
        .unwrap_or("openai");
    let provider = document
        .get("model_providers")
        .and_then(Item::as_table_like)
        .and_then(|providers| providers.get(provider_id))
        .and_then(Item::as_table_like);
    let provider_str = |key: &str| {
        provider
            .and_then(|table| table.get(key))
            .and_then(Item::as_str)
    };
    Ok(Current {
        base_url: provider_str("base_url").map(str::to_owned),
        model: document
            .get("model")
            .and_then(Item::as_str)
            .map(str::to_owned),
        has_api_key: provider_str(TOKEN).is_some() || provider_str(ENV_KEY).is_some(),
    })
}

/// Sets a string at `key`, keeping the comment and spacing around an existing value.
fn set_string(table: &mut Table, key: &str, text: &str) {
    match table.get_mut(key) {
        Some(Item::Value(value)) => {
            let decor = value.decor().clone();
            *value = Value::from(text);
            *value.decor_mut() = decor;
        }
        _ => {
            table.insert(key, toml_edit::value(text));
        }
    }
}

pub(super) fn plan(home: &Path, target: &Target) -> Result<Plan, ToolError> {
    let (path, original) = load(&path(home))?;
    let mut document = parse(&path, original.as_deref())?;
    let ours = document.get("model_provider").and_then(Item::as_str) == Some(PROVIDER_ID);
    let existing_model = ours
        .then(|| {
            document
                .get("model")
                .and_then(Item::as_str)
                .map(str::to_owned)
        })
        .flatten();
    let model = model_or(ToolId::Codex, target, existing_model)?;

    let root = document.as_table_mut();
    set_string(root, "model_provider", PROVIDER_ID);
    set_string(root, "model", &model);
    let providers = root.entry("model_providers").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let Some(providers) = providers.as_table_mut() else {
        return Err(ToolError::malformed(
            &path,
            "model_providers is not a [model_providers] table (an inline table is not edited; change it by hand)",
        ));
    };
    let provider = providers
        .entry(PROVIDER_ID)
        .or_insert_with(|| Item::Table(Table::new()));
    let Some(provider) = provider.as_table_mut() else {
        return Err(ToolError::malformed(
            &path,
            "model_providers.switchyard is not a table",
        ));
    };
    set_string(provider, "name", "Switchyard");
    set_string(provider, "base_url", &target.v1());
    set_string(provider, "wire_api", "responses");
    let mut notes = Vec::new();
    match &target.api_key {
        Some(key) => {
            set_string(provider, TOKEN, key);
            provider.remove(ENV_KEY);
        }
        None if provider.get(TOKEN).is_none() => {
            set_string(provider, ENV_KEY, KEY_ENV);
            notes.push(format!(
                "Codex reads the key from ${KEY_ENV}: export it before running codex (or set the tool up again with a key)"
            ));
        }
        None => {}
    }
    Ok(Plan {
        changes: vec![Change {
            path,
            original,
            contents: document.to_string(),
        }],
        notes,
    })
}
