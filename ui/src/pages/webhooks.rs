//! Settings' "Webhooks" panel: where events go (budgets, logins, quotas,
//! fallbacks, breakers, paused keys), each webhook on or off, a test
//! delivery, and the record of deliveries.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{WebhookDeliveryView, WebhookView};

use crate::api;
use crate::pages::load_polled;

/// The panel.
#[component]
pub(crate) fn WebhooksPanel() -> impl IntoView {
    let (hooks, reload_hooks) = load_polled(api::list_webhooks, None);
    let (deliveries, reload_deliveries) = load_polled(
        || api::webhook_deliveries(20),
        Some(std::time::Duration::from_secs(5)),
    );
    let url = RwSignal::new(String::new());
    let format = RwSignal::new("json".to_owned());
    let secret = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);
    let reload = move || {
        reload_hooks();
        reload_deliveries();
    };
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (address, kind) = (url.get_untracked(), format.get_untracked());
        spawn_local(async move {
            match api::add_webhook(address, kind, Vec::new()).await {
                Ok(created) => {
                    url.set(String::new());
                    problem.set(None);
                    secret.set(Some(created.secret));
                }
                Err(error) => problem.set(Some(error.message)),
            }
            reload();
        });
    };
    view! {
        <section class="panel" id="webhooks">
            <h2>"Webhooks"</h2>
            <p class="muted">"Events (budget warnings, spent budgets, logins needed, quotas nearly used, fallbacks, breakers, paused keys) are posted signed: "
                <code>"X-Switchyard-Signature: t=<ts>,v1=hex(HMAC-SHA256(secret, \"<ts>.<body>\"))"</code>"."</p>
            {move || problem.get().map(|text| view! { <p class="banner error" role="alert">{text}</p> })}
            {move || secret.get().map(|text| view! {
                <p class="banner ok" id="webhook-secret">"Signing secret (shown once): "<span class="mono wrap">{text}</span></p>
            })}
            <table id="webhook-list">
                <tbody>
                    {move || hooks.data.get().unwrap_or_default().into_iter().map(|hook: WebhookView| {
                        let id = hook.id;
                        let enabled = hook.enabled;
                        view! {
                            <tr>
                                <td class="mono wrap">{hook.url}</td>
                                <td>{hook.format}</td>
                                <td>{if hook.enabled { "on".to_owned() } else { format!("off ({} failures)", hook.consecutive_failures) }}</td>
                                <td>
                                    <button class="secondary" on:click=move |_| spawn_local(async move {
                                        if let Err(error) = api::test_webhook(id).await { problem.set(Some(error.message)); }
                                        reload();
                                    })>"Test"</button>
                                    <button class="secondary" on:click=move |_| spawn_local(async move {
                                        if let Err(error) = api::set_webhook_enabled(id, !enabled).await { problem.set(Some(error.message)); }
                                        reload();
                                    })>{if enabled { "Turn off" } else { "Turn on" }}</button>
                                    <button class="secondary danger" on:click=move |_| spawn_local(async move {
                                        if let Err(error) = api::remove_webhook(id).await { problem.set(Some(error.message)); }
                                        reload();
                                    })>"Remove"</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <form class="inline-form" id="webhook-form" on:submit=add>
                <input id="webhook-url" type="url" placeholder="https://hooks.example.com/…" required
                    prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/>
                <select id="webhook-format" on:change=move |ev| format.set(event_target_value(&ev))>
                    <option value="json">"JSON"</option>
                    <option value="slack">"Slack"</option>
                    <option value="discord">"Discord"</option>
                </select>
                <button type="submit" id="add-webhook">"Add webhook"</button>
            </form>
            <table id="webhook-deliveries">
                <tbody>
                    {move || deliveries.data.get().unwrap_or_default().into_iter().map(|d: WebhookDeliveryView| view! {
                        <tr>
                            <td class="small">{super::format_time(d.at)}</td>
                            <td class="mono">{d.event}</td>
                            <td>{d.outcome}</td>
                            <td class="small muted">{format!("{} attempt(s) {}", d.attempts, d.error.unwrap_or_default())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
