//! The store-side operations as plain functions: each checks its input the
//! way the CLI does and returns the shared view types. `Manager::call`
//! dispatches to these.

use switchyard_api_types::{
    AccountStatus, AccountView, AliasView, ApiKeyView, ComboTargetView, ComboView, CommandError,
    CreatedApiKey, NewProviderInput, PriceView, ProviderView, QuotaWindowView, RequestView,
    SettingView, UsageQueryInput, UsageRowView,
};
use switchyard_config::pricing::built_in_prices;
use switchyard_config::settings::SettingKey;
use switchyard_config::validate;
use switchyard_gateway::quota::{WindowStanding, window_start};
use switchyard_gateway::routing::check_targets;
use switchyard_store::{
    AccountAuth, AccountStrategy, ComboStrategy, ComboTarget, NewProvider, Price, ProviderKind,
    Store, StoreError, UsageDimension, UsageQuery, now_millis,
};

/// Result of a management call.
pub type ManageResult<T> = Result<T, CommandError>;

fn invalid(message: impl Into<String>) -> CommandError {
    CommandError {
        kind: "invalid".into(),
        message: message.into(),
    }
}

/// Maps a storage error to a command error of the matching kind.
pub fn store_error(error: StoreError) -> CommandError {
    let kind = match &error {
        StoreError::NotFound(_) => "not_found",
        StoreError::Conflict(_) => "conflict",
        StoreError::Invalid(_) => "invalid",
        _ => "storage",
    };
    CommandError {
        kind: kind.into(),
        message: error.to_string(),
    }
}

/// Every provider with its accounts and their live status.
pub fn list_providers(store: &Store) -> ManageResult<Vec<ProviderView>> {
    let now = now_millis();
    let accounts = store.list_accounts().map_err(store_error)?;
    let cooldowns = store.list_cooldowns().map_err(store_error)?;
    let service = store.list_service_quotas().map_err(store_error)?;
    let limits = store.list_quota_limits().map_err(store_error)?;
    let mut views = Vec::new();
    for provider in store.list_providers().map_err(store_error)? {
        let mut account_views = Vec::new();
        for account in accounts.iter().filter(|a| a.provider_id == provider.id) {
            let cooling = cooldowns
                .iter()
                .filter(|c| c.account_id == account.id && c.until > now)
                .max_by_key(|c| c.until);
            let status = if !account.enabled {
                AccountStatus::Off
            } else if account.needs_login {
                AccountStatus::NeedsLogin
            } else if let Some(cooldown) = cooling {
                AccountStatus::CoolingDown {
                    until: cooldown.until,
                    reason: cooldown.reason.clone(),
                    model: (!cooldown.model.is_empty()).then(|| cooldown.model.clone()),
                }
            } else {
                AccountStatus::Ok
            };
            let mut quotas: Vec<QuotaWindowView> = service
                .iter()
                .filter(|q| q.account_id == account.id)
                .map(|q| QuotaWindowView {
                    window: q.window.clone(),
                    used_percent: Some(q.used_percent),
                    used: None,
                    max: None,
                    resets_at: q.resets_at,
                })
                .collect();
            for limit in limits.iter().filter(|l| l.account_id == account.id) {
                let count = store
                    .account_usage_since(account.id, window_start(limit.window, now))
                    .map_err(store_error)?;
                let standing = WindowStanding::of(limit, &count, now);
                quotas.push(QuotaWindowView {
                    window: format!("{} {}", limit.window.as_str(), limit.metric.as_str()),
                    used_percent: None,
                    used: Some(standing.used),
                    max: Some(standing.max),
                    resets_at: Some(standing.resets_at),
                });
            }
            account_views.push(AccountView {
                id: account.id,
                label: account.label.clone(),
                auth: match account.auth {
                    AccountAuth::ApiKey => "api_key".into(),
                    AccountAuth::Oauth => "oauth".into(),
                },
                email: account.email.clone(),
                priority: account.priority,
                enabled: account.enabled,
                status,
                quotas,
            });
        }
        views.push(ProviderView {
            id: provider.id,
            name: provider.name,
            kind: provider.kind.as_str().into(),
            prefix: provider.prefix,
            base_url: provider.base_url,
            models: provider.models,
            enabled: provider.enabled,
            account_strategy: provider.account_strategy.map(|s| s.as_str().to_owned()),
            subscription: provider.subscription,
            accounts: account_views,
        });
    }
    Ok(views)
}

