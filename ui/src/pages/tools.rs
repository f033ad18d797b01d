//! The Tools page: the coding tools people use with Switchyard, whether
//! each is installed and already pointed at the gateway, one click to set
//! it up with a chosen model or combo (the user's file is backed up first),
//! and a restore of that backup. Tools whose settings live in an editor's
//! internal state get the exact values to paste.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{ToolSetupKind, ToolStatus};

use crate::api;

/// The Tools page.
#[component]
pub(crate) fn ToolsPage() -> impl IntoView {
    let tools = RwSignal::new(None::<Vec<ToolStatus>>);
    let models = RwSignal::new(Vec::<String>::new());
    let problem = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::list_tools().await {
                Ok(list) => tools.set(Some(list)),
                Err(error) => problem.set(Some(error.message)),
            }
        });
    };
    reload();
    spawn_local(async move {
        let mut names = Vec::new();
        if let Ok(providers) = api::list_providers().await {
            for provider in providers {
                names.extend(
                    provider
                        .models
                        .iter()
                        .map(|m| format!("{}/{m}", provider.prefix)),
                );
            }
        }
        if let Ok(combos) = api::list_combos().await {
            names.extend(combos.into_iter().map(|combo| combo.name));
        }
        if let Ok(aliases) = api::list_aliases().await {
            names.extend(aliases.into_iter().map(|alias| alias.name));
        }
        models.set(names);
    });
    view! {
        <header class="page-header"><h1>"Tools"</h1></header>
        <p class="muted">"Point your coding tools at Switchyard. Their settings file is backed up before the first change and can be restored at any time."</p>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert" id="tools-error">{message}</div> })}
        {move || done.get().map(|message| view! { <div class="banner ok" role="status" id="tools-done">{message}</div> })}
        <datalist id="tool-models">
            {move || models.get().into_iter().map(|name| view! { <option value=name></option> }).collect_view()}
        </datalist>
        {move || match tools.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(list) => view! {
                <div class="tool-list">
                    {list.into_iter().map(|status| view! { <ToolCard status=status problem=problem done=done on_change=reload/> }).collect_view()}
                </div>
            }.into_any(),
        }}
    }
}

#[component]
fn ToolCard(
    status: ToolStatus,
    problem: RwSignal<Option<String>>,
    done: RwSignal<Option<String>>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let tool = status.tool;
    let id = tool.as_str();
    let model = RwSignal::new(status.current_model.clone().unwrap_or_default());
    let name = status.name.clone();
    let apply = move |_| {
        let name = name.clone();
        spawn_local(async move {
            let chosen = Some(model.get_untracked()).filter(|m| !m.trim().is_empty());
            match api::apply_tool(tool, chosen).await {
                Ok(applied) => {
                    problem.set(None);
                    let mut message = if applied.is_manual {
                        format!("{name}: paste the values shown below.")
                    } else {
                        format!(
                            "{name} now uses Switchyard ({}).",
                            applied.files_written.join(", ")
                        )
                    };
                    for note in applied.notes {
                        message.push(' ');
                        message.push_str(&note);
                    }
                    done.set(Some(message));
                }
                Err(error) => problem.set(Some(error.message)),
            }
            on_change();
        });
    };
    let restore_name = status.name.clone();
    let restore = move |_| {
        let name = restore_name.clone();
        spawn_local(async move {
            match api::restore_tool(tool).await {
                Ok(_) => {
                    problem.set(None);
                    done.set(Some(format!("{name}: your own settings are back.")));
                }
                Err(error) => problem.set(Some(error.message)),
            }
            on_change();
        });
    };
    let state = match (status.installed, status.configured_for_switchyard) {
        (false, _) => ("idle", "not installed"),
        (true, Some(true)) => ("running", "uses Switchyard"),
        (true, Some(false)) => ("starting", "not set up"),
        (true, None) => ("starting", "set up by hand"),
    };
    let manual = status.setup == ToolSetupKind::Manual;
    view! {
        <section class="panel tool" id=format!("tool-{id}")>
            <div class="panel-head">
                <h2>{status.name.clone()}</h2>
                <span class=format!("badge {} tool-state", state.0)>{state.1}</span>
            </div>
            <p class="muted mono">{status.config_path.clone().unwrap_or_default()}</p>
            {status.current_base_url.clone().map(|url| view! {
                <p class="muted">"Now: " <span class="mono">{url}</span>
                    {status.current_model.clone().map(|m| format!(" · model {m}"))}</p>
            })}
            {status.problem.clone().map(|problem| view! { <p class="bad">{problem}</p> })}
            {status.installed.then(|| view! {
                <div class="inline-form">
                    {(!manual).then(|| view! {
                        <input class="tool-model" list="tool-models" placeholder="model or combo"
                            prop:value=move || model.get() on:input=move |ev| model.set(event_target_value(&ev))/>
                    })}
                    <button class="tool-apply" on:click=apply.clone()>{if manual { "Show values" } else { "Set up" }}</button>
                    {status.has_backup.then(|| view! {
                        <button class="secondary tool-restore" on:click=restore.clone()>"Restore my settings"</button>
                    })}
                </div>
            })}
            {status.manual.clone().filter(|_| status.installed).map(|manual| view! {
                <ol class="small">{manual.steps.into_iter().map(|step| view! { <li>{step}</li> }).collect_view()}</ol>
                <table><tbody>
                    {manual.values.into_iter().map(|value| view! {
                        <tr><td class="muted">{value.label}</td>
                            <td class="mono">{if value.secret { "(your API key: Copy API key on the Overview)".to_owned() } else { value.value }}</td></tr>
                    }).collect_view()}
                </tbody></table>
                {manual.caveat.map(|caveat| view! { <p class="muted">{caveat}</p> })}
            })}
        </section>
    }
}
