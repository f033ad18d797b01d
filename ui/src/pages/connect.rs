//! Connecting subscription accounts from the Providers page: a browser
//! login (the app opens the page and waits for the callback), a device
//! code (shown with a copy button and a countdown while the app polls), an
//! import of the credentials an installed CLI holds, or a pasted refresh
//! token. The outcome arrives as an `account-connected` or `connect-failed`
//! event.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use switchyard_api_types::{ConnectStart, ServiceView};

use crate::api;

/// Where a login stands.
#[derive(Debug, Clone, PartialEq)]
enum Progress {
    /// Waiting for the browser sign-in at `url`.
    Browser { service: String, url: String },
    /// Waiting for the user to enter `code`.
    Device {
        service: String,
        code: String,
        uri: String,
        expires_at_ms: f64,
    },
    /// Asked the app; waiting for its answer.
    Working(String),
    /// Connected.
    Done(String),
    /// Failed, with the reason.
    Failed(String),
}

#[derive(Deserialize)]
struct Connected {
    service: String,
    provider: String,
    account: String,
}

#[derive(Deserialize)]
struct ConnectFailed {
    service: String,
    message: String,
}

/// The "Connect a subscription" panel; `on_connected` reloads the page.
#[component]
pub(crate) fn ConnectPanel(
    on_connected: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let services = RwSignal::new(Vec::<ServiceView>::new());
    let progress = RwSignal::new(None::<Progress>);
    let now = RwSignal::new(js_sys::Date::now());
    let pasting = RwSignal::new(None::<String>);
    let pasted = RwSignal::new(String::new());
    spawn_local(async move {
        match api::list_services().await {
            Ok(list) => services.set(list),
            Err(error) => progress.set(Some(Progress::Failed(error.message))),
        }
    });
    if let Ok(handle) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || handle.clear());
    }
    api::on_event("account-connected", move |event: Connected| {
        progress.set(Some(Progress::Done(format!(
            "Connected {} ({}): its models are under {}/…",
            event.account, event.service, event.provider
        ))));
        on_connected();
    });
    api::on_event("connect-failed", move |event: ConnectFailed| {
        progress.set(Some(Progress::Failed(format!(
            "{}: {}",
            event.service, event.message
        ))));
    });

    let log_in_with = move |service: String, device: bool| {
        progress.set(Some(Progress::Working(format!(
            "Starting the {service} login…"
        ))));
        spawn_local(async move {
            let started = api::start_connect(service.clone(), device).await;
            progress.set(Some(match started {
                Ok(ConnectStart::Browser { url }) => Progress::Browser { service, url },
                Ok(ConnectStart::Device {
                    user_code,
                    verification_uri,
                    verification_uri_complete,
                    expires_in_secs,
                }) => Progress::Device {
                    service,
                    code: user_code,
                    uri: verification_uri_complete.unwrap_or(verification_uri),
                    expires_at_ms: js_sys::Date::now() + expires_in_secs as f64 * 1000.0,
                },
                Err(error) => Progress::Failed(error.message),
            }));
        });
    };
    let log_in = move |service: String| log_in_with(service, false);
    // A `switchyard://connect/<service>` link the user accepted.
    if let Some(requests) = use_context::<crate::links::LinkRequests>() {
        Effect::new(move |_| {
            if let Some(service) = requests.connect.get() {
                requests.connect.set(None);
                log_in(service);
            }
        });
    }
    let import = move |service: String| {
        progress.set(Some(Progress::Working(format!("Importing {service}…"))));
        spawn_local(async move {
            if let Err(error) = api::import_account(service).await {
                progress.set(Some(Progress::Failed(error.message)));
            }
        });
    };
    let callback = RwSignal::new(String::new());
    let finish_pasted = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let address = callback.get_untracked();
        callback.set(String::new());
        spawn_local(async move {
            if let Err(error) = api::finish_login(address).await {
                progress.set(Some(Progress::Failed(error.message)));
            }
        });
    };
    let submit_token = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(service) = pasting.get_untracked() else {
            return;
        };
        let token = pasted.get_untracked();
        pasted.set(String::new());
        pasting.set(None);
        progress.set(Some(Progress::Working(format!(
            "Checking the {service} token…"
        ))));
        spawn_local(async move {
            if let Err(error) = api::connect_with_refresh_token(service, token).await {
                progress.set(Some(Progress::Failed(error.message)));
            }
        });
    };

    view! {
        <section class="panel" id="connect">
            <h2>"Connect a subscription"</h2>
            <p class="muted">"Log in with the account you already pay for; tokens are refreshed by themselves and stored encrypted."</p>
            {move || progress.get().map(|state| match state {
                Progress::Browser { service, url } => view! {
                    <div class="banner" id="connect-progress" role="status">
                        <p>{format!("Finish signing in to {service} in your browser. Waiting…")}</p>
                        <p class="mono wrap"><a href=url.clone() target="_blank" rel="noopener noreferrer" id="connect-url">{url.clone()}</a></p>
                        <p class="muted small">
                            "Switchyard on another machine? The sign-in ends on a "<code>"localhost"</code>
                            " address that does not load here: copy that whole address from the browser's bar and paste it below."
                        </p>
                        <form class="inline-form" on:submit=finish_pasted>
                            <label for="callback-address">"Address the browser ended on"</label>
                            <input id="callback-address" type="url" autocomplete="off"
                                prop:value=move || callback.get()
                                on:input=move |ev| callback.set(event_target_value(&ev))/>
                            <button type="submit" id="finish-login">"Finish login"</button>
                        </form>
                    </div>
                }.into_any(),
                Progress::Device { service, code, uri, expires_at_ms } => {
                    let copy_code = code.clone();
                    view! {
                        <div class="banner" id="connect-progress" role="status">
                            <p>{format!("To connect {service}, open ")}<span class="mono">{uri}</span>" and enter:"</p>
                            <p class="device-code mono" id="device-code">{code}</p>
                            <button class="secondary" id="copy-device-code" on:click=move |_| {
                                let code = copy_code.clone();
                                spawn_local(async move { let _ = api::copy_text(code).await; });
                            }>"Copy code"</button>
                            <span class="muted" id="device-countdown">{move || {
                                let left = ((expires_at_ms - now.get()) / 1000.0).max(0.0) as u64;
                                format!(" expires in {}:{:02}", left / 60, left % 60)
                            }}</span>
                        </div>
                    }.into_any()
                }
                Progress::Working(text) => view! {
                    <div class="banner" id="connect-progress" role="status">{text}</div>
                }.into_any(),
                Progress::Done(text) => view! {
                    <div class="banner ok" id="connect-done" role="status">{text}</div>
                }.into_any(),
                Progress::Failed(text) => view! {
                    <div class="banner error" id="connect-error" role="alert">{text}</div>
                }.into_any(),
            })}
            <table id="services">
                <tbody>
                    {move || services.get().into_iter().map(|service| {
                        let id = service.id.clone();
                        let (log_in_id, import_id, paste_id) = (id.clone(), id.clone(), id.clone());
                        let device_id = id.clone();
                        let login_label = if service.login == "device" { "Log in with a code" } else { "Log in" };
                        view! {
                            <tr id=format!("service-{}", service.id)>
                                <td>{service.name.clone()}</td>
                                <td class="mono muted">{format!("{}/…", service.prefix)}</td>
                                <td>
                                    <button class="connect-login" on:click=move |_| log_in(log_in_id.clone())>{login_label}</button>
                                    {service.device_option.then(|| view! {
                                        <button class="secondary connect-device" on:click=move |_| log_in_with(device_id.clone(), true)>"Use a code instead"</button>
                                    })}
                                    {service.import_from.clone().map(|path| view! {
                                        <button class="secondary connect-import" title=path on:click=move |_| import(import_id.clone())>"Import from CLI"</button>
                                    })}
                                    <button class="secondary connect-paste" on:click=move |_| pasting.set(Some(paste_id.clone()))>"Paste token"</button>
                                </td>
                                <td class="muted small">{service.terms_note.clone().unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            {move || pasting.get().map(|service| view! {
                <form class="inline-form" on:submit=submit_token>
                    <label for="refresh-token">{format!("{service} refresh token")}</label>
                    <input id="refresh-token" type="password" autocomplete="off" prop:value=move || pasted.get()
                        on:input=move |ev| pasted.set(event_target_value(&ev))/>
                    <button type="submit">"Connect"</button>
                    <button type="button" class="secondary" on:click=move |_| pasting.set(None)>"Cancel"</button>
                </form>
            })}
        </section>
    }
}
