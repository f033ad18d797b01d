//! Continue: a model named `Switchyard` in `~/.continue/config.yaml` (which
//! Continue reads instead of `config.json` when both exist), or in the older
//! `config.json`.
//!
//! No maintained Rust YAML library writes YAML back with its comments, so the
//! YAML file is edited as text: Switchyard's entry is a block between
//! `# switchyard:begin` and `# switchyard:end` comment lines at the top of the
//! `models:` list, replaced in place on the next setup. The file is parsed
//! before the edit (a malformed file is refused) and after it (the result must
//! parse and hold the entry), so a surprising layout is refused, not written.

use std::path::{Path, PathBuf};

use jsonc_parser::cst::CstInputValue;
use switchyard_api_types::ToolId;
use yaml_rust2::{Yaml, YamlLoader};

use crate::json::{self, Document, Flavor};
use crate::tools::{Change, Current, Plan, load, model_or};
use crate::{Target, ToolError};

const NAME: &str = "Switchyard";
const BEGIN: &str = "# switchyard:begin";
const END: &str = "# switchyard:end";

fn yaml_path(home: &Path) -> PathBuf {
    home.join(".continue").join("config.yaml")
}

fn json_path(home: &Path) -> PathBuf {
    home.join(".continue").join("config.json")
}

/// The file Continue reads: `config.yaml`, else an existing `config.json`.
pub(super) fn path(home: &Path) -> PathBuf {
    let yaml = yaml_path(home);
    let json = json_path(home);
    if !yaml.exists() && json.exists() {
        json
    } else {
        yaml
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension == "yaml")
}

/// The first YAML document, which must be a mapping (or empty).
fn parse_yaml(path: &Path, text: &str) -> Result<Yaml, ToolError> {
    let documents = YamlLoader::load_from_str(text)
        .map_err(|error| ToolError::malformed(path, error.to_string()))?;
    let document = documents.into_iter().next().unwrap_or(Yaml::Null);
    match document {
        Yaml::Hash(_) | Yaml::Null => Ok(document),
        _ => Err(ToolError::malformed(path, "the top level is not a mapping")),
    }
}

/// A model entry's field, as a string.
fn field(model: &Yaml, key: &str) -> Option<String> {
    model[key].as_str().map(str::to_owned)
}

/// Switchyard's model entry, if the document has one.
fn our_yaml_model(document: &Yaml) -> Option<&Yaml> {
    document["models"]
        .as_vec()?
        .iter()
        .find(|model| model["name"].as_str() == Some(NAME))
}

pub(super) fn read(home: &Path) -> Result<Current, ToolError> {
    let (path, text) = load(&path(home))?;
    let Some(text) = text else {
        return Ok(Current::default());
    };
    if is_yaml(&path) {
        let document = parse_yaml(&path, &text)?;
        let model = our_yaml_model(&document).or_else(|| {
            document["models"]
                .as_vec()
                .and_then(|models| models.first())
        });
        return Ok(model.map_or_else(Current::default, |model| Current {
            base_url: field(model, "apiBase"),
            model: field(model, "model"),
            has_api_key: field(model, "apiKey").is_some(),
        }));
    }
    let value = json::value(&path, &text, Flavor::Lenient)?;
    let models = value
        .get("models")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let model = models
        .iter()
        .find(|model| json::str_at(model, "/title").as_deref() == Some(NAME))
        .or(models.first());
    Ok(model.map_or_else(Current::default, |model| Current {
        base_url: json::str_at(model, "/apiBase"),
        model: json::str_at(model, "/model"),
        has_api_key: json::str_at(model, "/apiKey").is_some(),
    }))
}

pub(super) fn plan(home: &Path, target: &Target) -> Result<Plan, ToolError> {
    let (path, original) = load(&path(home))?;
    let contents = if is_yaml(&path) {
        plan_yaml(&path, original.as_deref(), target)?
    } else {
        plan_json(&path, original.as_deref(), target)?
    };
    Ok(Plan {
        changes: vec![Change {
            path,
            original,
            contents,
        }],
        notes: Vec::new(),
    })
}

