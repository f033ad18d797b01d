//! OpenCode: `~/.config/opencode/opencode.json` (or `opencode.jsonc`), a
//! custom provider on the AI SDK's OpenAI-compatible package, chosen by the
//! top-level `model` (`provider/model`).

use std::path::{Path, PathBuf};

use switchyard_api_types::ToolId;

use crate::json::{self, Document, Flavor};
use crate::tools::{Change, Current, PROVIDER_ID, Plan, load, model_or};
use crate::{Target, ToolError};

pub(super) fn path(home: &Path) -> PathBuf {
    let folder = home.join(".config").join("opencode");
    let json = folder.join("opencode.json");
    let jsonc = folder.join("opencode.jsonc");
    if !json.exists() && jsonc.exists() {
        jsonc
    } else {
        json
    }
}

pub(super) fn read(home: &Path) -> Result<Current, ToolError> {
    let (path, text) = load(&path(home))?;
    let Some(text) = text else {
        return Ok(Current::default());
    };
    let value = json::value(&path, &text, Flavor::Lenient)?;
    let Some((provider, model)) = json::str_at(&value, "/model").and_then(|full| {
        full.split_once('/')
            .map(|(p, m)| (p.to_owned(), m.to_owned()))
    }) else {
        return Ok(Current::default());
    };
    let options = format!("/provider/{provider}/options");
    Ok(Current {
        base_url: json::str_at(&value, &format!("{options}/baseURL")),
        model: Some(model),
        has_api_key: json::str_at(&value, &format!("{options}/apiKey")).is_some(),
    })
}

pub(super) fn plan(home: &Path, target: &Target) -> Result<Plan, ToolError> {
    let (path, original) = load(&path(home))?;
    let document = Document::parse(&path, original.as_deref(), Flavor::Lenient)?;
    let root = document.object();
    let existing_model = original
        .as_deref()
        .and_then(|text| json::value(&path, text, Flavor::Lenient).ok())
        .and_then(|value| json::str_at(&value, "/model"))
        .and_then(|full| {
            full.strip_prefix(&format!("{PROVIDER_ID}/"))
                .map(str::to_owned)
        });
    let model = model_or(ToolId::Opencode, target, existing_model)?;

    if original.is_none() {
        json::set(
            &root,
            "$schema",
            json::string("https://opencode.ai/config.json"),
        );
    }
    let providers = json::child_object(&path, &root, "provider")?;
    let provider = json::child_object(&path, &providers, PROVIDER_ID)?;
    json::set(&provider, "npm", json::string("@ai-sdk/openai-compatible"));
    json::set(&provider, "name", json::string("Switchyard"));
    let options = json::child_object(&path, &provider, "options")?;
    json::set(&options, "baseURL", json::string(&target.v1()));
    if let Some(key) = &target.api_key {
        json::set(&options, "apiKey", json::string(key));
    }
    let models = json::child_object(&path, &provider, "models")?;
    if models.get(&model).is_none() {
        json::set(
            &models,
            &model,
            json::object(vec![("name", json::string(&model))]),
        );
    }
    json::set(
        &root,
        "model",
        json::string(&format!("{PROVIDER_ID}/{model}")),
    );
    Ok(Plan {
        changes: vec![Change {
            path,
            original,
            contents: document.text(),
        }],
        notes: Vec::new(),
    })
}
