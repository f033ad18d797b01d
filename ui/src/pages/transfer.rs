//! Moving a configuration, on the Settings page: export it to a file
//! (keys and tokens only when asked), import an exported file (previewed
//! first), or import an existing 9router installation.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::TransferReport;
use wasm_bindgen::JsCast;

use crate::api;

/// The text of the file chosen in the `<input type=file>` with this id.
async fn chosen_file_text(input_id: &str) -> Result<String, String> {
    let input = document()
        .get_element_by_id(input_id)
        .and_then(|element| element.dyn_into::<web_sys::HtmlInputElement>().ok())
        .ok_or("the file field is missing")?;
    let file = input
        .files()
        .and_then(|files| files.get(0))
        .ok_or("choose a file first")?;
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .map_err(|_| "the file cannot be read")?;
    text.as_string()
        .ok_or_else(|| "the file is not text".into())
}

/// A report: what was (or would be) added, updated and left out.
#[component]
fn Report(report: TransferReport) -> impl IntoView {
    let title = if report.dry_run {
        "Preview: nothing written yet"
    } else {
        "Imported"
    };
    view! {
        <div class="report" id="transfer-report">
            <p><strong>{title}</strong>{format!(" · {} added, {} updated, {} left out", report.added.len(), report.updated.len(), report.skipped.len())}</p>
            {(!report.added.is_empty()).then(|| view! { <p class="small">"Added: " {report.added.join(", ")}</p> })}
            {(!report.updated.is_empty()).then(|| view! { <p class="small">"Updated: " {report.updated.join(", ")}</p> })}
            {(!report.skipped.is_empty()).then(|| view! {
                <ul class="small">{report.skipped.into_iter().map(|skip| view! { <li>{format!("{}: {}", skip.item, skip.reason)}</li> }).collect_view()}</ul>
            })}
            {report.notes.into_iter().map(|note| view! { <p class="muted small">{note}</p> }).collect_view()}
        </div>
    }
}

/// The "Move your configuration" panel.
#[component]
pub(crate) fn TransferPanel() -> impl IntoView {
    let with_secrets = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let report = RwSignal::new(None::<TransferReport>);
    let nine_router = RwSignal::new(String::new());
    spawn_local(async move {
        if let Ok(Some(path)) = api::find_9router().await {
            nine_router.set(path);
        }
    });
    let export = move |_| {
        spawn_local(async move {
            outcome.set(Some(
                api::export_config(with_secrets.get_untracked())
                    .await
                    .map(|path| format!("Saved {path}"))
                    .map_err(|error| error.message),
            ));
        });
    };
    let import_file = move |dry_run: bool| {
        spawn_local(async move {
            let result = match chosen_file_text("config-file").await {
                Ok(json) => api::import_config(json, dry_run)
                    .await
                    .map_err(|error| error.message),
                Err(message) => Err(message),
            };
            match result {
                Ok(done) => {
                    outcome.set(None);
                    report.set(Some(done));
                }
                Err(message) => outcome.set(Some(Err(message))),
            }
        });
    };
    let import_nine = move |dry_run: bool| {
        spawn_local(async move {
            let path = Some(nine_router.get_untracked()).filter(|p| !p.trim().is_empty());
            match api::import_9router(path, dry_run).await {
                Ok(done) => {
                    outcome.set(None);
                    report.set(Some(done));
                }
                Err(error) => outcome.set(Some(Err(error.message))),
            }
        });
    };
    view! {
        <section class="panel" id="transfer">
            <h2>"Move your configuration"</h2>
            <div class="inline-form">
                <label><input type="checkbox" id="export-secrets" prop:checked=move || with_secrets.get()
                    on:change=move |ev| with_secrets.set(event_target_checked(&ev))/>
                    " include keys and tokens (the file then holds secrets)"</label>
                <button class="secondary" id="export-config" on:click=export>"Export"</button>
            </div>
            <div class="inline-form">
                <input type="file" id="config-file" accept=".json,application/json"/>
                <button class="secondary" id="preview-import" on:click=move |_| import_file(true)>"Preview import"</button>
                <button class="secondary" id="import-config" on:click=move |_| import_file(false)>"Import"</button>
            </div>
            <div class="inline-form">
                <input id="nine-router-path" placeholder="9router's db.json or data.sqlite" prop:value=move || nine_router.get()
                    on:input=move |ev| nine_router.set(event_target_value(&ev))/>
                <button class="secondary" id="preview-9router" on:click=move |_| import_nine(true)>"Preview 9router import"</button>
                <button class="secondary" id="import-9router" on:click=move |_| import_nine(false)>"Import from 9router"</button>
            </div>
            {move || outcome.get().map(|outcome| match outcome {
                Ok(text) => view! { <p class="ok" id="transfer-done">{text}</p> }.into_any(),
                Err(text) => view! { <div class="banner error" role="alert" id="transfer-error">{text}</div> }.into_any(),
            })}
            {move || report.get().map(|report| view! { <Report report=report/> })}
        </section>
    }
}