/// A YAML double-quoted scalar (a JSON string is one).
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn plan_yaml(path: &Path, original: Option<&str>, target: &Target) -> Result<String, ToolError> {
    let text = original
        .filter(|text| !text.trim().is_empty())
        .unwrap_or("name: Local Config\nversion: 1.0.0\nschema: v1\n");
    let document = parse_yaml(path, text)?;
    let existing = our_yaml_model(&document);
    let model = model_or(
        ToolId::Continue,
        target,
        existing.and_then(|model| field(model, "model")),
    )?;
    let api_key = target
        .api_key
        .clone()
        .or_else(|| existing.and_then(|model| field(model, "apiKey")));
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };

    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    if let Some(last) = lines.last_mut().filter(|line| !line.ends_with('\n')) {
        last.push_str(newline);
    }
    let begin = lines
        .iter()
        .position(|line| line.trim_start().starts_with(BEGIN));
    let end = lines
        .iter()
        .position(|line| line.trim_start().starts_with(END));
    let (at, indent) = match (begin, end) {
        (Some(begin), Some(end)) if begin <= end => {
            let indent = leading_space(&lines[begin]);
            lines.drain(begin..=end);
            (begin, indent)
        }
        _ => match lines.iter().position(|line| is_models_key(line)) {
            Some(index) => {
                let rest = lines[index]
                    .trim_end()
                    .trim_start_matches("models")
                    .trim_start()
                    .trim_start_matches(':')
                    .trim();
                if rest == "[]" {
                    lines[index] = format!("models:{newline}");
                } else if !(rest.is_empty() || rest.starts_with('#')) {
                    return Err(ToolError::malformed(
                        path,
                        "`models:` is written on one line (flow style); add the Switchyard model by hand",
                    ));
                }
                (index + 1, list_indent(&lines[index + 1..]))
            }
            None => {
                lines.push(format!("models:{newline}"));
                (lines.len(), "  ".to_owned())
            }
        },
    };
    let mut block = vec![
        format!("{indent}{BEGIN} (written by `switchyard setup continue`){newline}"),
        format!("{indent}- name: {NAME}{newline}"),
        format!("{indent}  provider: openai{newline}"),
        format!("{indent}  model: {}{newline}", quoted(&model)),
        format!("{indent}  apiBase: {}{newline}", quoted(&target.v1())),
    ];
    if let Some(key) = &api_key {
        block.push(format!("{indent}  apiKey: {}{newline}", quoted(key)));
    }
    block.push(format!("{indent}  roles: [chat, edit, apply]{newline}"));
    block.push(format!("{indent}{END}{newline}"));
    lines.splice(at..at, block);
    let edited = lines.concat();

    // The edit must leave a file that parses and holds exactly this entry.
    let check = parse_yaml(path, &edited).map_err(|error| {
        ToolError::malformed(path, format!("the edited file would not parse ({error})"))
    })?;
    let placed = our_yaml_model(&check).is_some_and(|entry| {
        field(entry, "apiBase").as_deref() == Some(target.v1().as_str())
            && field(entry, "model").as_deref() == Some(model.as_str())
    });
    if !placed {
        return Err(ToolError::malformed(
            path,
            "the models list has a layout Switchyard does not edit; add the Switchyard model by hand",
        ));
    }
    Ok(edited)
}

/// Whether `line` is the top-level `models:` key.
fn is_models_key(line: &str) -> bool {
    line.strip_prefix("models")
        .map(str::trim_start)
        .is_some_and(|rest| rest.starts_with(':'))
}

fn leading_space(line: &str) -> String {
    line.chars().take_while(|c| *c == ' ').collect()
}

/// The indentation of the list items after `models:` (two spaces for an empty list).
fn list_indent(after: &[String]) -> String {
    after
        .iter()
        .find(|line| {
            let trimmed = line.trim();
            !trimmed.is_empty() && !trimmed.starts_with('#')
        })
        .filter(|line| line.trim_start().starts_with('-'))
        .map_or_else(|| "  ".to_owned(), |line| leading_space(line))
}

