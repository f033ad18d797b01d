//! Settings' "Dashboard access" panel: the password of the dashboard
//! `switchyard serve` offers in a browser, management tokens for
//! `switchyard --remote`, and the record of management calls (who changed
//! what, when).

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{ManagementEntryView, ManagementTokenView};

use crate::api;
use crate::pages::load_polled;

/// How many recorded calls the panel shows.
const SHOWN: u32 = 30;

/// The panel.
#[component]
pub(crate) fn AccessPanel() -> impl IntoView {
    let (tokens, reload_tokens) = load_polled(api::list_management_tokens, None);
    let (log, reload_log) = load_polled(
        || api::management_log(SHOWN),
        Some(std::time::Duration::from_secs(5)),
    );
    let password = RwSignal::new(String::new());
    let token_name = RwSignal::new(String::new());
    let created = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);
    let set_password = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let chosen = password.get_untracked();
        password.set(String::new());
        spawn_local(async move {
            match api::set_dashboard_password(chosen).await {
                Ok(()) => {
                    problem.set(None);
                    note.set(Some(
                        "Password set. Every browser session was signed out.".into(),
                    ));
                    // A browser was signed out too: find out.
                    api::check_access().await;
                }
                Err(error) => problem.set(Some(error.message)),
            }
            reload_log();
        });
    };
    let create_token = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let name = token_name.get_untracked();
        token_name.set(String::new());
        spawn_local(async move {
            match api::create_management_token(name).await {
                Ok(token) => {
                    problem.set(None);
                    created.set(Some(token.token));
                }
                Err(error) => problem.set(Some(error.message)),
            }
            reload_tokens();
            reload_log();
        });
    };
    let revoke = move |id: i64| {
        spawn_local(async move {
            if let Err(error) = api::revoke_management_token(id).await {
                problem.set(Some(error.message));
            }
            reload_tokens();
            reload_log();
        });
    };
    view! {
        <section class="panel" id="access">
            <h2>"Dashboard access"</h2>
            <p class="muted">"For the dashboard "<code>"switchyard serve"</code>" offers in a browser on this data folder, and for "
                <code>"switchyard --remote URL --token …"</code>"."</p>
            {move || problem.get().map(|text| view! { <p class="banner error" role="alert">{text}</p> })}
            {move || note.get().map(|text| view! { <p class="banner ok" id="access-note" role="status">{text}</p> })}
            <form class="inline-form" id="password-form" on:submit=set_password>
                <label for="new-password">"Dashboard password"</label>
                <input id="new-password" type="password" autocomplete="new-password" minlength="10" required
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                <button type="submit" id="set-password">"Set password"</button>
            </form>
            <h3>"Management tokens"</h3>
            {move || created.get().map(|token| view! {
                <p class="banner ok" id="created-token">"New token (shown once): "<span class="mono wrap">{token}</span></p>
            })}
            <table id="management-tokens">
                <tbody>
                    {move || tokens.data.get().unwrap_or_default().into_iter().map(|token: ManagementTokenView| {
                        let id = token.id;
                        view! {
                            <tr>
                                <td>{token.name}</td>
                                <td class="muted small">{token.last_used_at.map_or_else(|| "never used".to_owned(), |at| format!("last used {}", super::format_time(at)))}</td>
                                <td><button class="secondary" on:click=move |_| revoke(id)>"Revoke"</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <form class="inline-form" id="token-form" on:submit=create_token>
                <label for="token-name">"New token's name"</label>
                <input id="token-name" required prop:value=move || token_name.get()
                    on:input=move |ev| token_name.set(event_target_value(&ev))/>
                <button type="submit" id="create-token">"Make token"</button>
            </form>
            <h3>"Recent management calls"</h3>
            <table id="management-log">
                <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Outcome"</th><th>"Details"</th></tr></thead>
                <tbody>
                    {move || log.data.get().unwrap_or_default().into_iter().map(|entry: ManagementEntryView| view! {
                        <tr>
                            <td class="small">{super::format_time(entry.at)}</td>
                            <td>{entry.actor}</td>
                            <td class="mono">{entry.operation}</td>
                            <td>{entry.outcome}</td>
                            <td class="mono small wrap">{entry.detail}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