/// Adds an API-key provider.
pub fn add_provider(store: &mut Store, input: NewProviderInput) -> ManageResult<()> {
    let new = provider_from_input(&input)?;
    store.add_provider(&new).map(|_| ()).map_err(store_error)
}

/// Checks the form's fields and turns them into a provider to add.
pub fn provider_from_input(input: &NewProviderInput) -> ManageResult<NewProvider> {
    validate::prefix(&input.prefix).map_err(invalid)?;
    let base_url = validate::base_url(&input.base_url).map_err(invalid)?;
    if input.name.trim().is_empty() {
        return Err(invalid("the provider needs a name"));
    }
    if input.api_key.trim().is_empty() {
        return Err(invalid("the provider's API key is empty"));
    }
    let kind = match input.kind.as_str() {
        "openai" => ProviderKind::OpenaiCompatible,
        "anthropic" => ProviderKind::AnthropicCompatible,
        "gemini" => ProviderKind::Gemini,
        "responses" => ProviderKind::OpenaiResponses,
        other => return Err(invalid(format!("unknown provider kind {other:?}"))),
    };
    Ok(NewProvider {
        name: input.name.trim().to_owned(),
        kind,
        prefix: input.prefix.clone(),
        base_url,
        api_key: input.api_key.trim().to_owned(),
        models: input.models.clone(),
        enabled: true,
    })
}

/// Enables or disables a provider.
pub fn set_provider_enabled(store: &Store, name: &str, enabled: bool) -> ManageResult<()> {
    store
        .set_provider_enabled(name, enabled)
        .map(|_| ())
        .map_err(store_error)
}

/// Removes a provider and its accounts.
pub fn remove_provider(store: &Store, name: &str) -> ManageResult<()> {
    store.remove_provider(name).map(|_| ()).map_err(store_error)
}

/// Sets a provider's account strategy (`None` for the global setting).
pub fn set_account_strategy(store: &Store, name: &str, strategy: Option<&str>) -> ManageResult<()> {
    let strategy = strategy
        .map(AccountStrategy::parse)
        .transpose()
        .map_err(invalid)?;
    store
        .set_account_strategy(name, strategy)
        .map(|_| ())
        .map_err(store_error)
}

/// Adds an API-key account to a provider.
pub fn add_account(
    store: &Store,
    provider: &str,
    label: &str,
    api_key: &str,
    priority: i64,
) -> ManageResult<()> {
    if label.is_empty() || label.contains('/') {
        return Err(invalid(
            "an account label must be non-empty and contain no '/'",
        ));
    }
    if api_key.trim().is_empty() {
        return Err(invalid("the API key is empty"));
    }
    let provider = store.find_provider(provider).map_err(store_error)?;
    store
        .add_account(provider.id, label, api_key.trim(), priority)
        .map(|_| ())
        .map_err(store_error)
}

/// Enables or disables an account.
pub fn set_account_enabled(store: &Store, id: i64, enabled: bool) -> ManageResult<()> {
    store
        .set_account_enabled(id, enabled)
        .map(|_| ())
        .map_err(store_error)
}

/// Changes an account's priority.
pub fn set_account_priority(store: &Store, id: i64, priority: i64) -> ManageResult<()> {
    store
        .set_account_priority(id, priority)
        .map(|_| ())
        .map_err(store_error)
}

/// Ends an account's cooldowns now.
pub fn reset_cooldowns(store: &Store, id: i64) -> ManageResult<usize> {
    store.reset_cooldowns(id).map_err(store_error)
}

