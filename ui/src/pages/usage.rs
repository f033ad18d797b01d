//! The Usage page: requests, tokens and cost over a range, as a daily bar
//! chart (SVG) and tables by provider, account, combo, model and API key.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{UsageQueryInput, UsageRowView};

use crate::api;

const DAY_MS: i64 = 86_400_000;
const GROUPS: &[(&str, &str)] = &[
    ("provider", "By provider"),
    ("account", "By account"),
    ("combo", "By combo"),
    ("model", "By model"),
    ("api-key", "By API key"),
];

/// The Usage page.
#[component]
pub(crate) fn UsagePage() -> impl IntoView {
    let days = RwSignal::new(7_i64);
    let series = RwSignal::new(Vec::<UsageRowView>::new());
    let groups = RwSignal::new(Vec::<(String, Vec<UsageRowView>)>::new());
    let problem = RwSignal::new(None::<String>);
    let metric = RwSignal::new("requests".to_owned());
    let exported = RwSignal::new(None::<String>);
    let export = move |by: Option<String>, name: String| {
        let from = js_sys::Date::now() as i64 - days.get_untracked() * DAY_MS;
        let query = UsageQueryInput {
            from: Some(from),
            bucket_ms: by.is_none().then_some(DAY_MS),
            by,
            ..UsageQueryInput::default()
        };
        spawn_local(async move {
            match api::export_usage_csv(query, name).await {
                Ok(path) => exported.set(Some(path)),
                Err(error) => problem.set(Some(error.message)),
            }
        });
    };
    let load = move || {
        let from = js_sys::Date::now() as i64 - days.get_untracked() * DAY_MS;
        spawn_local(async move {
            let query = UsageQueryInput {
                from: Some(from),
                bucket_ms: Some(DAY_MS),
                ..UsageQueryInput::default()
            };
            match api::usage_report(query).await {
                Ok(rows) => series.set(every_day(rows, from, days.get_untracked())),
                Err(error) => return problem.set(Some(error.message)),
            }
            let mut tables = Vec::new();
            for (by, title) in GROUPS {
                let query = UsageQueryInput {
                    from: Some(from),
                    by: Some((*by).into()),
                    ..UsageQueryInput::default()
                };
                match api::usage_report(query).await {
                    Ok(rows) => tables.push(((*title).to_owned(), rows)),
                    Err(error) => return problem.set(Some(error.message)),
                }
            }
            groups.set(tables);
            problem.set(None);
        });
    };
    load();
    view! {
        <header class="page-header">
            <h1>"Usage"</h1>
            <select id="usage-range" on:change=move |ev| {
                days.set(event_target_value(&ev).parse().unwrap_or(7));
                load();
            }>
                <option value="1">"Last day"</option>
                <option value="7" selected>"Last week"</option>
                <option value="30">"Last month"</option>
            </select>
            <select id="usage-metric" on:change=move |ev| metric.set(event_target_value(&ev))>
                <option value="requests" selected>"Requests"</option>
                <option value="tokens">"Tokens"</option>
                <option value="cost">"Cost"</option>
            </select>
        </header>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert">{message}</div> })}
        {move || exported.get().map(|path| view! { <div class="banner ok" role="status" id="usage-exported">"Saved " <span class="mono">{path}</span></div> })}
        <section class="panel">
            <div class="panel-head">
                <h2>{move || format!("{} per day", match metric.get().as_str() { "tokens" => "Tokens", "cost" => "Cost", _ => "Requests" })}</h2>
                <button class="secondary export-csv" id="export-daily" on:click=move |_| export(None, "daily".into())>"Export CSV"</button>
            </div>
            {move || view! { <BarChart rows=series.get() metric=metric.get()/> }}
        </section>
        {move || groups.get().into_iter().enumerate().map(|(index, (title, rows))| view! {
            <section class="panel usage-table">
                <div class="panel-head">
                    <h2>{title.clone()}</h2>
                    <button class="secondary export-csv" on:click=move |_| {
                        let by = GROUPS[index].0.to_owned();
                        export(Some(by.clone()), by);
                    }>"Export CSV"</button>
                </div>
                {if rows.is_empty() {
                    view! { <p class="muted">"Nothing in this range."</p> }.into_any()
                } else {
                    view! {
                        <table>
                            <thead><tr><th>"Key"</th><th>"Requests"</th><th>"Failed"</th><th>"Fallbacks"</th>
                                <th>"Tokens in"</th><th>"Tokens out"</th><th>"Cost"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| view! {
                                    <tr>
                                        <td class="mono">{row.key.unwrap_or_else(|| "–".into())}</td>
                                        <td>{row.requests}</td><td>{row.failed}</td><td>{row.fallbacks}</td>
                                        <td>{row.prompt_tokens}</td><td>{row.completion_tokens}</td>
                                        <td>{format!("${:.4}", row.cost_usd)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        }).collect_view()}
    }
}

/// One row per day of the range, days without requests as zeros.
fn every_day(rows: Vec<UsageRowView>, from: i64, days: i64) -> Vec<UsageRowView> {
    let first = from.div_euclid(DAY_MS) * DAY_MS;
    (0..=days)
        .map(|day| {
            let start = first + day * DAY_MS;
            rows.iter()
                .find(|row| row.bucket_start == Some(start))
                .cloned()
                .unwrap_or(UsageRowView {
                    bucket_start: Some(start),
                    ..UsageRowView::default()
                })
        })
        .collect()
}

/// The value of `metric` (`requests`, `tokens` or `cost`) in `row`.
fn value_of(row: &UsageRowView, metric: &str) -> f64 {
    match metric {
        "tokens" => (row.prompt_tokens + row.completion_tokens) as f64,
        "cost" => row.cost_usd,
        _ => row.requests as f64,
    }
}

/// Bars of `metric` per bucket, drawn as SVG.
#[component]
fn BarChart(rows: Vec<UsageRowView>, metric: String) -> impl IntoView {
    if rows.iter().all(|row| row.requests == 0) {
        return view! { <p class="muted" id="usage-empty">"No requests in this range."</p> }
            .into_any();
    }
    let most = rows
        .iter()
        .map(|row| value_of(row, &metric))
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let width = 640.0;
    let height = 160.0;
    let slot = width / rows.len() as f64;
    view! {
        <svg id="usage-chart" viewBox=format!("0 0 {width} {}", height + 20.0) role="img" aria-label="Requests per day">
            {rows.into_iter().enumerate().map(|(index, row)| {
                let bar = (value_of(&row, &metric) / most) * height;
                let x = index as f64 * slot + slot * 0.15;
                let label = row.bucket_start.map(|start| {
                    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(start as f64));
                    format!("{}/{}", date.get_utc_month() + 1, date.get_utc_date())
                }).unwrap_or_default();
                view! {
                    <g>
                        <rect class="bar" x=x y=height - bar width=slot * 0.7 height=bar rx="3">
                            <title>{format!("{} requests, {} tokens, ${:.4}", row.requests, row.prompt_tokens + row.completion_tokens, row.cost_usd)}</title>
                        </rect>
                        <text class="bar-label" x=x + slot * 0.35 y=height + 15.0 text-anchor="middle">{label}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }.into_any()
}
