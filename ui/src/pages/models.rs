//! The Models page: every model clients can name (each provider's models
//! as `prefix/model`, combos and aliases), searchable, and the aliases:
//! short names for a model or combo, added and removed here.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{AliasView, ComboView, ProviderView};

use crate::api;

/// One name a client can send as `model`.
#[derive(Debug, Clone, PartialEq)]
struct ModelRow {
    /// What the client sends.
    name: String,
    /// `model`, `combo` or `alias`.
    kind: &'static str,
    /// Where it goes.
    detail: String,
    /// Whether requests can use it now.
    enabled: bool,
}

fn rows(providers: &[ProviderView], combos: &[ComboView], aliases: &[AliasView]) -> Vec<ModelRow> {
    let mut rows = Vec::new();
    for provider in providers {
        for model in &provider.models {
            rows.push(ModelRow {
                name: format!("{}/{model}", provider.prefix),
                kind: "model",
                detail: provider.name.clone(),
                enabled: provider.enabled && provider.accounts.iter().any(|a| a.enabled),
            });
        }
    }
    for combo in combos {
        rows.push(ModelRow {
            name: combo.name.clone(),
            kind: "combo",
            detail: format!(
                "{}: {}",
                combo.strategy,
                combo
                    .targets
                    .iter()
                    .map(|t| t.target.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            enabled: combo.targets.iter().any(|t| t.enabled),
        });
    }
    for alias in aliases {
        rows.push(ModelRow {
            name: alias.name.clone(),
            kind: "alias",
            detail: format!("→ {}", alias.target),
            enabled: true,
        });
    }
    rows
}

/// The Models page.
#[component]
pub(crate) fn ModelsPage() -> impl IntoView {
    let providers = RwSignal::new(None::<Vec<ProviderView>>);
    let combos = RwSignal::new(Vec::<ComboView>::new());
    let aliases = RwSignal::new(Vec::<AliasView>::new());
    let problem = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::list_providers().await {
                Ok(list) => providers.set(Some(list)),
                Err(error) => problem.set(Some(error.message)),
            }
            if let Ok(list) = api::list_combos().await {
                combos.set(list);
            }
            if let Ok(list) = api::list_aliases().await {
                aliases.set(list);
            }
        });
    };
    reload();
    let search = RwSignal::new(String::new());
    let alias_name = RwSignal::new(String::new());
    let alias_target = RwSignal::new(String::new());
    let add_alias = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        spawn_local(async move {
            match api::add_alias(alias_name.get_untracked(), alias_target.get_untracked()).await {
                Ok(()) => {
                    problem.set(None);
                    alias_name.set(String::new());
                    alias_target.set(String::new());
                }
                Err(error) => problem.set(Some(error.message)),
            }
            reload();
        });
    };
    let all = move || {
        providers.with(|list| {
            list.as_ref()
                .map(|list| rows(list, &combos.get(), &aliases.get()))
        })
    };
    view! {
        <header class="page-header">
            <h1>"Models"</h1>
            <input id="model-search" type="search" placeholder="search models, combos, aliases…"
                prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
        </header>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert" id="models-error">{message}</div> })}
        {move || match all() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(rows) if rows.is_empty() => view! {
                <p class="muted" id="no-models">"No models yet: connect an account or add a provider first."</p>
            }.into_any(),
            Some(rows) => {
                let needle = search.get().trim().to_lowercase();
                let shown: Vec<ModelRow> = rows.into_iter()
                    .filter(|row| needle.is_empty() || row.name.to_lowercase().contains(&needle) || row.detail.to_lowercase().contains(&needle))
                    .collect();
                let count = shown.len();
                view! {
                    <p class="muted" id="model-count">{format!("{count} names clients can send as model")}</p>
                    <table class="log" id="models">
                        <thead><tr><th>"Name"</th><th>"Kind"</th><th>"Goes to"</th><th></th></tr></thead>
                        <tbody>
                            {shown.into_iter().map(|row| {
                                let alias = (row.kind == "alias").then(|| row.name.clone());
                                view! {
                                    <tr class=format!("model-row {}", row.kind)>
                                        <td class="mono">{row.name.clone()}</td>
                                        <td class="muted">{row.kind}</td>
                                        <td class="muted">{row.detail.clone()}{(!row.enabled).then_some(" (off)")}</td>
                                        <td>{alias.map(|name| view! {
                                            <button class="secondary danger" on:click=move |_| {
                                                let name = name.clone();
                                                spawn_local(async move {
                                                    if let Err(error) = api::remove_alias(name).await { problem.set(Some(error.message)); }
                                                    reload();
                                                });
                                            }>"Remove"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }
        }}
        <section class="panel">
            <h2>"Add an alias"</h2>
            <p class="muted">"A short name clients can send instead of a long model or combo name."</p>
            <form class="inline-form" on:submit=add_alias>
                <input id="alias-name" placeholder="alias, e.g. fast" prop:value=move || alias_name.get()
                    on:input=move |ev| alias_name.set(event_target_value(&ev))/>
                <input id="alias-target" list="alias-targets" placeholder="target, e.g. gh/gpt-4.1" prop:value=move || alias_target.get()
                    on:input=move |ev| alias_target.set(event_target_value(&ev))/>
                <datalist id="alias-targets">
                    {move || all().unwrap_or_default().into_iter().filter(|r| r.kind != "alias").map(|row| view! { <option value=row.name.clone()></option> }).collect_view()}
                </datalist>
                <button type="submit" id="add-alias">"Add alias"</button>
            </form>
        </section>
    }
}
