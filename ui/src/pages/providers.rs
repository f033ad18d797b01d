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

/// The Providers page.
#[component]
pub(crate) fn ProvidersPage() -> impl IntoView {
    let (loaded, reload) = load_polled(api::list_providers, Some(REFRESH_EVERY));
    let (providers, problem) = (loaded.data, loaded.problem);

    view! {
        <header class="page-header"><h1>"Providers"</h1></header>
        {move || problem.get().map(|message| view! {
            <div class="banner error" role="alert" id="providers-error">{message}</div>
        })}
        {move || match providers.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(list) if list.is_empty() => view! {
                <p class="muted" id="no-providers">"No providers yet: connect a subscription or add an API-key provider below."</p>
            }.into_any(),
            Some(list) => view! {
                <div class="provider-list">
                    {list.into_iter().map(|provider| view! { <ProviderCard provider=provider on_change=reload/> }).collect_view()}
                </div>
            }.into_any(),
        }}
        <super::connect::ConnectPanel on_connected=reload/>
        <AddProviderForm on_added=reload/>
    }
}

#[component]
fn ProviderCard(
    provider: ProviderView,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = format!("provider-{}", provider.prefix);
    view! {
        <section class="panel provider" id=id>
            <div class="provider-head">
                <h2>{provider.name.clone()}</h2>
                <span class="muted mono">{format!("{}/…", provider.prefix)}</span>
                <span class="muted">{provider.kind.clone()}</span>
                {(!provider.enabled).then(|| view! { <span class="badge stopped">"disabled"</span> })}
            </div>
            <p class="muted mono">{provider.base_url.clone()}</p>
            <table class="accounts">
                <tbody>
                    {provider.accounts.into_iter().map(|account| view! { <AccountRow account=account on_change=on_change/> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn AccountRow(
    account: AccountView,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let (status_class, status_text) = match &account.status {
        AccountStatus::Ok => ("running", "ok".to_owned()),
        AccountStatus::Off => ("stopped", "off".to_owned()),
        AccountStatus::CoolingDown { reason, .. } => {
            ("starting", format!("cooling down: {reason}"))
        }
        AccountStatus::NeedsLogin => ("failed", "needs re-login".to_owned()),
    };
    let id = account.id;
    let enabled = account.enabled;
    let toggle = move |_| {
        spawn_local(async move {
            let _ = api::set_account_enabled(id, !enabled).await;
            on_change();
        });
    };
    view! {
        <tr class="account" id=format!("account-{id}")>
            <td>
                <label>
                    <input type="checkbox" class="account-toggle" prop:checked=enabled on:change=toggle/>
                    " " {account.label.clone()}
                </label>
            </td>
            <td class="muted">{account.auth.clone()}</td>
            <td><span class=format!("badge {status_class} account-status")>{status_text}</span></td>
            <td class="muted">{account.quotas.iter().map(|q| match q.used_percent {
                Some(percent) => format!("{} {percent:.0}%", q.window),
                None => format!("{} {}/{}", q.window, q.used.unwrap_or(0), q.max.unwrap_or(0)),
            }).collect::<Vec<_>>().join(" · ")}</td>
        </tr>
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
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
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
        };
        spawn_local(async move {
            match api::add_provider(input).await {
                Ok(()) => {
                    outcome.set(Some(Ok(format!("added {}", name.get_untracked()))));
                    api_key.set(String::new());
                    on_added();
                }
                Err(error) => outcome.set(Some(Err(error.message))),
            }
        });
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
                Err(message) => view! { <div class="banner error" role="alert" id="provider-add-error">{message}</div> }.into_any(),
            })}
        </section>
    }
}