fn plan_json(path: &Path, original: Option<&str>, target: &Target) -> Result<String, ToolError> {
    let document = Document::parse(path, original, Flavor::Lenient)?;
    let root = document.object();
    let parsed = match original {
        Some(text) => json::value(path, text, Flavor::Lenient)?,
        None => serde_json::Value::Null,
    };
    let models = parsed
        .get("models")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let position = models
        .iter()
        .position(|model| json::str_at(model, "/title").as_deref() == Some(NAME));
    let existing = position.map(|index| &models[index]);
    let model = model_or(
        ToolId::Continue,
        target,
        existing.and_then(|model| json::str_at(model, "/model")),
    )?;
    let mut fields = vec![
        ("title", json::string(NAME)),
        ("provider", json::string("openai")),
        ("model", json::string(&model)),
        ("apiBase", json::string(&target.v1())),
    ];
    if let Some(key) = target
        .api_key
        .clone()
        .or_else(|| existing.and_then(|model| json::str_at(model, "/apiKey")))
    {
        fields.push(("apiKey", json::string(&key)));
    }
    let entry = json::object(fields);
    match root.get("models") {
        None => json::set(&root, "models", CstInputValue::Array(vec![entry])),
        Some(property) => {
            let list = property
                .array_value()
                .ok_or_else(|| ToolError::malformed(path, "\"models\" is not a list"))?;
            match position.and_then(|index| list.elements().get(index).cloned()) {
                Some(element) => {
                    element
                        .as_object()
                        .ok_or_else(|| ToolError::malformed(path, "a model is not an object"))?
                        .replace_with(entry);
                }
                None => {
                    list.append(entry);
                }
            }
        }
    }
    Ok(document.text())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(model: &str) -> Target {
        Target {
            root: "http://127.0.0.1:20128".to_owned(),
            api_key: Some("sy-key".to_owned()),
            model: Some(model.to_owned()),
        }
    }

    #[test]
    fn the_entry_goes_first_in_the_models_list_and_is_replaced_next_time() {
        let original = "name: Mine\nversion: 1.0.0\nschema: v1\n# my models\nmodels:\n  - name: Local\n    provider: ollama\n    model: llama3 # fast\ncontext:\n  - provider: code\n";
        let path = Path::new("config.yaml");
        let once = plan_yaml(path, Some(original), &target("fast")).unwrap();
        assert!(once.starts_with(
            "name: Mine\nversion: 1.0.0\nschema: v1\n# my models\nmodels:\n  # switchyard:begin"
        ));
        assert!(once.contains("    model: llama3 # fast\ncontext:\n  - provider: code\n"));
        let twice = plan_yaml(
            path,
            Some(&once),
            &Target {
                api_key: None,
                ..target("other")
            },
        )
        .unwrap();
        assert_eq!(twice.matches(BEGIN).count(), 1);
        assert!(twice.contains("model: \"other\""));
        // The key is kept when none is given.
        assert!(twice.contains("apiKey: \"sy-key\""));
        let document = parse_yaml(path, &twice).unwrap();
        assert_eq!(document["models"].as_vec().unwrap().len(), 2);
    }

    #[test]
    fn zero_indent_lists_empty_lists_and_no_list_are_handled() {
        let path = Path::new("config.yaml");
        for original in [
            "name: a\nmodels:\n- name: x\n  provider: openai\n  model: y\n",
            "name: a\nmodels: []\n",
            "name: a\n",
            "name: a",
        ] {
            let edited = plan_yaml(path, Some(original), &target("m")).unwrap();
            let document = parse_yaml(path, &edited).unwrap();
            assert!(our_yaml_model(&document).is_some(), "{edited}");
        }
        assert!(plan_yaml(path, Some("models: [{name: x}]\n"), &target("m")).is_err());
        assert!(plan_yaml(path, Some("models:\n  - name: [unclosed\n"), &target("m")).is_err());
    }
}
