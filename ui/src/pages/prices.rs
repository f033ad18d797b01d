//! Prices, on the Settings page: the built-in table and the user's own
//! overrides (USD per million tokens, per image made, per second of audio
//! heard), searchable; an override is added, changed or removed in place.
//! Costs in Usage and Logs come from these.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::PriceView;

use crate::api;

/// The prices panel.
#[component]
pub(crate) fn PricesPanel() -> impl IntoView {
    let prices = RwSignal::new(Vec::<PriceView>::new());
    let problem = RwSignal::new(None::<String>);
    let search = RwSignal::new(String::new());
    let reload = move || {
        spawn_local(async move {
            match api::list_prices().await {
                Ok(list) => prices.set(list),
                Err(error) => problem.set(Some(error.message)),
            }
        });
    };
    reload();
    let model = RwSignal::new(String::new());
    let input = RwSignal::new(String::new());
    let output = RwSignal::new(String::new());
    let per_image = RwSignal::new(String::new());
    let per_second = RwSignal::new(String::new());
    // An empty optional price is none; anything else must be a number.
    let optional = |text: String| -> Result<Option<f64>, ()> {
        let text = text.trim().to_owned();
        if text.is_empty() {
            Ok(None)
        } else {
            text.parse::<f64>().map(Some).map_err(|_| ())
        }
    };
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Ok(input_per_mtok), Ok(output_per_mtok), Ok(image_price), Ok(second_price)) = (
            input.get_untracked().trim().parse::<f64>(),
            output.get_untracked().trim().parse::<f64>(),
            optional(per_image.get_untracked()),
            optional(per_second.get_untracked()),
        ) else {
            problem.set(Some(
                "prices are numbers of USD (per million tokens, per image, per second), e.g. 3 or 0.25".into(),
            ));
            return;
        };
        let price = PriceView {
            model: model.get_untracked().trim().to_owned(),
            input_per_mtok,
            output_per_mtok,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
            per_image: image_price,
            per_audio_second: second_price,
            source: "yours".into(),
        };
        spawn_local(async move {
            match api::set_price(price).await {
                Ok(()) => {
                    problem.set(None);
                    model.set(String::new());
                    input.set(String::new());
                    output.set(String::new());
                    per_image.set(String::new());
                    per_second.set(String::new());
                }
                Err(error) => problem.set(Some(error.message)),
            }
            reload();
        });
    };
    view! {
        <section class="panel" id="prices">
            <div class="panel-head">
                <h2>"Prices"</h2>
                <input type="search" id="price-search" placeholder="search models…" prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))/>
            </div>
            <p class="muted">"USD per million tokens, and optionally per image made and per second of audio heard. Yours override the built-in table; costs are computed from these."</p>
            {move || problem.get().map(|message| view! { <div class="banner error" role="alert" id="price-error">{message}</div> })}
            <form class="inline-form" on:submit=save>
                <input id="price-model" placeholder="prefix/model or model" prop:value=move || model.get() on:input=move |ev| model.set(event_target_value(&ev))/>
                <input id="price-input" class="weight" placeholder="input" prop:value=move || input.get() on:input=move |ev| input.set(event_target_value(&ev))/>
                <input id="price-output" class="weight" placeholder="output" prop:value=move || output.get() on:input=move |ev| output.set(event_target_value(&ev))/>
                <input id="price-per-image" class="weight" placeholder="per image" prop:value=move || per_image.get() on:input=move |ev| per_image.set(event_target_value(&ev))/>
                <input id="price-per-second" class="weight" placeholder="per second" prop:value=move || per_second.get() on:input=move |ev| per_second.set(event_target_value(&ev))/>
                <button type="submit" class="secondary" id="price-save">"Set price"</button>
            </form>
            <table id="price-list">
                <thead><tr><th>"Model"</th><th>"Input"</th><th>"Output"</th><th>"Cache read"</th><th>"Per image"</th><th>"Per second"</th><th>"Source"</th><th></th></tr></thead>
                <tbody>
                    {move || {
                        let needle = search.get().trim().to_lowercase();
                        prices.get().into_iter()
                            .filter(|p| needle.is_empty() || p.model.to_lowercase().contains(&needle))
                            .take(60)
                            .map(|price| {
                                let yours = price.source == "yours";
                                let name = price.model.clone();
                                view! {
                                    <tr>
                                        <td class="mono">{price.model.clone()}</td>
                                        <td>{format!("{}", price.input_per_mtok)}</td>
                                        <td>{format!("{}", price.output_per_mtok)}</td>
                                        <td>{price.cache_read_per_mtok.map(|p| p.to_string()).unwrap_or_else(|| "–".into())}</td>
                                        <td>{price.per_image.map(|p| p.to_string()).unwrap_or_else(|| "–".into())}</td>
                                        <td>{price.per_audio_second.map(|p| p.to_string()).unwrap_or_else(|| "–".into())}</td>
                                        <td class="muted">{price.source.clone()}</td>
                                        <td>{yours.then(|| view! {
                                            <button class="secondary danger" on:click=move |_| {
                                                let name = name.clone();
                                                spawn_local(async move {
                                                    if let Err(error) = api::remove_price(name).await { problem.set(Some(error.message)); }
                                                    reload();
                                                });
                                            }>"Remove"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()
                    }}
                </tbody>
            </table>
        </section>
    }
}
