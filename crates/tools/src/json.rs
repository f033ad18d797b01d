//! In-place edits of JSON, JSONC and JSON5 files with `jsonc-parser`'s
//! concrete syntax tree: keys are set where they are, new keys are appended,
//! and everything else (other keys, their order, comments, indentation)
//! stays as the user wrote it. `serde_json` would re-sort and reformat the
//! whole file.

use std::path::Path;

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};

use crate::ToolError;

/// How forgiving to be when reading a tool's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Plain JSON, as tools that use `JSON.parse` read it.
    Strict,
    /// JSON with comments and trailing commas (JSONC), and JSON5's looser
    /// keys, strings and numbers.
    Lenient,
}

impl Flavor {
    fn options(self) -> ParseOptions {
        let lenient = self == Flavor::Lenient;
        ParseOptions {
            allow_comments: lenient,
            allow_loose_object_property_names: lenient,
            allow_trailing_commas: lenient,
            // Never: a missing comma is far more often a broken file than a style.
            allow_missing_commas: false,
            allow_single_quoted_strings: lenient,
            allow_hexadecimal_numbers: lenient,
            allow_unary_plus_numbers: lenient,
            allow_bare_decimal_point_numbers: lenient,
            allow_non_finite_numbers: lenient,
            allow_extended_string_escapes: lenient,
        }
    }
}

const BOM: char = '\u{feff}';

/// A parsed file, ready for edits.
pub(crate) struct Document {
    root: CstRootNode,
    bom: bool,
}

impl Document {
    /// Parses `text` (an absent file is an empty object); the top level must
    /// be an object.
    pub(crate) fn parse(
        path: &Path,
        text: Option<&str>,
        flavor: Flavor,
    ) -> Result<Self, ToolError> {
        let text = text.unwrap_or("");
        // The syntax tree's parser lets comments through whatever the options
        // say, so the value parser checks the flavour (and the top level) first.
        value(path, text, flavor)?;
        let bom = text.starts_with(BOM);
        let body = text.trim_start_matches(BOM);
        let body = if body.trim().is_empty() { "{}\n" } else { body };
        let root = CstRootNode::parse(body, &flavor.options())
            .map_err(|error| ToolError::malformed(path, error.to_string()))?;
        match root.value() {
            Some(value) if value.as_object().is_some() => Ok(Self { root, bom }),
            _ => Err(ToolError::malformed(
                path,
                "the top level is not a JSON object",
            )),
        }
    }

    /// The top-level object.
    pub(crate) fn object(&self) -> CstObject {
        self.root.object_value_or_set()
    }

    /// The edited text.
    pub(crate) fn text(&self) -> String {
        let body = self.root.to_string();
        if self.bom {
            format!("{BOM}{body}")
        } else {
            body
        }
    }
}

/// Reads `text` as a plain value for looking at (not for writing back).
pub(crate) fn value(
    path: &Path,
    text: &str,
    flavor: Flavor,
) -> Result<serde_json::Value, ToolError> {
    let body = text.trim_start_matches(BOM);
    if body.trim().is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    let value: serde_json::Value = jsonc_parser::parse_to_serde_value(body, &flavor.options())
        .map_err(|error| ToolError::malformed(path, error.to_string()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ToolError::malformed(
            path,
            "the top level is not a JSON object",
        ))
    }
}

/// Sets `key` in `object`, replacing its value in place or appending it.
pub(crate) fn set(object: &CstObject, key: &str, value: CstInputValue) {
    match object.get(key) {
        Some(property) => property.set_value(value),
        None => {
            object.append(key, value);
        }
    }
}

/// The object under `key`, created when missing. A value of another kind
/// there is a file Switchyard does not understand, so it is refused.
pub(crate) fn child_object(
    path: &Path,
    object: &CstObject,
    key: &str,
) -> Result<CstObject, ToolError> {
    match object.get(key) {
        None => Ok(object.object_value_or_set(key)),
        Some(property) => property
            .object_value()
            .ok_or_else(|| ToolError::malformed(path, format!("\"{key}\" is not an object"))),
    }
}

/// A string value to insert.
pub(crate) fn string(text: &str) -> CstInputValue {
    CstInputValue::String(text.to_owned())
}

/// An object value to insert, keys in the given order.
pub(crate) fn object(entries: Vec<(&str, CstInputValue)>) -> CstInputValue {
    CstInputValue::Object(
        entries
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    )
}

/// The string at `pointer` (JSON Pointer) in `value`.
pub(crate) fn str_at(value: &serde_json::Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_comments_order_and_layout() {
        let text = "{\n  // keep me\n  \"z\": 1,\n  \"env\": {\n    \"A\": \"x\"\n  },\n  \"a\": [1, 2]\n}\n";
        let document = Document::parse(Path::new("f"), Some(text), Flavor::Lenient).unwrap();
        let env = child_object(Path::new("f"), &document.object(), "env").unwrap();
        set(&env, "A", string("y"));
        set(&env, "B", string("z"));
        assert_eq!(
            document.text(),
            "{\n  // keep me\n  \"z\": 1,\n  \"env\": {\n    \"A\": \"y\",\n    \"B\": \"z\"\n  },\n  \"a\": [1, 2]\n}\n"
        );
    }

    #[test]
    fn strict_files_refuse_comments_and_everything_refuses_garbage() {
        let path = Path::new("f");
        assert!(Document::parse(path, Some("{ // c\n}"), Flavor::Strict).is_err());
        assert!(Document::parse(path, Some("{ // c\n}"), Flavor::Lenient).is_ok());
        assert!(Document::parse(path, Some("{\"a\": 1 \"b\": 2}"), Flavor::Lenient).is_err());
        assert!(Document::parse(path, Some("{\"a\": "), Flavor::Lenient).is_err());
        assert!(Document::parse(path, Some("[1]"), Flavor::Lenient).is_err());
    }

    #[test]
    fn a_missing_or_empty_file_starts_as_an_object() {
        let document = Document::parse(Path::new("f"), None, Flavor::Strict).unwrap();
        set(&document.object(), "k", string("v"));
        let text = document.text();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            serde_json::json!({"k": "v"})
        );
    }
}
