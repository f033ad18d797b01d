//! Prices per million tokens that override the gateway's built-in table.

use crate::db::params;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, StoreResult};

/// What a model costs, in USD per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Upstream model id (`gpt-4o-mini`) or `prefix/model`.
    pub model: String,
    /// Uncached input tokens.
    pub input_per_mtok: f64,
    /// Output tokens, reasoning included.
    pub output_per_mtok: f64,
    /// Input tokens read from the cache (input price when unset).
    pub cache_read_per_mtok: Option<f64>,
    /// Input tokens written to the cache (input price when unset).
    pub cache_write_per_mtok: Option<f64>,
    /// USD per image made (image endpoints), if priced so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_image: Option<f64>,
    /// USD per second of audio heard (transcriptions, translations), if priced so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_audio_second: Option<f64>,
}

impl Store {
    /// Sets (replacing) the price of a model.
    pub fn set_price(&self, price: &Price) -> StoreResult<()> {
        let finite = |value: f64| value.is_finite() && value >= 0.0;
        if !finite(price.input_per_mtok)
            || !finite(price.output_per_mtok)
            || !price.cache_read_per_mtok.is_none_or(finite)
            || !price.cache_write_per_mtok.is_none_or(finite)
            || !price.per_image.is_none_or(finite)
            || !price.per_audio_second.is_none_or(finite)
        {
            return Err(StoreError::Conflict(
                "prices must be non-negative numbers".into(),
            ));
        }
        self.conn.execute(
            "INSERT INTO prices (model, input_per_mtok, output_per_mtok,
                                 cache_read_per_mtok, cache_write_per_mtok, per_image,
                                 per_audio_second)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (model) DO UPDATE SET input_per_mtok = excluded.input_per_mtok,
               output_per_mtok = excluded.output_per_mtok,
               cache_read_per_mtok = excluded.cache_read_per_mtok,
               cache_write_per_mtok = excluded.cache_write_per_mtok,
               per_image = excluded.per_image,
               per_audio_second = excluded.per_audio_second",
            params![
                price.model,
                price.input_per_mtok,
                price.output_per_mtok,
                price.cache_read_per_mtok,
                price.cache_write_per_mtok,
                price.per_image,
                price.per_audio_second
            ],
        )?;
        Ok(())
    }

    /// Every user-set price, by model.
    pub fn list_prices(&self) -> StoreResult<Vec<Price>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT model, input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok,
                    per_image, per_audio_second
             FROM prices ORDER BY model",
        )?;
        let rows = statement.query_map(params![], |row| {
            Ok(Price {
                model: row.get(0)?,
                input_per_mtok: row.get(1)?,
                output_per_mtok: row.get(2)?,
                cache_read_per_mtok: row.get(3)?,
                cache_write_per_mtok: row.get(4)?,
                per_image: row.get(5)?,
                per_audio_second: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a user-set price (the built-in one, if any, applies again).
    pub fn remove_price(&self, model: &str) -> StoreResult<()> {
        if self
            .conn
            .execute("DELETE FROM prices WHERE model = ?1", [model])?
            == 0
        {
            return Err(StoreError::NotFound(format!("price for {model:?}")));
        }
        Ok(())
    }
}
