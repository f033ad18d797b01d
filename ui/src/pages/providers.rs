//! The Providers page: every provider with its accounts and their live
//! status, a switch per account, and a form to add an API-key provider.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{AccountStatus, AccountView, NewProviderInput, ProviderView};

use super::load_polled;
use crate::api;

/// How often the page re-reads the providers.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// What the page shows, as far as rebuilding is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Loading,
    Empty,
    Listed,
}

/// The Providers page.
#[component]
pub(crate) fn ProvidersPage() -> impl IntoView {
    let (loaded, reload) = load_polled(api::list_providers, Some(REFRESH_EVERY));
    let (providers, problem) = (loaded.data, loaded.problem);
    // Only the page's shape decides what is rebuilt: the list itself is
    // keyed, so polling never rebuilds a card someone is working in.
    let shape = Memo::new(move |_| {
        providers.with(|list| match list {
            None => Shape::Loading,
            Some(list) if list.is_empty() => Shape::Empty,
            Some(_) => Shape::Listed,
        })
    });

    view! {
        <header class="page-header"><h1>"Providers"</h1></header>
        {move || problem.get().map(|message| view! {
            <div class="banner error" role="alert" id="providers-error">{message}</div>
        })}
        {move || match shape.get() {
            Shape::Loading => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Shape::Empty => view! {
                <p class="muted" id="no-providers">"No providers yet: connect a subscription or add an API-key provider below."</p>
            }.into_any(),
            // Keyed by id, with live data read through memos: a card and
            // its account rows are built once, so an open Manage panel and
            // what it shows survive the polling.
            Shape::Listed => view! {
                <div class="provider-list">
                    <For each={move || provider_ids(providers)}
                        key={|id: &i64| *id}
                        children={move |provider_id: i64| view! { <ProviderCard provider_id=provider_id providers=providers on_change=reload/> }}/>
                </div>
            }.into_any(),
        }}
        <super::connect::ConnectPanel on_connected=reload/>
        <AddProviderForm on_added=reload/>
    }
}

fn provider_ids(providers: RwSignal<Option<Vec<ProviderView>>>) -> Vec<i64> {
    providers.with(|list| list.iter().flatten().map(|p| p.id).collect())
}

fn account_ids(provider: Memo<Option<ProviderView>>) -> Vec<i64> {
    provider.with(|p| {
        p.iter()
            .flat_map(|p| p.accounts.iter().map(|a| a.id))
            .collect()
    })
}

