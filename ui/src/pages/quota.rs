//! The Quota page: each account's windows as progress bars with the time
//! to their reset, and its cooldown if it has one.

use std::time::Duration;

use leptos::prelude::*;
use switchyard_api_types::{AccountStatus, QuotaWindowView};

use super::load_polled;
use crate::api;

const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// `in 2h 13m` from now to `at` (Unix ms).
fn until(at: i64) -> String {
    let minutes = ((at - js_sys::Date::now() as i64).max(0)) / 60_000;
    match (minutes / 60, minutes % 60) {
        (0, 0) => "now".into(),
        (0, m) => format!("in {m}m"),
        (h, m) if h < 48 => format!("in {h}h {m}m"),
        (h, _) => format!("in {}d", h / 24),
    }
}

fn percent(window: &QuotaWindowView) -> f64 {
    match (window.used_percent, window.used, window.max) {
        (Some(percent), _, _) => percent,
        (None, Some(used), Some(max)) if max > 0 => used as f64 * 100.0 / max as f64,
        _ => 0.0,
    }
}

/// The Quota page.
#[component]
pub(crate) fn QuotaPage() -> impl IntoView {
    let (loaded, _) = load_polled(api::list_providers, Some(REFRESH_EVERY));
    let (providers, problem) = (loaded.data, loaded.problem);
    view! {
        <header class="page-header"><h1>"Quota"</h1></header>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert">{message}</div> })}
        {move || match providers.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(list) => {
                let accounts: Vec<_> = list.into_iter().flat_map(|provider| {
                    let name = provider.name.clone();
                    provider.accounts.into_iter().map(move |account| (format!("{name}/{}", account.label), account))
                }).collect();
                if accounts.is_empty() {
                    return view! { <p class="muted" id="no-quota">"No accounts yet."</p> }.into_any();
                }
                view! {
                    <div class="quota-list" id="quota-list">
                        {accounts.into_iter().map(|(name, account)| {
                            let cooldown = match &account.status {
                                AccountStatus::CoolingDown { until: at, reason, .. } =>
                                    Some(format!("cooling down {} ({reason})", until(*at))),
                                AccountStatus::NeedsLogin => Some("needs a new login".into()),
                                _ => None,
                            };
                            view! {
                                <section class="panel quota">
                                    <h2 class="mono">{name}</h2>
                                    {cooldown.map(|text| view! { <p class="warn">{text}</p> })}
                                    {if account.quotas.is_empty() {
                                        view! { <p class="muted">"No windows: set limits with "<code>"switchyard quota limit"</code>"."</p> }.into_any()
                                    } else {
                                        account.quotas.into_iter().map(|window| {
                                            let used = percent(&window);
                                            let label = match (window.used, window.max) {
                                                (Some(used), Some(max)) => format!("{used} / {max}"),
                                                _ => format!("{used:.0}% used"),
                                            };
                                            let reset = window.resets_at.map(|at| format!(", resets {}", until(at))).unwrap_or_default();
                                            view! {
                                                <div class="window">
                                                    <div class="window-head"><span>{window.window.clone()}</span><span class="muted">{label}{reset}</span></div>
                                                    <div class="bar-track"><div class={if used >= 90.0 { "bar-fill hot" } else { "bar-fill" }}
                                                        style=format!("width: {:.1}%", used.min(100.0))></div></div>
                                                </div>
                                            }
                                        }).collect_view().into_any()
                                    }}
                                </section>
                            }
                        }).collect_view()}
                    </div>
                }.into_any()
            }
        }}
    }
}
