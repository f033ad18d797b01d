//! The Logs page: the latest requests with their routing path and timings,
//! refreshed every second.

use std::time::Duration;

use leptos::prelude::*;

use super::load_polled;
use crate::api;

/// How often the log is re-read.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The Logs page.
#[component]
pub(crate) fn LogsPage() -> impl IntoView {
    let (loaded, _) = load_polled(|| api::recent_requests(50), Some(REFRESH_EVERY));
    let (requests, problem) = (loaded.data, loaded.problem);
    view! {
        <header class="page-header"><h1>"Logs"</h1></header>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert">{message}</div> })}
        {move || match requests.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(list) if list.is_empty() => view! { <p class="muted" id="no-requests">"No requests yet."</p> }.into_any(),
            Some(list) => view! {
                <table class="log" id="request-log">
                    <thead><tr>
                        <th>"Model"</th><th>"Status"</th><th>"Path"</th><th>"Time"</th><th>"Tokens"</th><th>"Cost"</th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|request| {
                            let path = request.attempts.iter().map(|attempt| format!(
                                "{}{} {}",
                                if attempt.skipped { "skipped " } else { "" },
                                attempt.target,
                                attempt.status
                            )).collect::<Vec<_>>().join(" → ");
                            let status_class = if (200..300).contains(&request.status) { "ok" } else { "bad" };
                            view! {
                                <tr class="request">
                                    <td class="mono">{request.model.clone()}</td>
                                    <td class=status_class>{request.status}</td>
                                    <td class="mono muted">{path}</td>
                                    <td>{format!("{} ms", request.latency_ms)}</td>
                                    <td>{format!("{} / {}", request.prompt_tokens.unwrap_or(0), request.completion_tokens.unwrap_or(0))}</td>
                                    <td>{request.cost_usd.map_or("–".to_owned(), |cost| format!("${cost:.4}"))}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
    }
}