/// Renames an account (the label shown and used in `provider/label`).
pub fn rename_account(store: &Store, id: i64, label: &str) -> ManageResult<()> {
    let label = label.trim();
    if label.is_empty()
        || label.len() > 64
        || label.contains('/')
        || label.chars().any(char::is_control)
    {
        return Err(invalid(
            "an account label is 1 to 64 characters, without '/'",
        ));
    }
    store.rename_account(id, label).map_err(store_error)
}

/// Removes an account (not a provider's last one).
pub fn remove_account(store: &Store, id: i64) -> ManageResult<()> {
    store.remove_account(id).map(|_| ()).map_err(store_error)
}

/// Every local API key.
pub fn list_api_keys(store: &Store) -> ManageResult<Vec<ApiKeyView>> {
    let now = now_millis();
    let mut views = Vec::new();
    for key in store.list_api_keys().map_err(store_error)? {
        let mut budgets = Vec::new();
        for (window, limit_usd) in key.limits.budgets() {
            let since = window_start(window, now);
            budgets.push(switchyard_api_types::KeyBudgetView {
                window: window.as_str().into(),
                limit_usd,
                spent_usd: store.key_cost_since(key.id, since).map_err(store_error)?,
                resets_at: switchyard_gateway::quota::window_reset(window, now, None),
            });
        }
        views.push(key_view(key, budgets));
    }
    Ok(views)
}

/// Converts between the store's and the views' limits.
pub fn limits_view(limits: &switchyard_store::KeyLimits) -> switchyard_api_types::KeyLimitsView {
    switchyard_api_types::KeyLimitsView {
        budget_day_usd: limits.budget_day_usd,
        budget_week_usd: limits.budget_week_usd,
        budget_month_usd: limits.budget_month_usd,
        budget_warn_percent: limits.budget_warn_percent,
        requests_per_minute: limits.requests_per_minute,
        tokens_per_minute: limits.tokens_per_minute,
    }
}

/// Sets a key's budgets and rate limits.
pub fn set_api_key_limits(
    store: &Store,
    id: i64,
    limits: &switchyard_api_types::KeyLimitsView,
) -> ManageResult<()> {
    let limits = switchyard_store::KeyLimits {
        budget_day_usd: limits.budget_day_usd,
        budget_week_usd: limits.budget_week_usd,
        budget_month_usd: limits.budget_month_usd,
        budget_warn_percent: limits.budget_warn_percent,
        requests_per_minute: limits.requests_per_minute,
        tokens_per_minute: limits.tokens_per_minute,
    };
    store.set_api_key_limits(id, &limits).map_err(store_error)
}

fn key_view(
    key: switchyard_store::ApiKeyInfo,
    budgets: Vec<switchyard_api_types::KeyBudgetView>,
) -> ApiKeyView {
    {
        ApiKeyView {
            id: key.id,
            name: key.name,
            hint: key.hint,
            created_at: key.created_at,
            revoked: key.revoked_at.is_some(),
            copyable: key.copyable,
            paused: key.paused_at.is_some(),
            expires_at: key.expires_at,
            owner: key.owner,
            allowed_models: key.allowed_models,
            limits: limits_view(&key.limits),
            budgets,
        }
    }
}

