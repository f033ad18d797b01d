//! Tools whose settings live in an editor's internal state (VS Code's
//! extension storage and secret store, Cursor's app settings), where no file
//! can be safely edited: Switchyard shows the exact values to paste instead.

use switchyard_api_types::{ManualSetup, ManualValue, ToolId};

use crate::Target;

fn value(label: &str, value: &str, secret: bool) -> ManualValue {
    ManualValue {
        label: label.to_owned(),
        value: value.to_owned(),
        secret,
    }
}

pub(super) fn setup(tool: ToolId, target: &Target) -> Option<ManualSetup> {
    let key = target
        .api_key
        .clone()
        .unwrap_or_else(|| "<a key from `switchyard key create`>".to_owned());
    let model = target
        .model
        .clone()
        .unwrap_or_else(|| "<a model or combo name Switchyard routes>".to_owned());
    let has_key = target.api_key.is_some();
    let openai_compatible = |name: &str| ManualSetup {
        steps: vec![
            format!("Open the {name} panel in VS Code and click its settings (gear) icon"),
            "Set API Provider to \"OpenAI Compatible\"".to_owned(),
            "Fill in the fields below and save".to_owned(),
        ],
        values: vec![
            value("Base URL", &target.v1(), false),
            value("API Key", &key, has_key),
            value("Model ID", &model, false),
        ],
        caveat: None,
    };
    match tool {
        ToolId::Cline => Some(openai_compatible("Cline")),
        ToolId::RooCode => Some(openai_compatible("Roo Code")),
        ToolId::Cursor => Some(ManualSetup {
            steps: vec![
                "Open Cursor Settings, then Models".to_owned(),
                "Under API Keys, enter the OpenAI API Key and turn on \"Override OpenAI Base URL\""
                    .to_owned(),
                "Add the model name with \"Add model\" and turn it on".to_owned(),
            ],
            values: vec![
                value("OpenAI API Key", &key, has_key),
                value("Override OpenAI Base URL", &target.v1(), false),
                value("Model name", &model, false),
            ],
            caveat: Some(
                "Cursor calls a custom base URL from Cursor's servers, not from your machine, so a 127.0.0.1 address is not reachable from there: it works only through a public HTTPS tunnel to the gateway (and then anyone with the URL and key can use it)."
                    .to_owned(),
            ),
        }),
        _ => None,
    }
}
