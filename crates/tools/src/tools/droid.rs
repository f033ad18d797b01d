//! Droid (Factory): `~/.factory/settings.json`, one entry of the
//! `customModels` list ("bring your own key"), recognised by a display name
//! starting with `Switchyard`.

use std::path::{Path, PathBuf};

use jsonc_parser::cst::CstInputValue;
use switchyard_api_types::ToolId;

use crate::json::{self, Document, Flavor};
use crate::tools::{Change, Current, KEY_ENV, Plan, load, model_or};
use crate::{Target, ToolError};

const MARK: &str = "Switchyard";

pub(super) fn path(home: &Path) -> PathBuf {
    home.join(".factory").join("settings.json")
}

fn ours(entry: &serde_json::Value) -> bool {
    entry
        .get("displayName")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|name| name.starts_with(MARK))
}

pub(super) fn read(home: &Path) -> Result<Current, ToolError> {
    let (path, text) = load(&path(home))?;
    let Some(text) = text else {
        return Ok(Current::default());
    };
    let value = json::value(&path, &text, Flavor::Lenient)?;
    let entries = value
        .get("customModels")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Ours if present, else the first custom model.
    let Some(entry) = entries.iter().find(|entry| ours(entry)).or(entries.first()) else {
        return Ok(Current::default());
    };
    Ok(Current {
        base_url: json::str_at(entry, "/baseUrl"),
        model: json::str_at(entry, "/model"),
        has_api_key: json::str_at(entry, "/apiKey").is_some(),
    })
}

pub(super) fn plan(home: &Path, target: &Target) -> Result<Plan, ToolError> {
    let (path, original) = load(&path(home))?;
    let document = Document::parse(&path, original.as_deref(), Flavor::Lenient)?;
    let root = document.object();
    let parsed = match &original {
        Some(text) => json::value(&path, text, Flavor::Lenient)?,
        None => serde_json::Value::Null,
    };
    let entries = parsed
        .get("customModels")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let position = entries.iter().position(ours);
    let existing = position.map(|index| &entries[index]);
    let model = model_or(
        ToolId::Droid,
        target,
        existing.and_then(|entry| json::str_at(entry, "/model")),
    )?;
    let mut notes = Vec::new();
    let api_key = match (
        &target.api_key,
        existing.and_then(|entry| json::str_at(entry, "/apiKey")),
    ) {
        (Some(key), _) => key.clone(),
        (None, Some(kept)) => kept,
        (None, None) => {
            notes.push(format!(
                "Droid reads the key from ${KEY_ENV}: export it before running droid (or set the tool up again with a key)"
            ));
            format!("${{{KEY_ENV}}}")
        }
    };
    let entry = json::object(vec![
        ("model", json::string(&model)),
        ("displayName", json::string(&format!("{MARK} ({model})"))),
        ("baseUrl", json::string(&target.v1())),
        ("apiKey", json::string(&api_key)),
        ("provider", json::string("generic-chat-completion-api")),
        ("maxOutputTokens", CstInputValue::Number("16384".to_owned())),
    ]);
    match root.get("customModels") {
        None => json::set(&root, "customModels", CstInputValue::Array(vec![entry])),
        Some(property) => {
            let list = property
                .array_value()
                .ok_or_else(|| ToolError::malformed(&path, "\"customModels\" is not a list"))?;
            match position.and_then(|index| list.elements().get(index).cloned()) {
                Some(element) => {
                    element
                        .as_object()
                        .ok_or_else(|| {
                            ToolError::malformed(&path, "a custom model is not an object")
                        })?
                        .replace_with(entry);
                }
                None => {
                    list.append(entry);
                }
            }
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