#[component]
fn ProviderCard(
    provider_id: i64,
    providers: RwSignal<Option<Vec<ProviderView>>>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let provider = Memo::new(move |_| {
        providers.with(|list| {
            list.as_ref()
                .and_then(|list| list.iter().find(|p| p.id == provider_id).cloned())
        })
    });
    let read = move |field: fn(&ProviderView) -> String| {
        move || provider.with(|p| p.as_ref().map(field).unwrap_or_default())
    };
    let prefix =
        provider.with_untracked(|p| p.as_ref().map(|p| p.prefix.clone()).unwrap_or_default());
    let subscription = provider.with_untracked(|p| p.as_ref().and_then(|p| p.subscription.clone()));
    view! {
        <section class="panel provider" id=format!("provider-{prefix}")>
            <div class="provider-head">
                <h2>{read(|p| p.name.clone())}</h2>
                <span class="muted mono">{read(|p| format!("{}/…", p.prefix))}</span>
                <span class="muted">{read(|p| p.kind.clone())}</span>
                {move || provider.with(|p| p.as_ref().is_some_and(|p| !p.enabled)).then(|| view! { <span class="badge stopped">"disabled"</span> })}
            </div>
            <p class="muted mono">{read(|p| p.base_url.clone())}</p>
            <details class="models">
                <summary class="muted">{read(|p| format!("{} models", p.models.len()))}</summary>
                <p class="mono small">{read(|p| p.models.iter().map(|m| format!("{}/{m}", p.prefix)).collect::<Vec<_>>().join("  "))}</p>
            </details>
            <table class="accounts">
                <tbody>
                    <For each={move || account_ids(provider)}
                        key={|id: &i64| *id}
                        children={move |account_id: i64| view! {
                            <AccountRow account_id=account_id provider=provider subscription=subscription.clone() on_change=on_change/>
                        }}/>
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn AccountRow(
    account_id: i64,
    provider: Memo<Option<ProviderView>>,
    subscription: Option<String>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let account = Memo::new(move |_| {
        provider.with(|p| {
            p.as_ref()
                .and_then(|p| p.accounts.iter().find(|a| a.id == account_id).cloned())
        })
    });
    let id = account_id;
    let status = move || {
        account.with(|a| match a.as_ref().map(|a| &a.status) {
            Some(AccountStatus::Ok) => ("running", "ok".to_owned()),
            Some(AccountStatus::Off) | None => ("stopped", "off".to_owned()),
            Some(AccountStatus::CoolingDown { reason, .. }) => {
                ("starting", format!("cooling down: {reason}"))
            }
            Some(AccountStatus::NeedsLogin) => ("failed", "needs re-login".to_owned()),
        })
    };
    let enabled = move || account.with(|a| a.as_ref().is_some_and(|a| a.enabled));
    let toggle = move |_| {
        let wanted = !enabled();
        spawn_local(async move {
            let _ = api::set_account_enabled(id, wanted).await;
            on_change();
        });
    };
    let initial = account.get_untracked();
    view! {
        <tr class="account" id=format!("account-{id}")>
            <td>
                <label>
                    <input type="checkbox" class="account-toggle" prop:checked=enabled on:change=toggle/>
                    " " {move || account.with(|a| a.as_ref().map(|a| a.label.clone()).unwrap_or_default())}
                </label>
            </td>
            <td class="muted">{move || account.with(|a| a.as_ref().map(|a| a.auth.clone()).unwrap_or_default())}</td>
            <td><span class=move || format!("badge {} account-status", status().0)>{move || status().1}</span></td>
            <td class="muted">{move || account.with(|a| a.as_ref().map(|a| a.quotas.iter().map(|q| match q.used_percent {
                Some(percent) => format!("{} {percent:.0}%", q.window),
                None => format!("{} {}/{}", q.window, q.used.unwrap_or(0), q.max.unwrap_or(0)),
            }).collect::<Vec<_>>().join(" · ")).unwrap_or_default())}</td>
            <td>{initial.map(|initial| view! { <AccountActions account=initial subscription=subscription on_change=on_change/> })}</td>
        </tr>
    }
}

/// Per-account actions, behind a disclosure so the list stays calm:
/// priority, rename, test, end cooldowns, log in again, remove (asked twice).
#[component]
fn AccountActions(
    account: AccountView,
    subscription: Option<String>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = account.id;
    let label = RwSignal::new(account.label.clone());
    let priority = RwSignal::new(account.priority.to_string());
    let result = RwSignal::new(None::<Result<String, String>>);
    let confirm_remove = RwSignal::new(false);
    let requests = use_context::<crate::links::LinkRequests>();
    let report = move |outcome: Result<String, String>| {
        result.set(Some(outcome));
        on_change();
    };
    view! {
        <details class="account-actions">
            <summary class="muted">"Manage"</summary>
            <div class="inline-form">
                <input class="account-label" aria-label="Label" prop:value=move || label.get()
                    on:input=move |ev| label.set(event_target_value(&ev))/>
                <button class="secondary account-rename" on:click=move |_| spawn_local(async move {
                    report(api::rename_account(id, label.get_untracked()).await.map(|()| "renamed".into()).map_err(|e| e.message));
                })>"Rename"</button>
                <input class="account-priority weight" type="number" aria-label="Priority" prop:value=move || priority.get()
                    on:input=move |ev| priority.set(event_target_value(&ev))/>
                <button class="secondary account-set-priority" on:click=move |_| spawn_local(async move {
                    let value = priority.get_untracked().trim().parse::<i64>();
                    report(match value {
                        Ok(value) => api::set_account_priority(id, value).await.map(|()| format!("priority {value}")).map_err(|e| e.message),
                        Err(_) => Err("the priority is a whole number (lower goes first)".into()),
                    });
                })>"Set priority"</button>
            </div>
            <div class="inline-form">
                <button class="secondary account-test" on:click=move |_| {
                    result.set(Some(Ok("testing…".into())));
                    spawn_local(async move { report(api::test_account(id).await.map_err(|e| e.message)); });
                }>"Test"</button>
                <button class="secondary account-reset" on:click=move |_| spawn_local(async move {
                    report(api::reset_cooldowns(id).await.map(|n| format!("{n} cooldowns ended")).map_err(|e| e.message));
                })>"End cooldowns"</button>
                {subscription.map(|service| view! {
                    <button class="secondary account-relogin" on:click=move |_| {
                        if let Some(requests) = requests {
                            requests.connect.set(Some(service.clone()));
                        }
                    }>"Log in again"</button>
                })}
                <button class="secondary danger account-remove" on:click=move |_| {
                    if !confirm_remove.get_untracked() {
                        confirm_remove.set(true);
                        return;
                    }
                    spawn_local(async move {
                        report(api::remove_account(id).await.map(|()| "removed".into()).map_err(|e| e.message));
                    });
                }>{move || if confirm_remove.get() { "Click again to remove" } else { "Remove" }}</button>
            </div>
            {move || result.get().map(|outcome| match outcome {
                Ok(text) => view! { <p class="ok small account-result">{text}</p> }.into_any(),
                Err(text) => view! { <p class="bad small account-result">{text}</p> }.into_any(),
            })}
        </details>
    }
}

#[component]
fn AddProviderForm(on_added: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let prefix = RwSignal::new(String::new());
    let kind = RwSignal::new("openai".to_owned());
    let base_url = RwSignal::new(String::new());
    let api_key = RwSignal::new(String::new());
    let models = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    // A shared provider link fills the form; the user adds the key.
    if let Some(requests) = use_context::<crate::links::LinkRequests>() {
        Effect::new(move |_| {
            if let Some(shared) = requests.provider.get() {
                name.set(shared.name);
                prefix.set(shared.prefix);
                kind.set(shared.kind);
                base_url.set(shared.base_url);
                models.set(shared.models.join(", "));
                requests.provider.set(None);
            }
        });
    }
    // The built-in catalogue: picking one fills the form but the key.
    let presets = RwSignal::new(Vec::<switchyard_api_types::PresetView>::new());
    spawn_local(async move {
        if let Ok(list) = api::list_presets().await {
            presets.set(list);
        }
    });
    let pick = move |id: String| {
        if let Some(preset) =
            presets.with_untracked(|list| list.iter().find(|p| p.id == id).cloned())
        {
            name.set(preset.name);
            prefix.set(preset.prefix);
            kind.set(preset.kind);
            base_url.set(preset.base_url);
            models.set(preset.models.join(", "));
        }
    };
    // Set when the key could not be checked: the user may save it anyway.
    let unchecked = RwSignal::new(false);
    let send = move |skip_check: bool| {
        let input = NewProviderInput {
            name: name.get(),
            prefix: prefix.get(),
            kind: kind.get(),
            base_url: base_url.get(),
            api_key: api_key.get(),
            models: models
                .get()
                .split(',')
                .map(str::trim)
                .filter(|model| !model.is_empty())
                .map(str::to_owned)
                .collect(),
            skip_check,
        };
        outcome.set(Some(Ok("checking the key with the provider…".into())));
        spawn_local(async move {
            match api::add_provider(input).await {
                Ok(added) => {
                    unchecked.set(false);
                    outcome.set(Some(Ok(added)));
                    api_key.set(String::new());
                    on_added();
                }
                Err(error) => {
                    unchecked.set(error.kind == "unchecked");
                    outcome.set(Some(Err(error.message)));
                }
            }
        });
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        send(false);
    };
    let field = |label: &'static str,
                 id: &'static str,
                 signal: RwSignal<String>,
                 kind: &'static str| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input id=id type=kind prop:value=move || signal.get() on:input=move |ev| signal.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <section class="panel">
            <h2>"Add a provider with an API key"</h2>
            <label class="field">
                <span>"Start from"</span>
                <select id="provider-preset" on:change=move |ev| pick(event_target_value(&ev))>
                    <option value="">"A compatible server of your own"</option>
                    {move || presets.get().into_iter().map(|preset| view! {
                        <option value=preset.id.clone()>{preset.name.clone()}</option>
                    }).collect_view()}
                </select>
            </label>
            <form id="add-provider" on:submit=submit class="form-grid">
                {field("Name", "provider-name", name, "text")}
                {field("Prefix", "provider-prefix", prefix, "text")}
                <label class="field">
                    <span>"Format"</span>
                    <select id="provider-kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="openai">"OpenAI-compatible"</option>
                        <option value="anthropic">"Anthropic-compatible"</option>
                        <option value="gemini">"Gemini"</option>
                        <option value="responses">"OpenAI Responses"</option>
                    </select>
                </label>
                {field("Base URL", "provider-base-url", base_url, "url")}
                {field("API key", "provider-api-key", api_key, "password")}
                {field("Models (comma-separated)", "provider-models", models, "text")}
                <button type="submit" id="provider-submit">"Add provider"</button>
            </form>
            {move || outcome.get().map(|outcome| match outcome {
                Ok(message) => view! { <p class="ok" id="provider-added">{message}</p> }.into_any(),
                Err(message) => view! {
                    <div class="banner error" role="alert" id="provider-add-error">{message}
                        {move || unchecked.get().then(|| view! {
                            " " <button class="secondary" id="provider-add-anyway" on:click=move |_| send(true)>"Add without checking"</button>
                        })}
                    </div>
                }.into_any(),
            })}
        </section>
    }
}
