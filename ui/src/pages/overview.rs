//! The Overview page: where the gateway listens, whether it runs, how many
//! providers are configured and how many requests it has served. Refreshed
//! every second from the `get_overview` command.

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
                <div class="card-label">"Requests served"</div>
                <div class="card-value" id="requests-served">{field(|o| o.requests_served.to_string())}</div>
            </div>
        </section>
        <section class="panel">
            <h2>"Connect your tools"</h2>
            <p>"Point any OpenAI-compatible client at this base URL and use a key from "
                <code>"switchyard key create"</code>":"</p>
            <pre class="mono" id="endpoint-url">{field(|o| o.endpoint_url.clone())}</pre>
            <p class="muted">"Data directory: " <span class="mono">{field(|o| o.data_dir.clone())}</span></p>
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
