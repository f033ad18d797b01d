//! `switchyard://` links the app received, shown as banners that act only
//! when the user says so: connect a service, import a shared combo, add a
//! shared provider node (the user supplies its key), or why a link was
//! refused. Links are taken from the app once (`take_deep_links`), on load
//! and on each `deep-link` event, so each is handled exactly once.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::{ComboTargetView, ComboView, LinkView as Link, NewProviderInput};

use crate::api;

/// Requests other pages act on (shared through Leptos context).
#[derive(Clone, Copy)]
pub(crate) struct LinkRequests {
    /// A service the Providers page should start logging in to.
    pub(crate) connect: RwSignal<Option<String>>,
    /// A provider the Providers page's form should be filled with.
    pub(crate) provider: RwSignal<Option<NewProviderInput>>,
}

fn go_to(page: &str) {
    let _ = window().location().set_hash(page);
}

/// The banners; mounted once by the app frame.
#[component]
pub(crate) fn LinkBanners() -> impl IntoView {
    let requests = LinkRequests {
        connect: RwSignal::new(None),
        provider: RwSignal::new(None),
    };
    provide_context(requests);
    let links = RwSignal::new(Vec::<(usize, Link)>::new());
    let counter = StoredValue::new(0_usize);
    let take = move || {
        spawn_local(async move {
            if let Ok(taken) = api::take_deep_links().await {
                links.update(|list| {
                    for link in taken {
                        counter.update_value(|n| *n += 1);
                        list.push((counter.get_value(), link));
                    }
                });
            }
        });
    };
    take();
    api::on_event("deep-link", move |_: serde_json::Value| take());
    let dismiss = move |id: usize| links.update(|list| list.retain(|(n, _)| *n != id));
    view! {
        <div id="deep-links">
            {move || links.get().into_iter().map(|(id, link)| match link {
                Link::Connect { service } => view! {
                    <div class="banner link-banner" role="status">
                        {format!("A link asks to connect {service}. ")}
                        <button class="link-accept" on:click=move |_| {
                            requests.connect.set(Some(service.clone()));
                            go_to("providers");
                            dismiss(id);
                        }>"Log in"</button>
                        <button class="secondary" on:click=move |_| dismiss(id)>"Dismiss"</button>
                    </div>
                }.into_any(),
                Link::ImportCombo { name, targets } => {
                    let summary = format!("A link shares the combo {name}: {}. ", targets.join(" → "));
                    view! {
                        <div class="banner link-banner" role="status">
                            {summary}
                            <button class="link-accept" on:click=move |_| {
                                let combo = ComboView {
                                    name: name.clone(),
                                    strategy: "fallback".into(),
                                    targets: targets.iter().map(|target| ComboTargetView {
                                        target: target.clone(), weight: 1, enabled: true,
                                    }).collect(),
                                };
                                spawn_local(async move {
                                    match api::save_combo(combo).await {
                                        Ok(()) => { dismiss(id); go_to("combos"); }
                                        Err(error) => links.update(|list| list.push((id + 10_000, Link::Refused { message: error.message }))),
                                    }
                                });
                            }>"Import combo"</button>
                            <button class="secondary" on:click=move |_| dismiss(id)>"Dismiss"</button>
                        </div>
                    }.into_any()
                }
                Link::ImportProvider { name, format, base_url, prefix, models } => {
                    let summary = format!("A link shares the provider {name} ({base_url}, {format}). Its key is yours to add. ");
                    view! {
                        <div class="banner link-banner" role="status">
                            {summary}
                            <button class="link-accept" on:click=move |_| {
                                requests.provider.set(Some(NewProviderInput {
                                    name: name.clone(), prefix: prefix.clone(), kind: format.clone(),
                                    base_url: base_url.clone(), api_key: String::new(), models: models.clone(), skip_check: false,
                                }));
                                go_to("providers");
                                dismiss(id);
                            }>"Fill in the form"</button>
                            <button class="secondary" on:click=move |_| dismiss(id)>"Dismiss"</button>
                        </div>
                    }.into_any()
                }
                Link::OauthCallback { delivered: true } => view! { <span></span> }.into_any(),
                Link::OauthCallback { delivered: false } => view! {
                    <div class="banner warning" role="alert">
                        "A login callback arrived while no login was waiting; it was ignored. "
                        <button class="secondary" on:click=move |_| dismiss(id)>"Dismiss"</button>
                    </div>
                }.into_any(),
                Link::Refused { message } => view! {
                    <div class="banner error link-refused" role="alert">
                        {format!("Switchyard refused a link: {message}. ")}
                        <button class="secondary" on:click=move |_| dismiss(id)>"Dismiss"</button>
                    </div>
                }.into_any(),
            }).collect_view()}
        </div>
    }
}
