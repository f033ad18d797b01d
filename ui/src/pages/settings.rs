//! The Settings page: every gateway and app setting with its stored value,
//! changed in place (checked by the app, errors shown), plus API keys.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{ApiKeyView, SettingView};

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
            <p class="muted">"Clients send one as " <code>"Authorization: Bearer <key>"</code>". A key is shown once, when created."</p>
            {move || created.get().map(|key| view! { <pre class="mono" id="created-key">{key}</pre> })}
            <table id="api-keys">
                <tbody>
                    {move || keys.get().into_iter().map(|key| {
                        let id = key.id;
                        view! {
                            <tr>
                                <td>{key.name.clone()}</td>
                                <td class="mono muted">{format!("{}…", key.hint)}</td>
                                <td>{if key.revoked { "revoked" } else { "active" }}</td>
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
