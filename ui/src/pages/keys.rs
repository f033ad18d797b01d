//! The API keys panel: each key with its policy (owner, expiry, allowed
//! models, budgets and rates), pause, copy and revoke, and a form for a new
//! one. On Settings for administrators, and the page a team member sees
//! (the server shows a member only their own keys).

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::ApiKeyView;

use crate::api;

/// The API keys panel.
#[component]
pub(crate) fn KeysPanel() -> impl IntoView {
    let keys = RwSignal::new(Vec::<ApiKeyView>::new());
    let problem = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<String>);
    let copied = RwSignal::new(None::<i64>);
    // A member's policies are the administrators' to set.
    let is_member = api::member();
    let reload = move || {
        spawn_local(async move {
            match api::list_api_keys().await {
                Ok(fresh) => keys.set(fresh),
                Err(error) => problem.set(Some(error.message)),
            }
        });
    };
    reload();
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
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert" id="keys-error">{message}</div> })}
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
                                        <input disabled=move || is_member.get().is_some() class="key-owner" placeholder="owner" prop:value=move || owner.get()
                                            on:input=move |ev| owner.set(event_target_value(&ev))
                                            on:change=move |_| save_owner()/>
                                        <input disabled=move || is_member.get().is_some() class="key-expiry" type="date" title="expires at the end of this day (UTC)"
                                            prop:value=move || expiry.get()
                                            on:input=move |ev| expiry.set(event_target_value(&ev))
                                            on:change=move |_| save_expiry()/>
                                        <input disabled=move || is_member.get().is_some() class="key-models" placeholder="all models (or glm/*, a combo…)"
                                            prop:value=move || models.get()
                                            on:input=move |ev| models.set(event_target_value(&ev))
                                            on:change=move |_| save_policy()/>
                                    }
                                })}</td>
                                <td class="key-limits">{(!key.revoked).then(|| view! {
                                    <input disabled=move || is_member.get().is_some() class="weight key-day-budget" placeholder="$/day" title="USD per day (empty: no budget)"
                                        prop:value=move || day_budget.get()
                                        on:input=move |ev| day_budget.set(event_target_value(&ev))
                                        on:change={
                                            let save = save_limits.clone();
                                            move |_| save()
                                        }/>
                                    <input disabled=move || is_member.get().is_some() class="weight key-month-budget" placeholder="$/month" title="USD per calendar month (empty: no budget)"
                                        prop:value=move || month_budget.get()
                                        on:input=move |ev| month_budget.set(event_target_value(&ev))
                                        on:change={
                                            let save = save_limits.clone();
                                            move |_| save()
                                        }/>
                                    <input disabled=move || is_member.get().is_some() class="weight key-rpm" placeholder="req/min" title="requests per minute (empty: no limit)"
                                        prop:value=move || per_minute.get()
                                        on:input=move |ev| per_minute.set(event_target_value(&ev))
                                        on:change={
                                            let save = save_limits.clone();
                                            move |_| save()
                                        }/>
                                    <input disabled=move || is_member.get().is_some() class="weight key-tpm" placeholder="tok/min" title="tokens per minute (empty: no limit)"
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
    }
}
