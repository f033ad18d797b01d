//! The Settings page: every gateway and app setting with its stored value,
//! changed in place (checked by the app, errors shown), API keys, and the
//! app's self-update (live progress from `update-status` events).

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{ApiKeyView, SettingView, UpdateState, UpdateStatusView};

use crate::api;

/// The Settings page.
#[component]
pub(crate) fn SettingsPage() -> impl IntoView {
    let settings = RwSignal::new(Vec::<SettingView>::new());
    let keys = RwSignal::new(Vec::<ApiKeyView>::new());
    let problem = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::list_settings().await {
                Ok(fresh) => settings.set(fresh),
                Err(error) => problem.set(Some(error.message)),
            }
            match api::list_api_keys().await {
                Ok(fresh) => keys.set(fresh),
                Err(error) => problem.set(Some(error.message)),
            }
        });
    };
    reload();
    let save = move |name: String, value: String| {
        spawn_local(async move {
            let value = (!value.trim().is_empty()).then_some(value);
            match api::set_setting(name, value).await {
                Ok(()) => problem.set(None),
                Err(error) => problem.set(Some(error.message)),
            }
            reload();
        });
    };
    let update = RwSignal::new(None::<UpdateStatusView>);
    spawn_local(async move {
        if let Ok(status) = api::update_status().await {
            update.set(Some(status));
        }
    });
    api::on_event("update-status", move |status: UpdateStatusView| {
        update.set(Some(status))
    });
    let copied = RwSignal::new(None::<i64>);
    let at_login = RwSignal::new(None::<bool>);
    spawn_local(async move {
        match api::launch_at_login().await {
            Ok(enabled) => at_login.set(Some(enabled)),
            // A browser: the server has no login item.
            Err(error) if error.kind == "unavailable" => {}
            Err(error) => problem.set(Some(error.message)),
        }
    });
    let new_key_name = RwSignal::new(String::new());
    let create_key = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        spawn_local(async move {
            match api::create_api_key(new_key_name.get_untracked()).await {
                Ok(key) => created.set(Some(key.key)),
                Err(error) => problem.set(Some(error.message)),
            }
            reload();
        });
    };
    view! {
        <header class="page-header"><h1>"Settings"</h1></header>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert" id="settings-error">{message}</div> })}
        <section class="panel">
            <h2>"API keys"</h2>
            <p class="muted">"Clients send one as " <code>"Authorization: Bearer <key>"</code>". Keys made here can be copied again (a sealed copy is kept); keys made with the CLI are shown once."</p>
            {move || created.get().map(|key| view! { <pre class="mono" id="created-key">{key}</pre> })}
            <table id="api-keys">
                <tbody>
                    {move || keys.get().into_iter().map(|key| {
                        let id = key.id;
                        let paused = key.paused;
                        let models = RwSignal::new(key.allowed_models.join(", "));
                        let owner = RwSignal::new(key.owner.clone().unwrap_or_default());
                        let expiry = RwSignal::new(key.expires_at.map(|ms| {
                            String::from(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64)).to_iso_string())
                                .chars().take(10).collect::<String>()
                        }).unwrap_or_default());
                        let save_policy = move || {
                            let allowed: Vec<String> = models.get_untracked()
                                .split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
                            let owner = Some(owner.get_untracked()).filter(|o| !o.trim().is_empty());
                            // The end of the chosen UTC day.
                            let day = expiry.get_untracked();
                            let expires_at = (!day.trim().is_empty())
                                .then(|| js_sys::Date::parse(&format!("{}T23:59:59Z", day.trim())))
                                .filter(|ms| ms.is_finite())
                                .map(|ms| ms as i64);
                            spawn_local(async move {
                                match api::set_api_key_policy(id, owner, expires_at, allowed).await {
                                    Ok(note) if note != "saved" => problem.set(Some(note)),
                                    Ok(_) => problem.set(None),
                                    Err(error) => problem.set(Some(error.message)),
                                }
                                reload();
                            });
                        };
                        let limits = key.limits.clone();
                        let shown = |value: Option<String>| RwSignal::new(value.unwrap_or_default());
                        let day_budget = shown(limits.budget_day_usd.map(|usd| usd.to_string()));
                        let month_budget = shown(limits.budget_month_usd.map(|usd| usd.to_string()));
                        let per_minute = shown(limits.requests_per_minute.map(|rpm| rpm.to_string()));
                        let tokens_per_minute = shown(limits.tokens_per_minute.map(|tpm| tpm.to_string()));
                        let save_limits = move || {
                            let mut wanted = limits.clone();
                            wanted.budget_day_usd = day_budget.get_untracked().trim().parse().ok();
                            wanted.budget_month_usd = month_budget.get_untracked().trim().parse().ok();
                            wanted.requests_per_minute = per_minute.get_untracked().trim().parse().ok();
                            wanted.tokens_per_minute = tokens_per_minute.get_untracked().trim().parse().ok();
                            spawn_local(async move {
                                match api::set_api_key_limits(id, wanted).await {
                                    Ok(()) => problem.set(None),
                                    Err(error) => problem.set(Some(error.message)),
                                }
                                reload();
                            });
                        };
                        let spending = key.budgets.iter().map(|budget| {
                            format!("${:.4} of ${:.2} per {}", budget.spent_usd, budget.limit_usd, budget.window)
                        }).collect::<Vec<_>>().join(" · ");
                        let state = if key.revoked {
                            "revoked"
                        } else if key.paused {
                            "paused"
                        } else if key.expires_at.is_some_and(|at| (at as f64) <= js_sys::Date::now()) {
                            "expired"
                        } else {
                            "active"
                        };
                        view! {
                            <tr id=format!("api-key-{id}")>
                                <td>{key.name.clone()}{key.owner.clone().map(|owner| format!(" ({owner})"))}</td>
                                <td class="mono muted">{format!("{}…", key.hint)}</td>
                                <td class="key-state">{state}</td>
                                <td class="key-policy">{(!key.revoked).then(|| {
                                    let (save_owner, save_expiry) = (save_policy, save_policy);
                                    view! {
                                        <input class="key-owner" placeholder="owner" prop:value=move || owner.get()
                                            on:input=move |ev| owner.set(event_target_value(&ev))
                                            on:change=move |_| save_owner()/>
                                        <input class="key-expiry" type="date" title="expires at the end of this day (UTC)"
                                            prop:value=move || expiry.get()
                                            on:input=move |ev| expiry.set(event_target_value(&ev))
                                            on:change=move |_| save_expiry()/>
                                        <input class="key-models" placeholder="all models (or glm/*, a combo…)"
                                            prop:value=move || models.get()
                                            on:input=move |ev| models.set(event_target_value(&ev))
                                            on:change=move |_| save_policy()/>
                                    }
                                })}</td>
                                <td class="key-limits">{(!key.revoked).then(|| view! {
                                    <input class="weight key-day-budget" placeholder="$/day" title="USD per day (empty: no budget)"
                                        prop:value=move || day_budget.get()
                                        on:input=move |ev| day_budget.set(event_target_value(&ev))
                                        on:change={
                                            let save = save_limits.clone();
                                            move |_| save()
                                        }/>
                                    <input class="weight key-month-budget" placeholder="$/month" title="USD per calendar month (empty: no budget)"
                                        prop:value=move || month_budget.get()
                                        on:input=move |ev| month_budget.set(event_target_value(&ev))
                                        on:change={
                                            let save = save_limits.clone();
                                            move |_| save()
                                        }/>
                                    <input class="weight key-rpm" placeholder="req/min" title="requests per minute (empty: no limit)"
                                        prop:value=move || per_minute.get()
                                        on:input=move |ev| per_minute.set(event_target_value(&ev))
                                        on:change={
                                            let save = save_limits.clone();
                                            move |_| save()
                                        }/>
                                    <input class="weight key-tpm" placeholder="tok/min" title="tokens per minute (empty: no limit)"
                                        prop:value=move || tokens_per_minute.get()
                                        on:input=move |ev| tokens_per_minute.set(event_target_value(&ev))
                                        on:change=move |_| save_limits()/>
                                    <span class="muted small key-spending">{spending.clone()}</span>
                                })}</td>
                                <td>{(!key.revoked).then(|| view! {
                                    <button class="secondary key-pause" on:click=move |_| spawn_local(async move {
                                        if let Err(error) = api::set_api_key_paused(id, !paused).await { problem.set(Some(error.message)); }
                                        reload();
                                    })>{if paused { "Resume" } else { "Pause" }}</button>
                                })}</td>
                                <td>{(key.copyable && !key.revoked).then(|| view! {
                                    <button class="secondary copy-key" on:click=move |_| spawn_local(async move {
                                        match api::copy_api_key(Some(id)).await {
                                            Ok(()) => copied.set(Some(id)),
                                            Err(error) => problem.set(Some(error.message)),
                                        }
                                    })>{move || if copied.get() == Some(id) { "Copied" } else { "Copy" }}</button>
                                })}</td>
                                <td>{(!key.revoked).then(|| view! {
                                    <button class="secondary danger" on:click=move |_| spawn_local(async move {
                                        if let Err(error) = api::revoke_api_key(id).await { problem.set(Some(error.message)); }
                                        reload();
                                    })>"Revoke"</button>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <form class="inline-form" on:submit=create_key>
                <input id="key-name" placeholder="a name, e.g. laptop" prop:value=move || new_key_name.get()
                    on:input=move |ev| new_key_name.set(event_target_value(&ev))/>
                <button type="submit" class="secondary" id="create-key">"Create key"</button>
            </form>
        </section>
        <super::prices::PricesPanel/>
        <super::transfer::TransferPanel/>
        <super::access::AccessPanel/>
        <super::webhooks::WebhooksPanel/>
        <section class="panel" id="startup" style:display=move || if at_login.get().is_none() { "none" } else { "" }>
            <h2>"Startup"</h2>
            <label>
                <input type="checkbox" id="launch-at-login" prop:checked=move || at_login.get().unwrap_or(false)
                    disabled=move || at_login.get().is_none()
                    on:change=move |ev| {
                        let wanted = event_target_checked(&ev);
                        spawn_local(async move {
                            match api::set_launch_at_login(wanted).await {
                                Ok(now) => at_login.set(Some(now)),
                                Err(error) => problem.set(Some(error.message)),
                            }
                        });
                    }/>
                " Start Switchyard when I log in (in the tray, without a window)"
            </label>
        </section>
        <section class="panel" id="updates" style:display=move || if update.get().is_none() { "none" } else { "" }>
            <h2>"Updates"</h2>
            {move || update.get().map(|status| {
                let (line, can_install) = match &status.state {
                    UpdateState::Idle => ("Not checked yet.".to_owned(), false),
                    UpdateState::Checking => ("Checking…".to_owned(), false),
                    UpdateState::UpToDate => ("Switchyard is up to date.".to_owned(), false),
                    UpdateState::Available { version, .. } => (format!("Version {version} is available (signed; verified before it is installed)."), true),
                    UpdateState::Downloading { version, percent } => (match percent {
                        Some(percent) => format!("Downloading {version}: {percent}%"),
                        None => format!("Downloading {version}…"),
                    }, false),
                    UpdateState::Installed { version } => (format!("Installed {version}; restarting."), false),
                    UpdateState::Failed { message } => (message.clone(), false),
                };
                let busy = matches!(status.state, UpdateState::Checking | UpdateState::Downloading { .. } | UpdateState::Installed { .. });
                let percent = match status.state { UpdateState::Downloading { percent, .. } => percent, _ => None };
                view! {
                    <p>"Running version " <span class="mono" id="current-version">{status.current_version.clone()}</span></p>
                    <p id="update-state">{line}</p>
                    {percent.map(|percent| view! { <progress max="100" value=percent.to_string()></progress> })}
                    <div class="inline-form">
                        <button class="secondary" id="check-updates" disabled=busy on:click=move |_| spawn_local(async move {
                            match api::check_for_updates().await {
                                Ok(status) => update.set(Some(status)),
                                Err(error) => problem.set(Some(error.message)),
                            }
                        })>"Check for updates"</button>
                        {can_install.then(|| view! {
                            <button id="install-update" on:click=move |_| spawn_local(async move {
                                if let Err(error) = api::install_update().await { problem.set(Some(error.message)); }
                            })>"Install and restart"</button>
                        })}
                    </div>
                }
            })}
        </section>
        <section class="panel">
            <h2>"Gateway and app"</h2>
            <p class="muted">"Empty means the default. Port and address apply at the next start."</p>
            <table id="settings">
                <tbody>
                    {move || settings.get().into_iter().map(|setting| {
                        let name = setting.name.clone();
                        let value = RwSignal::new(setting.value.clone().unwrap_or_default());
                        view! {
                            <tr>
                                <td class="mono">{setting.name.clone()}</td>
                                <td><input class="setting" id=format!("setting-{}", setting.name) placeholder="default"
                                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))
                                    on:change=move |_| save(name.clone(), value.get_untracked())/></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
