//! Calls into the desktop app through `window.__TAURI__.core.invoke`. When the
//! page runs outside Tauri (a plain browser), calls fail with a clear error
//! instead of panicking.

use serde::de::DeserializeOwned;
use switchyard_api_types::{CommandError, Overview};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    async fn tauri_invoke(command: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

/// Calls `command` with no arguments and decodes its answer.
async fn invoke<T: DeserializeOwned>(command: &str) -> Result<T, CommandError> {
    let answer = tauri_invoke(command, JsValue::from(js_sys::Object::new()))
        .await
        .map_err(command_error)?;
    serde_wasm_bindgen::from_value(answer).map_err(|error| CommandError {
        kind: "decode".into(),
        message: format!("unexpected answer from {command}: {error}"),
    })
}

/// Turns a rejected invoke into a [`CommandError`]: either the command's own
/// error or a description of what went wrong on the way.
fn command_error(value: JsValue) -> CommandError {
    if let Ok(error) = serde_wasm_bindgen::from_value::<CommandError>(value.clone()) {
        return error;
    }
    let message = value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| {
            "the desktop app did not answer (is this page running inside Switchyard?)".into()
        });
    CommandError {
        kind: "ipc".into(),
        message,
    }
}

/// What the Overview page shows.
pub async fn get_overview() -> Result<Overview, CommandError> {
    invoke("get_overview").await
}
