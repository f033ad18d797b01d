//! OpenClaw: `~/.openclaw/openclaw.json` (JSON5), a custom provider under
//! `models.providers` and the default agent model `agents.defaults.model`.

use std::path::{Path, PathBuf};

use jsonc_parser::cst::CstInputValue;
use switchyard_api_types::ToolId;

use crate::json::{self, Document, Flavor};
use crate::tools::{Change, Current, PROVIDER_ID, Plan, load, model_or};
use crate::{Target, ToolError};

pub(super) fn path(home: &Path) -> PathBuf {
    home.join(".openclaw").join("openclaw.json")
}

/// The default agent model: a `provider/model` string, or `{ primary, fallbacks }`.
fn primary(value: &serde_json::Value) -> Option<String> {
    json::str_at(value, "/agents/defaults/model")
        .or_else(|| json::str_at(value, "/agents/defaults/model/primary"))
}

pub(super) fn read(home: &Path) -> Result<Current, ToolError> {
    let (path, text) = load(&path(home))?;
    let Some(text) = text else {
        return Ok(Current::default());
    };
    let value = json::value(&path, &text, Flavor::Lenient)?;
    let Some((provider, model)) = primary(&value).and_then(|full| {
        full.split_once('/')
            .map(|(p, m)| (p.to_owned(), m.to_owned()))
    }) else {
        return Ok(Current::default());
    };
    let entry = format!("/models/providers/{provider}");
    Ok(Current {
        base_url: json::str_at(&value, &format!("{entry}/baseUrl")),
        model: Some(model),
        has_api_key: json::str_at(&value, &format!("{entry}/apiKey")).is_some(),
    })
}

pub(super) fn plan(home: &Path, target: &Target) -> Result<Plan, ToolError> {
    let (path, original) = load(&path(home))?;
    let document = Document::parse(&path, original.as_deref(), Flavor::Lenient)?;
    let root = document.object();
    let existing_model = original
        .as_deref()
        .and_then(|text| json::value(&path, text, Flavor::Lenient).ok())
        .and_then(|value| primary(&value))
        .and_then(|full| {
            full.strip_prefix(&format!("{PROVIDER_ID}/"))
                .map(str::to_owned)
        });
    let model = model_or(ToolId::Openclaw, target, existing_model)?;
    let reference = format!("{PROVIDER_ID}/{model}");

    let models = json::child_object(&path, &root, "models")?;
    let providers = json::child_object(&path, &models, "providers")?;
    let provider = json::child_object(&path, &providers, PROVIDER_ID)?;
    json::set(&provider, "baseUrl", json::string(&target.v1()));
    let mut notes = Vec::new();
    match &target.api_key {
        Some(key) => json::set(&provider, "apiKey", json::string(key)),
        None if provider.get("apiKey").is_none() => notes.push(
            "OpenClaw has no Switchyard key yet: pass a key, or allow unauthenticated loopback clients"
                .to_owned(),
        ),
        None => {}
    }
    json::set(&provider, "api", json::string("openai-completions"));
    let listed = provider
        .get("models")
        .and_then(|property| property.array_value());
    let entry = json::object(vec![
        ("id", json::string(&model)),
        ("name", json::string(&model)),
    ]);
    match listed {
        Some(list) => {
            let known = list.elements().iter().any(|element| {
                element
                    .as_object()
                    .and_then(|object| object.get("id"))
                    .and_then(|id| id.value())
                    .and_then(|id| id.as_string_lit())
                    .and_then(|id| id.decoded_value().ok())
                    .is_some_and(|id| id == model)
            });
            if !known {
                list.append(entry);
            }
        }
        None => json::set(&provider, "models", CstInputValue::Array(vec![entry])),
    }

    let agents = json::child_object(&path, &root, "agents")?;
    let defaults = json::child_object(&path, &agents, "defaults")?;
    match defaults.get("model") {
        // The older form: the model reference itself.
        Some(property) if property.value().and_then(|v| v.as_string_lit()).is_some() => {
            property.set_value(json::string(&reference));
        }
        _ => {
            let default_model = json::child_object(&path, &defaults, "model")?;
            json::set(&default_model, "primary", json::string(&reference));
        }
    }
    // When set, `agents.defaults.models` is an allow-list: the model must be on it.
    if let Some(allowed) = defaults
        .get("models")
        .and_then(|property| property.object_value())
        && allowed.get(&reference).is_none()
    {
        json::set(&allowed, &reference, json::object(Vec::new()));
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
