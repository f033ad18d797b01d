//! The Overview page: where the gateway listens (with copy buttons for the
//! URL and an API key), whether it runs, how many providers are configured
//! and requests served, the tray menu as text (today's requests and cost,
//! each account's state and quota; also for desktops without a tray), and
//! the last few requests. Refreshed every second.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{GatewayState, Overview};

use crate::api;

/// How often the page asks the app for fresh numbers.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The Overview page.
#[component]
pub(crate) fn OverviewPage() -> impl IntoView {
    let overview = RwSignal::new(None::<Overview>);
    let load_error = RwSignal::new(None::<String>);
    let refresh = move || {
        spawn_local(async move {
            match api::get_overview().await {
                Ok(fresh) => {
                    overview.set(Some(fresh));
                    load_error.set(None);
                }
                Err(error) => load_error.set(Some(error.message)),
            }
        });
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, REFRESH_EVERY) {
        on_cleanup(move || handle.clear());
    }

    let field = move |read: fn(&Overview) -> String| {
        move || overview.with(|overview| overview.as_ref().map(read).unwrap_or_else(|| "…".into()))
    };
    let state = move || overview.with(|overview| overview.as_ref().map(|o| o.gateway.clone()));
    let tray = RwSignal::new(Vec::<String>::new());
    let recent = RwSignal::new(Vec::<switchyard_api_types::RequestView>::new());
    let today = RwSignal::new(None::<switchyard_api_types::UsageRowView>);
    let load_more = move || {
        spawn_local(async move {
            let midnight = {
                let now = js_sys::Date::new_0();
                now.set_hours(0);
                now.set_minutes(0);
                now.set_seconds(0);
                now.set_milliseconds(0);
                now.get_time() as i64
            };
            let query = switchyard_api_types::UsageQueryInput {
                from: Some(midnight),
                ..Default::default()
            };
            if let Ok(rows) = api::usage_report(query).await {
                today.set(Some(rows.into_iter().next().unwrap_or_default()));
            }
            if let Ok(lines) = api::tray_preview().await {
                tray.set(lines);
            }
            if let Ok(requests) = api::recent_requests(5).await {
                recent.set(requests);
            }
        });
    };
    load_more();
    if let Ok(handle) = set_interval_with_handle(load_more, Duration::from_secs(2)) {
        on_cleanup(move || handle.clear());
    }
    let copied = RwSignal::new("");
    let copy_url = move |_| {
        let url = overview.with_untracked(|o| o.as_ref().map(|o| o.endpoint_url.clone()));
        spawn_local(async move {
            if let Some(url) = url
                && api::copy_text(url).await.is_ok()
            {
                copied.set("url");
            }
        });
    };
    let copy_key = move |_| {
        spawn_local(async move {
            match api::copy_api_key(None).await {
                Ok(()) => copied.set("key"),
                Err(error) => load_error.set(Some(error.message)),
            }
        });
    };

    view! {
        <header class="page-header">
            <h1>"Overview"</h1>
            {move || state().map(|state| view! { <StateBadge state=state/> })}
        </header>
        {move || state().and_then(|state| match state {
            GatewayState::Failed { message } => Some(view! {
                <div class="banner error" id="gateway-error" role="alert">
                    <strong>"The gateway is not running. "</strong>{message}
                </div>
            }),
            _ => None,
        })}
        {move || load_error.get().map(|message| view! {
            <div class="banner warning" role="alert">{message}</div>
        })}
        <section class="cards">
            <div class="card">
                <div class="card-label">"Listening on"</div>
                <div class="card-value mono" id="listen-address">{field(|o| o.listen_address.clone())}</div>
            </div>
            <div class="card">
                <div class="card-label">"Providers"</div>
                <div class="card-value" id="providers-count">{field(|o| o.providers_total.to_string())}</div>
                <div class="card-note">{field(|o| format!("{} enabled", o.providers_enabled))}</div>
            </div>
            <div class="card">
                <div class="card-label">"Today"</div>
                <div class="card-value" id="today-requests">{move || today.get().map(|t| t.requests.to_string()).unwrap_or_else(|| "…".into())}</div>
                <div class="card-note" id="today-detail">{move || today.get().map(|t| format!(
                    "requests · {} tokens · ${:.2}", t.prompt_tokens + t.completion_tokens, t.cost_usd
                )).unwrap_or_default()}</div>
            </div>
            <div class="card">
                <div class="card-label">"Requests served"</div>
                <div class="card-value" id="requests-served">{field(|o| o.requests_served.to_string())}</div>
            </div>
        </section>
        <section class="panel">
            <h2>"Connect your tools"</h2>
            <p>"Point any OpenAI-, Anthropic-, Gemini- or Ollama-speaking client at this base URL with an API key (or set it up on the Tools page):"</p>
            <pre class="mono" id="endpoint-url">{field(|o| o.endpoint_url.clone())}</pre>
            <div class="inline-form">
                <button class="secondary" id="copy-endpoint" on:click=copy_url>
                    {move || if copied.get() == "url" { "Copied" } else { "Copy URL" }}</button>
                <button class="secondary" id="copy-key" on:click=copy_key>
                    {move || if copied.get() == "key" { "Copied" } else { "Copy API key" }}</button>
            </div>
            <p class="muted">"Data directory: " <span class="mono">{field(|o| o.data_dir.clone())}</span></p>
        </section>
        <section class="panel">
            <h2>"At a glance"</h2>
            <p class="muted">"The tray menu, as text: today's requests and cost, each account's state and quota."</p>
            <ul class="tray-preview mono" id="tray-preview">
                {move || tray.get().into_iter().filter(|line| line.trim() != "---").map(|line| view! { <li>{line}</li> }).collect_view()}
            </ul>
        </section>
        <section class="panel">
            <h2>"Last requests"</h2>
            {move || {
                let list = recent.get();
                if list.is_empty() {
                    view! { <p class="muted" id="no-recent">"No requests yet."</p> }.into_any()
                } else {
                    view! {
                        <table id="recent-requests"><tbody>
                            {list.into_iter().map(|request| view! {
                                <tr>
                                    <td class="mono">{request.model.clone()}</td>
                                    <td class=if request.status < 400 { "ok" } else { "bad" }>{request.status}</td>
                                    <td class="muted">{format!("{} ms", request.latency_ms)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody></table>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// A coloured pill saying what the gateway is doing.
#[component]
fn StateBadge(state: GatewayState) -> impl IntoView {
    let (class, label) = match state {
        GatewayState::Starting => ("badge starting", "Starting"),
        GatewayState::Running => ("badge running", "Running"),
        GatewayState::Failed { .. } => ("badge failed", "Not running"),
        GatewayState::Stopped => ("badge stopped", "Stopped"),
    };
    view! { <span class=class id="gateway-state">{label}</span> }
}
