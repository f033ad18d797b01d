//! Settings' "Sync" panel: this installation's link to a hub (state, last
//! sync, link and unlink, conflicts with a one-click restore) and, as a
//! hub, a pairing code for a new device and the linked devices.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{LinkedDeviceView, SyncConflictView, SyncView};

use crate::api;
use crate::pages::load_polled;

/// The panel.
#[component]
pub(crate) fn SyncPanel() -> impl IntoView {
    let (view_data, reload_view) =
        load_polled(api::sync_status, Some(std::time::Duration::from_secs(3)));
    let conflicts = RwSignal::new(Vec::<SyncConflictView>::new());
    let problem = RwSignal::new(None::<String>);
    let code = RwSignal::new(None::<String>);
    let hub_url = RwSignal::new(String::new());
    let pairing = RwSignal::new(String::new());
    let device_name = RwSignal::new(String::new());
    let passphrase = RwSignal::new(String::new());
    let load_conflicts = move || {
        spawn_local(async move {
            match api::sync_conflicts().await {
                Ok(list) => conflicts.set(list),
                Err(error) => problem.set(Some(error.message)),
            }
        });
    };
    let link = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (url, pairing_code, name, secret) = (
            hub_url.get_untracked(),
            pairing.get_untracked(),
            device_name.get_untracked(),
            passphrase.get_untracked(),
        );
        spawn_local(async move {
            let name = (!name.trim().is_empty()).then_some(name);
            let secret = (!secret.is_empty()).then_some(secret);
            match api::sync_link(url, pairing_code, name, secret).await {
                Ok(_) => {
                    problem.set(None);
                    pairing.set(String::new());
                    passphrase.set(String::new());
                }
                Err(error) => problem.set(Some(error.message)),
            }
            reload_view();
        });
    };
    view! {
        <section class="panel" id="sync">
            <h2>"Sync"</h2>
            <p class="muted">"Keep providers, accounts, combos, aliases, prices, key policies and shared settings the same on your devices through a Switchyard you own (a server, or one of your machines): the hub. Usage stays on each device."</p>
            {move || problem.get().map(|text| view! { <p class="banner error" role="alert">{text}</p> })}
            {move || view_data.data.get().map(|view: SyncView| {
                let device = view.device.clone();
                let linked = device.linked;
                view! {
                    <div id="sync-state">
                        {if linked {
                            view! {
                                <p>
                                    <span class=format!("badge sync-{}", device.state) id="sync-badge">{device.state.clone()}</span>
                                    " "{format!("{} as {}", device.hub_url.clone().unwrap_or_default(), device.device_name.clone().unwrap_or_default())}
                                    {if device.e2e { " · sealed end to end" } else { "" }}
                                    " · last sync "{device.last_sync_at.map(super::format_time).unwrap_or_else(|| "never".into())}
                                </p>
                                {device.last_error.clone().map(|error| view! { <p class="small muted">{error}</p> })}
                                <p>
                                    <button class="secondary" id="sync-now" on:click=move |_| spawn_local(async move {
                                        if let Err(error) = api::sync_now().await { problem.set(Some(error.message)); }
                                        reload_view();
                                    })>"Sync now"</button>
                                    <button class="secondary" id="sync-conflicts" on:click=move |_| load_conflicts()>
                                        {format!("Conflicts ({} open)", device.open_conflicts)}
                                    </button>
                                    <button class="secondary danger" id="sync-unlink" on:click=move |_| spawn_local(async move {
                                        if let Err(error) = api::sync_unlink().await { problem.set(Some(error.message)); }
                                        reload_view();
                                    })>"Unlink"</button>
                                </p>
                            }.into_any()
                        } else {
                            view! { <p class="muted" id="sync-unlinked">"This installation is not linked to a hub."</p> }.into_any()
                        }}
                        {(!view.devices.is_empty()).then(|| view! {
                            <h3>{if view.hub_e2e { "Devices linked here (end to end)" } else { "Devices linked here" }}</h3>
                            <table id="sync-devices"><tbody>
                                {view.devices.into_iter().map(|linked: LinkedDeviceView| {
                                    let id = linked.id.clone();
                                    let revoked = linked.revoked_at.is_some();
                                    view! {
                                        <tr>
                                            <td>{linked.name}</td>
                                            <td class="small muted mono">{linked.id}</td>
                                            <td class="small">{linked.last_seen_at.map(super::format_time).unwrap_or_else(|| "never".into())}</td>
                                            <td class="small">{format!("{} requests · ${:.2}", linked.requests, linked.cost_usd)}</td>
                                            <td>{if revoked {
                                                view! { <span class="muted">"revoked"</span> }.into_any()
                                            } else {
                                                view! { <button class="secondary danger" on:click=move |_| {
                                                    let id = id.clone();
                                                    spawn_local(async move {
                                                        if let Err(error) = api::sync_revoke_device(id).await { problem.set(Some(error.message)); }
                                                        reload_view();
                                                    });
                                                }>"Revoke"</button> }.into_any()
                                            }}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody></table>
                        })}
                    </div>
                }
            })}
            <table id="sync-conflict-list"><tbody>
                {move || conflicts.get().into_iter().map(|conflict: SyncConflictView| {
                    let id = conflict.id;
                    let open = conflict.resolved_at.is_none();
                    view! {
                        <tr>
                            <td class="small">{super::format_time(conflict.at)}</td>
                            <td>{format!("{} {}", conflict.kind, conflict.name)}</td>
                            <td class="small">{format!("{} stands over {}", conflict.winner_device, conflict.loser_device)}</td>
                            <td>{open.then(|| view! {
                                <button class="secondary" on:click=move |_| spawn_local(async move {
                                    match api::sync_restore(id).await {
                                        Ok(_) => load_conflicts(),
                                        Err(error) => problem.set(Some(error.message)),
                                    }
                                    reload_view();
                                })>"Restore the other value"</button>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody></table>
            <form class="inline-form" id="sync-link-form" on:submit=link>
                <input id="sync-hub-url" type="url" placeholder="https://hub.example:20128" required
                    prop:value=move || hub_url.get() on:input=move |ev| hub_url.set(event_target_value(&ev))/>
                <input id="sync-code" placeholder="Pairing code" required autocomplete="off"
                    prop:value=move || pairing.get() on:input=move |ev| pairing.set(event_target_value(&ev))/>
                <input id="sync-device-name" placeholder="This device's name"
                    prop:value=move || device_name.get() on:input=move |ev| device_name.set(event_target_value(&ev))/>
                <input id="sync-passphrase" type="password" placeholder="Passphrase (end to end, optional)" autocomplete="new-password"
                    prop:value=move || passphrase.get() on:input=move |ev| passphrase.set(event_target_value(&ev))/>
                <button type="submit" id="sync-link">"Link to hub"</button>
            </form>
            <p class="small muted">"With a passphrase the hub holds only ciphertext; it then cannot refresh tokens or serve those accounts itself."</p>
            <p>
                <button class="secondary" id="sync-pair" on:click=move |_| spawn_local(async move {
                    match api::sync_pairing_code().await {
                        Ok(made) => code.set(Some(format!("{} (valid until {})", made.code, super::format_time(made.expires_at)))),
                        Err(error) => problem.set(Some(error.message)),
                    }
                })>"Pair a device with this hub"</button>
                {move || code.get().map(|text| view! { <span class="mono" id="sync-pairing-code">" "{text}</span> })}
            </p>
        </section>
    }
}
