//! The Logs page: the latest requests with their routing path and timings,
//! live (reloaded on the app's `requests-recorded` event, with a slow poll
//! as a fallback), filtered as you type; a click opens one request's
//! fallback path with each attempt's timing and reason, and its bodies
//! when debug logging (`log_bodies`) was on.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{RequestBodiesView, RequestView};

use super::load_polled;
use crate::api;

/// Fallback re-read pace; events make the log live.
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// Whether `request` matches the filter `text` (model, dialect, status,
/// provider, account or error, case-insensitive).
fn matches(request: &RequestView, text: &str) -> bool {
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return true;
    }
    let mut haystack = format!(
        "{} {} {}",
        request.model,
        request.dialect.clone().unwrap_or_default(),
        request.status
    );
    for attempt in &request.attempts {
        haystack.push(' ');
        haystack.push_str(&attempt.target);
        for part in [&attempt.provider, &attempt.account, &attempt.error]
            .into_iter()
            .flatten()
        {
            haystack.push(' ');
            haystack.push_str(part);
        }
    }
    haystack.to_lowercase().contains(&text)
}

/// The Logs page.
#[component]
pub(crate) fn LogsPage() -> impl IntoView {
    let (loaded, reload) = load_polled(|| api::recent_requests(200), Some(REFRESH_EVERY));
    let (requests, problem) = (loaded.data, loaded.problem);
    api::on_event("requests-recorded", move |_: u64| reload());
    let filter = RwSignal::new(String::new());
    let open = RwSignal::new(None::<i64>);
    let bodies = RwSignal::new(None::<RequestBodiesView>);
    let toggle = move |id: i64| {
        if open.get_untracked() == Some(id) {
            open.set(None);
            return;
        }
        open.set(Some(id));
        bodies.set(None);
        spawn_local(async move {
            if let Ok(found) = api::request_bodies(id).await {
                bodies.set(found);
            }
        });
    };
    view! {
        <header class="page-header">
            <h1>"Logs"</h1>
            <input id="log-filter" type="search" placeholder="filter: model, status, provider, error…"
                prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev))/>
        </header>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert">{message}</div> })}
        {move || match requests.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(list) if list.is_empty() => view! { <p class="muted" id="no-requests">"No requests yet."</p> }.into_any(),
            Some(list) => {
                let text = filter.get();
                let shown: Vec<RequestView> = list.into_iter().filter(|r| matches(r, &text)).collect();
                view! {
                    <table class="log" id="request-log">
                        <thead><tr>
                            <th>"Model"</th><th>"Status"</th><th>"Path"</th><th>"Time"</th><th>"Tokens"</th><th>"Cost"</th>
                        </tr></thead>
                        <tbody>
                            {shown.into_iter().map(|request| {
                                let id = request.id;
                                let path = request.attempts.iter().map(|attempt| format!(
                                    "{}{} {}",
                                    if attempt.skipped { "skipped " } else { "" },
                                    attempt.target,
                                    attempt.status
                                )).collect::<Vec<_>>().join(" → ");
                                let status_class = if (200..300).contains(&request.status) { "ok" } else { "bad" };
                                let detail = request.clone();
                                view! {
                                    <tr class="request" tabindex="0" on:click=move |_| toggle(id)
                                        on:keydown=move |ev| if ev.key() == "Enter" { toggle(id) }>
                                        <td class="mono">{request.model.clone()}</td>
                                        <td class=status_class>{request.status}</td>
                                        <td class="mono muted">{path}</td>
                                        <td>{format!("{} ms", request.latency_ms)}</td>
                                        <td>{format!("{} / {}", request.prompt_tokens.unwrap_or(0), request.completion_tokens.unwrap_or(0))}</td>
                                        <td>{request.cost_usd.map_or("–".to_owned(), |cost| format!("${cost:.4}"))}</td>
                                    </tr>
                                    {move || (open.get() == Some(id)).then(|| view! {
                                        <tr class="request-detail"><td colspan="6"><RequestDetail request=detail.clone() bodies=bodies/></td></tr>
                                    })}
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }
        }}
    }
}

/// One request opened: its attempts and, if kept, its bodies.
#[component]
fn RequestDetail(
    request: RequestView,
    bodies: RwSignal<Option<RequestBodiesView>>,
) -> impl IntoView {
    let started = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(request.started_at as f64));
    view! {
        <div class="detail" id=format!("request-{}", request.id)>
            <p class="muted">
                {format!("{} · {} · {}", String::from(started.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)),
                    request.dialect.clone().unwrap_or_else(|| "?".into()),
                    if request.stream { "stream" } else { "no stream" })}
                {request.ttfb_ms.map(|ttfb| format!(" · first byte after {ttfb} ms"))}
            </p>
            <ol class="attempts">
                {request.attempts.iter().map(|attempt| view! {
                    <li>
                        <span class="mono">{attempt.target.clone()}</span>
                        {attempt.account.clone().map(|account| format!(" ({account})"))}
                        {format!(" → {} in {} ms", if attempt.skipped { "skipped".to_owned() } else { attempt.status.to_string() }, attempt.latency_ms)}
                        {attempt.error.clone().map(|error| view! { <span class="muted">{format!(": {error}")}</span> })}
                    </li>
                }).collect_view()}
            </ol>
            {move || match bodies.get() {
                Some(kept) => view! {
                    <details open><summary>"Request body"</summary><pre class="mono wrap">{kept.request.unwrap_or_default()}</pre></details>
                    <details><summary>"Response body"</summary><pre class="mono wrap">{kept.response.unwrap_or_default()}</pre></details>
                }.into_any(),
                None => view! { <p class="muted">"Bodies are kept only while the log_bodies setting is on."</p> }.into_any(),
            }}
        </div>
    }
}
