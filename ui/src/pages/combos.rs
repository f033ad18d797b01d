//! The Combos page: every combo with its strategy, its targets and each
//! target's success rate over the last day, and an editor to create one or
//! change one: targets added, removed, reordered (drag and drop, or the
//! buttons and Alt+↑/↓ from the keyboard), switched off, weighted.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{ComboTargetView, ComboView};

use crate::api;

/// The Combos page.
#[component]
pub(crate) fn CombosPage() -> impl IntoView {
    let combos = RwSignal::new(None::<Vec<ComboView>>);
    let problem = RwSignal::new(None::<String>);
    let editing = RwSignal::new(ComboView {
        name: String::new(),
        strategy: "fallback".into(),
        targets: Vec::new(),
    });
    let reload = move || {
        spawn_local(async move {
            match api::list_combos().await {
                Ok(fresh) => combos.set(Some(fresh)),
                Err(error) => problem.set(Some(error.message)),
            }
        });
    };
    reload();
    // A combo imported from a link, or changed from the CLI, shows up.
    api::on_event("state-changed", move |_: serde_json::Value| reload());
    let rates = RwSignal::new(std::collections::HashMap::<String, (u64, u64)>::new());
    spawn_local(async move {
        let since = js_sys::Date::now() as i64 - 24 * 3_600_000;
        if let Ok(outcomes) = api::target_outcomes(since).await {
            rates.set(
                outcomes
                    .into_iter()
                    .map(|o| (o.target, (o.attempts, o.succeeded)))
                    .collect(),
            );
        }
    });
    let rate_of = move |target: &str| {
        rates.with(|rates| {
            rates.get(target).map(|(attempts, ok)| {
                format!(
                    "{:.0}% of {attempts}",
                    *ok as f64 * 100.0 / (*attempts).max(1) as f64
                )
            })
        })
    };
    let dragged = RwSignal::new(None::<usize>);
    // The `default_model` setting: where unknown model names go.
    let default_model = RwSignal::new(None::<String>);
    let load_default = move || {
        spawn_local(async move {
            if let Ok(settings) = api::list_settings().await {
                default_model.set(
                    settings
                        .into_iter()
                        .find(|s| s.name == "default_model")
                        .and_then(|s| s.value),
                );
            }
        });
    };
    load_default();
    let make_default = move |name: Option<String>| {
        spawn_local(async move {
            if let Err(error) = api::set_setting("default_model".into(), name).await {
                problem.set(Some(error.message));
            }
            load_default();
        });
    };
    let save = move |_| {
        let combo = editing.get();
        spawn_local(async move {
            match api::save_combo(combo).await {
                Ok(()) => {
                    problem.set(None);
                    reload();
                }
                Err(error) => problem.set(Some(error.message)),
            }
        });
    };
    let new_target = RwSignal::new(String::new());
    let add_target = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let target = new_target.get().trim().to_owned();
        if target.is_empty() {
            return;
        }
        editing.update(|combo| {
            combo.targets.push(ComboTargetView {
                target,
                weight: 1,
                enabled: true,
            })
        });
        new_target.set(String::new());
    };
    let move_target = move |index: usize, up: bool| {
        editing.update(|combo| {
            let other = if up {
                index.checked_sub(1)
            } else {
                Some(index + 1)
            };
            if let Some(other) = other.filter(|other| *other < combo.targets.len()) {
                combo.targets.swap(index, other);
            }
        })
    };
    view! {
        <header class="page-header"><h1>"Combos"</h1></header>
        {move || problem.get().map(|message| view! { <div class="banner error" role="alert" id="combo-error">{message}</div> })}
        {move || match combos.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(list) if list.is_empty() => view! { <p class="muted" id="no-combos">"No combos yet: build one below."</p> }.into_any(),
            Some(list) => view! {
                <table id="combo-list">
                    <thead><tr><th>"Name"</th><th>"Strategy"</th><th>"Targets"</th><th></th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|combo| {
                            let name = combo.name.clone();
                            let edit = combo.clone();
                            let targets = combo.targets.iter().map(|t| {
                                let mut text = t.target.clone();
                                if t.weight != 1 { text.push_str(&format!(" ×{}", t.weight)); }
                                if !t.enabled { text.push_str(" (off)"); }
                                text
                            }).collect::<Vec<_>>().join(" → ");
                            let health = combo.targets.iter().filter_map(|t| rate_of(&t.target).map(|rate| format!("{}: {rate}", t.target)))
                                .collect::<Vec<_>>().join(" · ");
                            view! {
                                <tr class="combo" id=format!("combo-{}", combo.name)>
                                    <td class="mono">{combo.name.clone()}</td>
                                    <td>{combo.strategy.clone()}</td>
                                    <td><div class="mono combo-targets">{targets}</div>
                                        <div class="muted small combo-health">{if health.is_empty() { "no requests in the last day".to_owned() } else { format!("last day: {health}") }}</div></td>
                                    <td>
                                        {
                                            let this = combo.name.clone();
                                            move || {
                                                let is_default = default_model.get().as_deref() == Some(this.as_str());
                                                let target = (!is_default).then(|| this.clone());
                                                view! {
                                                    <button class=if is_default { "combo-default" } else { "secondary combo-default" }
                                                        title="Requests naming a model Switchyard does not know go to the default"
                                                        on:click=move |_| make_default(target.clone())>
                                                        {if is_default { "Default ✓" } else { "Make default" }}</button>
                                                }
                                            }
                                        }
                                        " "
                                        <button class="secondary" on:click=move |_| editing.set(edit.clone())>"Edit"</button>
                                        " "
                                        <button class="secondary danger" on:click=move |_| {
                                            let name = name.clone();
                                            spawn_local(async move {
                                                if let Err(error) = api::remove_combo(name).await {
                                                    problem.set(Some(error.message));
                                                }
                                                reload();
                                            });
                                        }>"Remove"</button>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
        <section class="panel" id="combo-editor">
            <h2>"Build a combo"</h2>
            <div class="form-grid">
                <label class="field"><span>"Name"</span>
                    <input id="combo-name" prop:value=move || editing.with(|c| c.name.clone())
                        on:input=move |ev| editing.update(|c| c.name = event_target_value(&ev))/>
                </label>
                <label class="field"><span>"Strategy"</span>
                    <select id="combo-strategy" prop:value=move || editing.with(|c| c.strategy.clone())
                        on:change=move |ev| editing.update(|c| c.strategy = event_target_value(&ev))>
                        <option value="fallback">"Fallback, in order"</option>
                        <option value="round-robin">"Round-robin"</option>
                        <option value="weighted">"Weighted"</option>
                    </select>
                </label>
            </div>
            <ol class="target-list" id="combo-targets">
                {move || editing.with(|combo| combo.targets.clone()).into_iter().enumerate().map(|(index, target)| view! {
                    <li class="target-row" draggable="true"
                        on:dragstart=move |_| dragged.set(Some(index))
                        on:dragover=move |ev| ev.prevent_default()
                        on:drop=move |ev| {
                            ev.prevent_default();
                            if let Some(from) = dragged.get_untracked() {
                                editing.update(|c| {
                                    if from < c.targets.len() && index < c.targets.len() {
                                        let moved = c.targets.remove(from);
                                        c.targets.insert(index, moved);
                                    }
                                });
                            }
                            dragged.set(None);
                        }
                        on:keydown=move |ev| if ev.alt_key() {
                            match ev.key().as_str() {
                                "ArrowUp" => { ev.prevent_default(); move_target(index, true) }
                                "ArrowDown" => { ev.prevent_default(); move_target(index, false) }
                                _ => {}
                            }
                        }>
                        <span class="drag-handle" aria-hidden="true">"⠿"</span>
                        <span class="mono target-name">{target.target.clone()}</span>
                        <span class="muted small">{rate_of(&target.target).unwrap_or_default()}</span>
                        <label class="muted">"weight "
                            <input class="weight" type="number" min="0" prop:value=target.weight.to_string()
                                on:input=move |ev| {
                                    let weight = event_target_value(&ev).parse().unwrap_or(1);
                                    editing.update(|c| if let Some(t) = c.targets.get_mut(index) { t.weight = weight });
                                }/>
                        </label>
                        <label class="muted"><input type="checkbox" prop:checked=target.enabled
                            on:change=move |_| editing.update(|c| if let Some(t) = c.targets.get_mut(index) { t.enabled = !t.enabled })/>" on"</label>
                        <button class="secondary move-up" aria-label="Move up" on:click=move |_| move_target(index, true)>"↑"</button>
                        <button class="secondary move-down" aria-label="Move down" on:click=move |_| move_target(index, false)>"↓"</button>
                        <button class="secondary danger" aria-label="Remove target"
                            on:click=move |_| editing.update(|c| { c.targets.remove(index); })>"×"</button>
                    </li>
                }).collect_view()}
            </ol>
            <form class="inline-form" on:submit=add_target>
                <input id="combo-new-target" placeholder="prefix/model, alias or combo"
                    prop:value=move || new_target.get() on:input=move |ev| new_target.set(event_target_value(&ev))/>
                <button type="submit" class="secondary" id="combo-add-target">"Add target"</button>
            </form>
            <button id="combo-save" on:click=save>"Save combo"</button>
        </section>
    }
}
