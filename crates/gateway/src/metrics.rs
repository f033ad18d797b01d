//! `/metrics` in Prometheus' text format, off until a metrics token is
//! made: requests and errors, latency and time-to-first-byte histograms,
//! tokens and cost per provider, model, account and key (counted as each
//! request's record is finished), and at each scrape the accounts cooling
//! down and the providers whose circuit breaker is open. The token is kept
//! as a SHA-256 in `switchyard_config::settings::METRICS_TOKEN_SETTING`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use switchyard_store::{RequestRecord, now_millis};

use crate::health::Health;
use crate::routing::RoutingConfig;

/// Labels of request counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    provider: String,
    model: String,
    key: String,
    status: String,
}

/// Labels of timings.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TimingLabels {
    provider: String,
    model: String,
}

/// Labels of tokens and cost.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UseLabels {
    provider: String,
    model: String,
    account: String,
    key: String,
}

/// Labels of token counts: [`UseLabels`] and prompt or completion.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    account: String,
    key: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    provider: String,
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

/// Seconds, from 50 ms to about 100 s.
fn timing_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 12))
}

type Timings = Family<TimingLabels, Histogram, fn() -> Histogram>;

/// What the gateway counts for `/metrics`.
#[derive(Debug)]
pub(crate) struct Metrics {
    requests: Family<RequestLabels, Counter>,
    errors: Family<RequestLabels, Counter>,
    duration: Timings,
    first_byte: Timings,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<UseLabels, Counter<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(timing_histogram),
            first_byte: Family::new_with_constructor(timing_histogram),
            tokens: Family::default(),
            cost: Family::default(),
        }
    }
}

impl Metrics {
    /// Counts a finished request.
    pub(crate) fn observe(&self, record: &RequestRecord) {
        let provider = record.provider.clone().unwrap_or_default();
        let key = record
            .api_key_id
            .map(|id| id.to_string())
            .unwrap_or_default();
        let labels = RequestLabels {
            provider: provider.clone(),
            model: record.model.clone(),
            key: key.clone(),
            status: record.status.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        if record.status >= 400 {
            self.errors.get_or_create(&labels).inc();
        }
        let timing = TimingLabels {
            provider: provider.clone(),
            model: record.model.clone(),
        };
        self.duration
            .get_or_create(&timing)
            .observe(record.latency_ms as f64 / 1000.0);
        if let Some(ttfb) = record.ttfb_ms {
            self.first_byte
                .get_or_create(&timing)
                .observe(ttfb as f64 / 1000.0);
        }
        let account = record.account.clone().unwrap_or_default();
        for (kind, count) in [
            ("prompt", record.prompt_tokens),
            ("completion", record.completion_tokens),
        ] {
            if let Some(count) = count.filter(|count| *count > 0) {
                self.tokens
                    .get_or_create(&TokenLabels {
                        provider: provider.clone(),
                        model: record.model.clone(),
                        account: account.clone(),
                        key: key.clone(),
                        kind: kind.into(),
                    })
                    .inc_by(count);
            }
        }
        if let Some(cost) = record.cost_usd.filter(|cost| *cost > 0.0) {
            self.cost
                .get_or_create(&UseLabels {
                    provider,
                    model: record.model.clone(),
                    account,
                    key,
                })
                .inc_by(cost);
        }
    }

    /// The text `/metrics` answers, with the routing state as of now.
    pub(crate) fn render(&self, config: &RoutingConfig, health: &Health) -> String {
        let mut registry = Registry::with_prefix("switchyard");
        registry.register("requests", "Requests finished", self.requests.clone());
        registry.register(
            "request_errors",
            "Requests that ended with a status of 400 or more",
            self.errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its answer's end",
            self.duration.clone(),
        );
        registry.register(
            "time_to_first_byte_seconds",
            "Time from a request's arrival to the first byte of its answer",
            self.first_byte.clone(),
        );
        registry.register(
            "tokens",
            "Tokens used, prompt and completion",
            self.tokens.clone(),
        );
        registry.register("cost_usd", "What requests cost, USD", self.cost.clone());
        let cooling = Family::<AccountLabels, Gauge>::default();
        let breakers = Family::<ProviderLabels, Gauge>::default();
        let now = now_millis();
        for entry in config.providers.values() {
            breakers
                .get_or_create(&ProviderLabels {
                    provider: entry.provider.name.clone(),
                })
                .set(i64::from(health.breaker_open(entry.provider.id)));
            for account in &entry.accounts {
                let cools = config
                    .cooldown(account.id, "")
                    .is_some_and(|cooldown| cooldown.until > now);
                cooling
                    .get_or_create(&AccountLabels {
                        provider: entry.provider.name.clone(),
                        account: account.label.clone(),
                    })
                    .set(i64::from(cools));
            }
        }
        registry.register(
            "account_cooling_down",
            "1 while an account cools down",
            cooling,
        );
        registry.register(
            "provider_breaker_open",
            "1 while a provider's circuit breaker is open",
            breakers,
        );
        let mut text = String::new();
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        {
            tracing::warn!(%error, "cannot encode the metrics");
        }
        text
    }
}
