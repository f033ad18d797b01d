//! What a request cost: a built-in price table for well-known models, which
//! users override per model (`switchyard price set`), applied to the tokens
//! the provider reported.

use std::collections::HashMap;

use switchyard_protocol::Usage;
use switchyard_store::Price;

/// Built-in prices in USD per million tokens: (model, input, output, cache
/// read, cache write). Public list prices; users override what differs.
const BUILT_IN: &[BuiltIn] = &[
    ("gpt-4o", 2.50, 10.00, 1.25, 2.50),
    ("gpt-4o-mini", 0.15, 0.60, 0.075, 0.15),
    ("gpt-4.1", 2.00, 8.00, 0.50, 2.00),
    ("gpt-4.1-mini", 0.40, 1.60, 0.10, 0.40),
    ("gpt-4.1-nano", 0.10, 0.40, 0.025, 0.10),
    ("gpt-5", 1.25, 10.00, 0.125, 1.25),
    ("gpt-5-mini", 0.25, 2.00, 0.025, 0.25),
    ("gpt-5-nano", 0.05, 0.40, 0.005, 0.05),
    ("gpt-5-codex", 1.25, 10.00, 0.125, 1.25),
    ("o3", 2.00, 8.00, 0.50, 2.00),
    ("o4-mini", 1.10, 4.40, 0.275, 1.10),
    ("claude-opus-4", 15.00, 75.00, 1.50, 18.75),
    ("claude-opus-4-1", 15.00, 75.00, 1.50, 18.75),
    ("claude-opus-4-5", 5.00, 25.00, 0.50, 6.25),
    ("claude-sonnet-4", 3.00, 15.00, 0.30, 3.75),
    ("claude-sonnet-4-5", 3.00, 15.00, 0.30, 3.75),
    ("claude-haiku-4-5", 1.00, 5.00, 0.10, 1.25),
    ("claude-3-5-haiku", 0.80, 4.00, 0.08, 1.00),
    ("gemini-2.5-pro", 1.25, 10.00, 0.31, 1.25),
    ("gemini-2.5-flash", 0.30, 2.50, 0.075, 0.30),
    ("gemini-2.5-flash-lite", 0.10, 0.40, 0.025, 0.10),
    ("gemini-2.0-flash", 0.10, 0.40, 0.025, 0.10),
    ("deepseek-chat", 0.28, 0.42, 0.028, 0.28),
    ("deepseek-reasoner", 0.28, 0.42, 0.028, 0.28),
    ("grok-4", 3.00, 15.00, 0.75, 3.00),
    ("grok-3-mini", 0.30, 0.50, 0.075, 0.30),
    ("kimi-k2", 0.60, 2.50, 0.15, 0.60),
    ("glm-4.6", 0.60, 2.20, 0.11, 0.60),
    ("minimax-m2", 0.30, 1.20, 0.03, 0.375),
    ("mistral-large-latest", 2.00, 6.00, 2.00, 2.00),
    ("mistral-small-latest", 0.10, 0.30, 0.10, 0.10),
];

type BuiltIn = (&'static str, f64, f64, f64, f64);

fn built_in(&(model, input, output, read, write): &BuiltIn) -> Price {
    Price {
        model: model.to_owned(),
        input_per_mtok: input,
        output_per_mtok: output,
        cache_read_per_mtok: Some(read),
        cache_write_per_mtok: Some(write),
        per_image: None,
        per_audio_second: None,
    }
}

/// The built-in table as [`Price`]s.
pub fn built_in_prices() -> Vec<Price> {
    BUILT_IN.iter().map(built_in).collect()
}

/// User prices by model, consulted before the built-in table.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    user: HashMap<String, Price>,
}

impl PriceBook {
    /// A book over the user's stored prices.
    pub fn new(user: Vec<Price>) -> Self {
        Self {
            user: user
                .into_iter()
                .map(|price| (price.model.to_ascii_lowercase(), price))
                .collect(),
        }
    }

    /// The price for `target` (`prefix/model`): the user's for the target,
    /// then for the model, then the built-in one for the model or the
    /// longest known model it is a dated or suffixed variant of.
    pub fn price(&self, target: &str) -> Option<Price> {
        let target = target.to_ascii_lowercase();
        if let Some(price) = self.user.get(&target) {
            return Some(price.clone());
        }
        let model = target.split_once('/').map_or(target.as_str(), |(_, m)| m);
        if let Some(price) = self.user.get(model) {
            return Some(price.clone());
        }
        // OpenRouter-style `vendor/model` ids: the last part names the model.
        let bare = model.rsplit('/').next().unwrap_or(model);
        BUILT_IN
            .iter()
            .filter(|(known, ..)| {
                bare == *known
                    || bare
                        .strip_prefix(known)
                        .is_some_and(|rest| rest.starts_with('-') || rest.starts_with('@'))
            })
            .max_by_key(|(known, ..)| known.len())
            .map(built_in)
    }
}

/// `usage` priced at `price` (input tokens include cached ones).
pub fn cost_of(price: &Price, usage: &Usage) -> f64 {
    let cached = usage.cache_read_tokens.min(usage.input_tokens);
    let written = usage.cache_write_tokens.min(usage.input_tokens - cached);
    let fresh = usage.input_tokens - cached - written;
    let per_token = |per_mtok: f64, tokens: u64| per_mtok * tokens as f64 / 1_000_000.0;
    per_token(price.input_per_mtok, fresh)
        + per_token(
            price.cache_read_per_mtok.unwrap_or(price.input_per_mtok),
            cached,
        )
        + per_token(
            price.cache_write_per_mtok.unwrap_or(price.input_per_mtok),
            written,
        )
        + per_token(price.output_per_mtok, usage.output_tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_find_their_base_model_and_users_override() {
        let book = PriceBook::default();
        assert_eq!(
            book.price("oa/gpt-4o-mini-2024-07-18").unwrap().model,
            "gpt-4o-mini"
        );
        assert_eq!(
            book.price("cc/claude-sonnet-4-5-20250929").unwrap().model,
            "claude-sonnet-4-5"
        );
        assert_eq!(book.price("or/openai/gpt-4o").unwrap().model, "gpt-4o");
        assert!(book.price("mock/echo").is_none());
        let book = PriceBook::new(vec![Price {
            model: "mock/echo".into(),
            input_per_mtok: 1.0,
            output_per_mtok: 2.0,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
            per_image: None,
            per_audio_second: None,
        }]);
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
            ..Usage::default()
        };
        assert_eq!(cost_of(&book.price("mock/echo").unwrap(), &usage), 2.0);
    }

    #[test]
    fn cached_tokens_are_billed_at_the_cache_price() {
        let price = Price {
            model: "m".into(),
            input_per_mtok: 10.0,
            output_per_mtok: 0.0,
            cache_read_per_mtok: Some(1.0),
            cache_write_per_mtok: None,
            per_image: None,
            per_audio_second: None,
        };
        let usage = Usage {
            input_tokens: 1_000_000,
            cache_read_tokens: 500_000,
            ..Usage::default()
        };
        assert!((cost_of(&price, &usage) - 5.5).abs() < 1e-9);
    }
}