/// Sets a key's owner, expiry and allowed models. Patterns naming no known
/// model, combo or alias are allowed (a model may come later) and named in
/// the answer.
pub fn set_api_key_policy(
    store: &Store,
    id: i64,
    owner: Option<&str>,
    expires_at: Option<i64>,
    allowed_models: &[String],
) -> ManageResult<String> {
    let owner = owner.map(str::trim).filter(|owner| !owner.is_empty());
    if owner.is_some_and(|owner| owner.len() > 100) {
        return Err(invalid("an owner is at most 100 characters"));
    }
    for pattern in allowed_models {
        switchyard_store::check_model_pattern(pattern).map_err(invalid)?;
    }
    store
        .set_api_key_policy(id, owner, expires_at, allowed_models)
        .map_err(store_error)?;
    let mut known: Vec<String> = store
        .list_combos()
        .map_err(store_error)?
        .into_iter()
        .map(|combo| combo.name)
        .collect();
    known.extend(
        store
            .list_aliases()
            .map_err(store_error)?
            .into_iter()
            .map(|alias| alias.name),
    );
    for provider in store.list_providers().map_err(store_error)? {
        known.extend(
            provider
                .models
                .iter()
                .map(|model| format!("{}/{model}", provider.prefix)),
        );
    }
    let unknown: Vec<&String> = allowed_models
        .iter()
        .filter(|pattern| {
            let policy = switchyard_store::KeyPolicy {
                id,
                paused: false,
                expires_at: None,
                allowed_models: vec![(*pattern).clone()],
                limits: switchyard_store::KeyLimits::default(),
            };
            !known.iter().any(|name| policy.allows(name))
        })
        .collect();
    Ok(if unknown.is_empty() {
        "saved".into()
    } else {
        format!(
            "saved; no model, combo or alias matches {} yet",
            unknown
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Creates a key, keeping a sealed copy so the tray and the dashboard can
/// copy it again (keys made with the CLI are hash-only).
pub fn create_api_key(store: &Store, name: &str) -> ManageResult<CreatedApiKey> {
    let name = if name.trim().is_empty() {
        "default"
    } else {
        name.trim()
    };
    let created = store.create_copyable_api_key(name).map_err(store_error)?;
    Ok(CreatedApiKey {
        id: created.info.id,
        name: created.info.name.clone(),
        key: created.key.clone(),
    })
}

/// The key to put on the clipboard: the one with id `id` (which must have
/// a copy kept), or else the newest copyable key, or else a new copyable
/// key named `desktop` (so Copy API key always gives a working key).
pub fn copyable_api_key(store: &Store, id: Option<i64>) -> ManageResult<String> {
    if let Some(id) = id {
        return store
            .api_key_secret(id)
            .map_err(store_error)?
            .ok_or_else(|| {
                invalid(format!(
                    "API key {id} cannot be copied: it was revoked, or created with the CLI, \
                     which shows a key only once"
                ))
            });
    }
    if let Some((_, key)) = store.newest_copyable_api_key().map_err(store_error)? {
        return Ok(key);
    }
    Ok(store
        .create_copyable_api_key("desktop")
        .map_err(store_error)?
        .key)
}

/// Revokes a key.
pub fn revoke_api_key(store: &Store, id: i64) -> ManageResult<()> {
    store.revoke_api_key(id).map_err(store_error)
}

/// Every combo.
pub fn list_combos(store: &Store) -> ManageResult<Vec<ComboView>> {
    Ok(store
        .list_combos()
        .map_err(store_error)?
        .into_iter()
        .map(|combo| ComboView {
            name: combo.name,
            strategy: combo.strategy.as_str().into(),
            targets: combo
                .targets
                .into_iter()
                .map(|t| ComboTargetView {
                    target: t.target,
                    weight: t.weight,
                    enabled: t.enabled,
                })
                .collect(),
        })
        .collect())
}

/// Adds a combo, or replaces the one of that name.
pub fn save_combo(store: &Store, combo: ComboView) -> ManageResult<()> {
    validate::model_name(&combo.name, "combo").map_err(invalid)?;
    let strategy = ComboStrategy::parse(&combo.strategy).map_err(invalid)?;
    if combo.targets.is_empty() {
        return Err(invalid("a combo needs at least one target"));
    }
    let names: Vec<String> = combo.targets.iter().map(|t| t.target.clone()).collect();
    check_targets(store, &combo.name, &names).map_err(invalid)?;
    let targets: Vec<ComboTarget> = combo
        .targets
        .into_iter()
        .map(|t| ComboTarget {
            target: t.target,
            weight: t.weight,
            enabled: t.enabled,
        })
        .collect();
    let exists = store
        .combo_by_name(&combo.name)
        .map_err(store_error)?
        .is_some();
    let saved = if exists {
        store.update_combo(&combo.name, strategy, &targets)
    } else {
        store.add_combo(&combo.name, strategy, &targets)
    };
    saved.map(|_| ()).map_err(store_error)
}

/// Removes a combo.
pub fn remove_combo(store: &Store, name: &str) -> ManageResult<()> {
    store.remove_combo(name).map(|_| ()).map_err(store_error)
}

/// Every alias.
pub fn list_aliases(store: &Store) -> ManageResult<Vec<AliasView>> {
    Ok(store
        .list_aliases()
        .map_err(store_error)?
        .into_iter()
        .map(|alias| AliasView {
            name: alias.name,
            target: alias.target,
        })
        .collect())
}

/// Adds an alias.
pub fn add_alias(store: &Store, name: &str, target: &str) -> ManageResult<()> {
    validate::model_name(name, "alias").map_err(invalid)?;
    check_targets(store, name, &[target.to_owned()]).map_err(invalid)?;
    store
        .add_alias(name, target)
        .map(|_| ())
        .map_err(store_error)
}

/// Removes an alias.
pub fn remove_alias(store: &Store, name: &str) -> ManageResult<()> {
    store.remove_alias(name).map(|_| ()).map_err(store_error)
}

/// The user's prices, then the built-in ones.
pub fn list_prices(store: &Store) -> ManageResult<Vec<PriceView>> {
    let view = |price: Price, source: &str| PriceView {
        model: price.model,
        input_per_mtok: price.input_per_mtok,
        output_per_mtok: price.output_per_mtok,
        cache_read_per_mtok: price.cache_read_per_mtok,
        cache_write_per_mtok: price.cache_write_per_mtok,
        per_image: price.per_image,
        per_audio_second: price.per_audio_second,
        source: source.into(),
    };
    let mut prices: Vec<PriceView> = store
        .list_prices()
        .map_err(store_error)?
        .into_iter()
        .map(|price| view(price, "yours"))
        .collect();
    prices.extend(
        built_in_prices()
            .into_iter()
            .map(|price| view(price, "built-in")),
    );
    Ok(prices)
}

/// Sets a price.
pub fn set_price(store: &Store, price: PriceView) -> ManageResult<()> {
    if price.model.trim().is_empty() {
        return Err(invalid("the price needs a model"));
    }
    store
        .set_price(&Price {
            model: price.model.trim().to_owned(),
            input_per_mtok: price.input_per_mtok,
            output_per_mtok: price.output_per_mtok,
            cache_read_per_mtok: price.cache_read_per_mtok,
            cache_write_per_mtok: price.cache_write_per_mtok,
            per_image: price.per_image,
            per_audio_second: price.per_audio_second,
        })
        .map_err(|error| match error {
            StoreError::Conflict(message) => invalid(message),
            other => store_error(other),
        })
}

/// Removes a price of yours.
pub fn remove_price(store: &Store, model: &str) -> ManageResult<()> {
    store.remove_price(model).map_err(store_error)
}

/// Every setting with its stored value.
pub fn list_settings(store: &Store) -> ManageResult<Vec<SettingView>> {
    SettingKey::ALL
        .into_iter()
        .map(|key| {
            Ok(SettingView {
                name: key.name().into(),
                value: store.setting(key.name()).map_err(store_error)?,
            })
        })
        .collect()
}

/// Changes a setting (checked and normalised), or with `None` unsets it.
pub fn set_setting(store: &Store, name: &str, value: Option<&str>) -> ManageResult<()> {
    let key = SettingKey::parse(name).map_err(invalid)?;
    match value {
        Some(value) => {
            let value = key.normalize(value).map_err(invalid)?;
            store.set_setting(key.name(), &value).map_err(store_error)
        }
        None => store
            .unset_setting(key.name())
            .map(|_| ())
            .map_err(store_error),
    }
}

/// Usage rows as CSV: one header line, then one line per row (bucket start
/// as an RFC 3339 UTC time when the query is a time series).
pub fn usage_csv(store: &Store, query: UsageQueryInput) -> ManageResult<String> {
    usage_csv_of(store, query, None)
}

/// [`usage_csv`] of the keys `owner` owns (all when `None`).
pub fn usage_csv_of(
    store: &Store,
    query: UsageQueryInput,
    owner: Option<&str>,
) -> ManageResult<String> {
    let by = query.by.clone().unwrap_or_else(|| "total".into());
    let rows = usage_report_of(store, query, owner)?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |error: csv::Error| CommandError {
        kind: "export".into(),
        message: format!("cannot write CSV: {error}"),
    };
    writer
        .write_record([
            by.as_str(),
            "bucket_start",
            "requests",
            "succeeded",
            "failed",
            "fallbacks",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "cost_usd",
        ])
        .map_err(failed)?;
    for row in rows {
        let bucket = row
            .bucket_start
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|at| at.to_string())
            .unwrap_or_default();
        writer
            .write_record([
                row.key.unwrap_or_default(),
                bucket,
                row.requests.to_string(),
                row.succeeded.to_string(),
                row.failed.to_string(),
                row.fallbacks.to_string(),
                row.prompt_tokens.to_string(),
                row.completion_tokens.to_string(),
                row.cached_tokens.to_string(),
                row.reasoning_tokens.to_string(),
                format!("{:.6}", row.cost_usd),
            ])
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| failed(error.into_error().into()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Usage totals as `query` asks.
pub fn usage_report(store: &Store, query: UsageQueryInput) -> ManageResult<Vec<UsageRowView>> {
    usage_report_of(store, query, None)
}

/// Usage totals as `query` asks, of the keys `owner` owns (all when `None`).
pub fn usage_report_of(
    store: &Store,
    query: UsageQueryInput,
    owner: Option<&str>,
) -> ManageResult<Vec<UsageRowView>> {
    let by = query
        .by
        .as_deref()
        .map(UsageDimension::parse)
        .transpose()
        .map_err(invalid)?;
    store
        .usage_report(&UsageQuery {
            from: query.from,
            to: query.to,
            by,
            bucket_ms: query.bucket_ms,
            owner: owner.map(str::to_owned),
        })
        .map_err(store_error)
}

/// The most recent requests, newest first.
pub fn recent_requests(store: &Store, limit: u32) -> ManageResult<Vec<RequestView>> {
    recent_requests_of(store, limit, None)
}

/// The most recent requests made with keys `owner` owns (all when `None`).
pub fn recent_requests_of(
    store: &Store,
    limit: u32,
    owner: Option<&str>,
) -> ManageResult<Vec<RequestView>> {
    Ok(store
        .recent_requests_of(limit.min(1000), owner)
        .map_err(store_error)?
        .into_iter()
        .map(|record| RequestView {
            id: record.id,
            started_at: record.started_at,
            dialect: record.dialect,
            model: record.model,
            status: record.status,
            stream: record.stream,
            latency_ms: record.latency_ms,
            ttfb_ms: record.ttfb_ms,
            prompt_tokens: record.prompt_tokens,
            completion_tokens: record.completion_tokens,
            cost_usd: record.cost_usd,
            attempts: record.attempts,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn usage_exports_as_csv_with_quoting() {
        let (_dir, mut store) = store();
        let record = |model: &str, cost: f64| switchyard_store::RequestRecord {
            started_at: switchyard_store::now_millis(),
            endpoint: "/v1/chat/completions".into(),
            model: model.into(),
            status: 200,
            prompt_tokens: Some(10),
            completion_tokens: Some(5),
            cost_usd: Some(cost),
            ..Default::default()
        };
        store
            .record_requests(&[record("a/m,odd\"name", 0.5), record("b/m", 0.25)])
            .unwrap();
        let csv = usage_csv(
            &store,
            UsageQueryInput {
                by: Some("model".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "model,bucket_start,requests,succeeded,failed,fallbacks,prompt_tokens,\
             completion_tokens,cached_tokens,reasoning_tokens,cost_usd"
        );
        let body: Vec<&str> = lines.collect();
        assert!(
            body.contains(&"\"a/m,odd\"\"name\",,1,1,0,0,10,5,0,0,0.500000"),
            "{csv}"
        );
        assert!(body.contains(&"b/m,,1,1,0,0,10,5,0,0,0.250000"), "{csv}");
    }

    #[test]
    fn providers_accounts_and_combos_round_trip_with_checks() {
        let (_dir, mut store) = store();
        let input = NewProviderInput {
            name: "OpenAI".into(),
            prefix: "oa".into(),
            kind: "openai".into(),
            base_url: "https://api.example.com/v1/".into(),
            api_key: "sk-desktop-secret".into(),
            models: vec!["gpt-x".into()],
            skip_check: false,
        };
        add_provider(&mut store, input.clone()).unwrap();
        let duplicate = add_provider(&mut store, input.clone()).unwrap_err();
        assert_eq!(duplicate.kind, "conflict");
        let bad = add_provider(
            &mut store,
            NewProviderInput {
                prefix: "a/b".into(),
                ..input
            },
        )
        .unwrap_err();
        assert_eq!(bad.kind, "invalid");
        add_account(&store, "oa", "work", "sk-second", 1).unwrap();

        let providers = list_providers(&store).unwrap();
        assert_eq!(providers[0].base_url, "https://api.example.com/v1");
        assert_eq!(providers[0].accounts.len(), 2);
        assert_eq!(providers[0].accounts[0].status, AccountStatus::Ok);
        assert!(
            !serde_json::to_string(&providers)
                .unwrap()
                .contains("sk-desktop-secret")
        );
        let work = providers[0].accounts[1].id;
        set_account_enabled(&store, work, false).unwrap();
        assert_eq!(
            list_providers(&store).unwrap()[0].accounts[1].status,
            AccountStatus::Off
        );

        let combo = ComboView {
            name: "fast".into(),
            strategy: "round-robin".into(),
            targets: vec![ComboTargetView {
                target: "oa/gpt-x".into(),
                weight: 1,
                enabled: true,
            }],
        };
        save_combo(&store, combo.clone()).unwrap();
        save_combo(
            &store,
            ComboView {
                strategy: "weighted".into(),
                ..combo.clone()
            },
        )
        .unwrap();
        assert_eq!(list_combos(&store).unwrap()[0].strategy, "weighted");
        let cycle = add_alias(&store, "loop", "loop").unwrap_err();
        assert!(cycle.message.contains("cycle"), "{}", cycle.message);
        assert!(
            save_combo(
                &store,
                ComboView {
                    name: "a/b".into(),
                    ..combo
                }
            )
            .is_err()
        );

        set_setting(&store, "cooldown_cap_secs", Some("60")).unwrap();
        assert!(set_setting(&store, "cooldown_cap_secs", Some("soon")).is_err());
        assert!(set_setting(&store, "colour", Some("red")).is_err());
        let settings = list_settings(&store).unwrap();
        assert!(
            settings
                .iter()
                .any(|s| s.name == "cooldown_cap_secs" && s.value.as_deref() == Some("60"))
        );

        let key = create_api_key(&store, "ui").unwrap();
        assert!(key.key.starts_with("sy-"));
        assert!(!list_api_keys(&store).unwrap()[0].revoked);
        revoke_api_key(&store, key.id).unwrap();
        assert!(list_api_keys(&store).unwrap()[0].revoked);
        assert!(
            usage_report(
                &store,
                UsageQueryInput {
                    by: Some("colour".into()),
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert!(
            usage_report(&store, UsageQueryInput::default())
                .unwrap()
                .is_empty()
        );
        assert!(
            list_prices(&store)
                .unwrap()
                .iter()
                .any(|p| p.model == "gpt-4o")
        );
    }
}
