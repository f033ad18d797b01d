//! The Settings page: every gateway and app setting with its stored value,
//! changed in place (checked by the app, errors shown), API keys (the
//! `keys` panel), and the
//! app's self-update (live progress from `update-status` events).

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{SettingView, UpdateState, UpdateStatusView};

use crate::api;

/// The Settings page.
#[component]
pub(crate) fn SettingsPage() -> impl IntoView {
    let settings = RwSignal::new(Vec::<SettingView>::new());
    let problem = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::list_settings().await {
                Ok(fresh) => settings.set(fresh),
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
    let at_login = RwSignal::new(None::<bool>);
    spawn_local(async move {
        match api::launch_at_login().await {
            Ok(enabled) => at_login.set(Some(enabled)),
            // A browser: the server has no login item.
            Err(error) if error.kind == "unavailable" => {}
            Err(error) => problem.set(Some(error.message)),
        }
    });
    view! {
        <header class="page-header"><h1>"Settings"</h1></header>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert" id="settings-error">{message}</div> })}
        <super::keys::KeysPanel/>
        <super::prices::PricesPanel/>
        <super::transfer::TransferPanel/>
        <super::access::AccessPanel/>
        <super::webhooks::WebhooksPanel/>
        <super::sync::SyncPanel/>
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
