//! Commands for where requests go: accounts, combos, aliases, prices and
//! quota limits.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;
use switchyard_config::pricing::built_in_prices;
use switchyard_gateway::quota::{WindowStanding, window_start};
use switchyard_gateway::routing::check_targets;
use switchyard_store::{
    AccountStrategy, ComboStrategy, ComboTarget, Price, QuotaLimit, QuotaMetric, QuotaWindow,
    Store, now_millis,
};

use crate::{Output, read_secret, when};

#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Add another account (API key) to a provider
    Add {
        /// Provider name or prefix
        provider: String,
        /// A label unique within the provider, e.g. `work`
        #[arg(long)]
        label: String,
        /// Upstream API key (prefer SWITCHYARD_PROVIDER_API_KEY or --api-key-stdin)
        #[arg(long, env = "SWITCHYARD_PROVIDER_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Read the upstream API key from standard input
        #[arg(long, conflicts_with = "api_key")]
        api_key_stdin: bool,
        /// Lower goes first under the priority strategy
        #[arg(long, default_value_t = 0)]
        priority: i64,
    },
    /// List accounts with their status (cooling down, quota)
    List,
    /// Enable an account (`provider/label`)
    Enable { account: String },
    /// Disable an account (`provider/label`)
    Disable { account: String },
    /// Change an account's priority (lower goes first)
    Priority { account: String, priority: i64 },
    /// End an account's cooldowns now
    Reset { account: String },
    /// Remove an account (not a provider's last one)
    Remove { account: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ComboCommand {
    /// Add a combo: NAME becomes a model that tries its targets
    Add {
        name: String,
        /// `prefix/model`, an alias or another combo; `TARGET=WEIGHT` sets a weight
        #[arg(required = true, value_name = "TARGET")]
        targets: Vec<String>,
        /// fallback (in order), round-robin, or weighted
        #[arg(long, default_value = "fallback")]
        strategy: String,
    },
    /// List combos
    List,
    /// Change a combo's strategy
    Strategy { name: String, strategy: String },
    /// Enable one target of a combo
    Enable { name: String, target: String },
    /// Disable one target of a combo (it is skipped)
    Disable { name: String, target: String },
    /// Remove a combo
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AliasCommand {
    /// Add an alias: NAME stands for TARGET (`prefix/model` or a combo)
    Add { name: String, target: String },
    /// List aliases
    List,
    /// Remove an alias
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PriceCommand {
    /// Set a model's price in USD per million tokens
    Set {
        /// Upstream model id (`gpt-4o-mini`) or `prefix/model`
        model: String,
        /// USD per million input tokens
        #[arg(long, default_value_t = 0.0)]
        input: f64,
        /// USD per million output tokens
        #[arg(long, default_value_t = 0.0)]
        output: f64,
        #[arg(long)]
        cache_read: Option<f64>,
        #[arg(long)]
        cache_write: Option<f64>,
        /// USD per image made (image endpoints)
        #[arg(long)]
        per_image: Option<f64>,
        /// USD per second of audio heard (transcriptions, translations)
        #[arg(long)]
        per_second: Option<f64>,
    },
    /// List prices you set (with --built-in, the built-in table too)
    List {
        #[arg(long)]
        built_in: bool,
    },
    /// Remove a price you set
    Remove { model: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum QuotaCommand {
    /// Limit an account to MAX requests or tokens per window
    Limit {
        /// `provider/label`
        account: String,
        /// 5h, day, week or month
        window: String,
        /// requests or tokens
        metric: String,
        max: u64,
    },
    /// Remove a limit
    Unlimit {
        account: String,
        window: String,
        metric: String,
    },
    /// Show each account's windows, service usage, provider reports and cooldowns
    List {
        /// First refresh tokens and read each subscription's usage windows
        #[arg(long)]
        refresh: bool,
    },
}

fn check_name(name: &str, what: &str) -> Result<()> {
    switchyard_config::validate::model_name(name, what).map_err(anyhow::Error::msg)
}

fn parse_target(text: &str) -> Result<ComboTarget> {
    match text.rsplit_once('=') {
        Some((target, weight)) => Ok(ComboTarget {
            weight: weight
                .parse()
                .with_context(|| format!("the weight in {text:?} is not a whole number"))?,
            ..ComboTarget::new(target)
        }),
        None => Ok(ComboTarget::new(text)),
    }
}

fn describe_targets(targets: &[ComboTarget]) -> String {
    targets
        .iter()
        .map(|target| {
            let mut text = target.target.clone();
            if target.weight != 1 {
                text.push_str(&format!("={}", target.weight));
            }
            if !target.enabled {
                text.push_str(" (off)");
            }
            text
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

pub(crate) fn account(store: &Store, command: AccountCommand, output: Output) -> Result<()> {
    match command {
        AccountCommand::Add {
            provider,
            label,
            api_key,
            api_key_stdin,
            priority,
        } => {
            if label.is_empty() || label.contains('/') {
                bail!("an account label must be non-empty and contain no '/'");
            }
            let provider = store.find_provider(&provider)?;
            let api_key = read_secret(api_key, api_key_stdin)?;
            let account = store.add_account(provider.id, &label, &api_key, priority)?;
            output.print(&account, || {
                format!("added account {}/{}", provider.name, account.label)
            })
        }
        AccountCommand::List => {
            let providers = store.list_providers()?;
            let cooldowns = store.list_cooldowns()?;
            let now = now_millis();
            let mut rows = Vec::new();
            for account in store.list_accounts()? {
                let provider = providers.iter().find(|p| p.id == account.provider_id);
                let cooling: Vec<_> = cooldowns
                    .iter()
                    .filter(|c| c.account_id == account.id && c.until > now)
                    .collect();
                let status = if !account.enabled {
                    "disabled".to_owned()
                } else if account.needs_login {
                    "needs a new login (switchyard connect)".to_owned()
                } else if let Some(cooldown) = cooling.iter().max_by_key(|c| c.until) {
                    format!(
                        "cooling down{} until {} ({})",
                        if cooldown.model.is_empty() {
                            String::new()
                        } else {
                            format!(" for {}", cooldown.model)
                        },
                        when(cooldown.until),
                        cooldown.reason
                    )
                } else {
                    "active".to_owned()
                };
                rows.push(json!({
                    "id": account.id,
                    "provider": provider.map(|p| p.name.clone()),
                    "strategy": provider.and_then(|p| p.account_strategy).map(AccountStrategy::as_str),
                    "label": account.label,
                    "auth": account.auth,
                    "email": account.email,
                    "expires_at": account.expires_at,
                    "priority": account.priority,
                    "enabled": account.enabled,
                    "status": status,
                    "cooldowns": cooling,
                }));
            }
            output.print(&rows, || {
                let mut text = format!("{:<24} {:<9} STATUS", "ACCOUNT", "PRIORITY");
                for row in &rows {
                    text.push_str(&format!(
                        "\n{:<24} {:<9} {}",
                        format!(
                            "{}/{}",
                            row["provider"].as_str().unwrap_or("?"),
                            row["label"].as_str().unwrap_or("?")
                        ),
                        row["priority"],
                        row["status"].as_str().unwrap_or("")
                    ));
                }
                text
            })
        }
        AccountCommand::Enable { account } => {
            let found = store.find_account(&account)?;
            let updated = store.set_account_enabled(found.id, true)?;
            output.print(&updated, || format!("enabled {account}"))
        }
        AccountCommand::Disable { account } => {
            let found = store.find_account(&account)?;
            let updated = store.set_account_enabled(found.id, false)?;
            output.print(&updated, || format!("disabled {account}"))
        }
        AccountCommand::Priority { account, priority } => {
            let found = store.find_account(&account)?;
            let updated = store.set_account_priority(found.id, priority)?;
            output.print(&updated, || {
                format!("{account} now has priority {priority}")
            })
        }
        AccountCommand::Reset { account } => {
            let found = store.find_account(&account)?;
            let cleared = store.reset_cooldowns(found.id)?;
            output.print(
                &json!({ "account": account, "cooldowns_cleared": cleared }),
                || format!("{account}: {cleared} cooldown(s) ended; it takes requests again"),
            )
        }
        AccountCommand::Remove { account } => {
            let found = store.find_account(&account)?;
            let removed = store.remove_account(found.id)?;
            output.print(&removed, || format!("removed {account}"))
        }
    }
}

/// Sets a provider's account strategy (`default` clears it).
pub(crate) fn set_provider_strategy(
    store: &Store,
    provider: &str,
    strategy: &str,
    output: Output,
) -> Result<()> {
    let strategy = match strategy {
        "default" => None,
        other => Some(AccountStrategy::parse(other).map_err(anyhow::Error::msg)?),
    };
    let provider = store.set_account_strategy(provider, strategy)?;
    output.print(&provider, || {
        format!(
            "{:?} picks accounts by {}",
            provider.name,
            strategy.map_or(
                "the global account_strategy setting",
                AccountStrategy::as_str
            )
        )
    })
}

pub(crate) fn combo(store: &Store, command: ComboCommand, output: Output) -> Result<()> {
    let find = |name: &str| {
        store
            .combo_by_name(name)?
            .with_context(|| format!("no combo named {name:?}"))
    };
    match command {
        ComboCommand::Add {
            name,
            targets,
            strategy,
        } => {
            check_name(&name, "combo")?;
            let strategy = ComboStrategy::parse(&strategy).map_err(anyhow::Error::msg)?;
            let targets = targets
                .iter()
                .map(|target| parse_target(target))
                .collect::<Result<Vec<_>>>()?;
            let names: Vec<String> = targets.iter().map(|t| t.target.clone()).collect();
            check_targets(store, &name, &names).map_err(anyhow::Error::msg)?;
            let combo = store.add_combo(&name, strategy, &targets)?;
            output.print(&combo, || {
                format!(
                    "added combo {:?} ({}): {}",
                    combo.name,
                    combo.strategy.as_str(),
                    describe_targets(&combo.targets)
                )
            })
        }
        ComboCommand::List => {
            let combos = store.list_combos()?;
            output.print(&combos, || {
                if combos.is_empty() {
                    return "no combos yet: add one with `switchyard combo add NAME TARGET...`"
                        .into();
                }
                combos
                    .iter()
                    .map(|combo| {
                        format!(
                            "{:<20} {:<12} {}",
                            combo.name,
                            combo.strategy.as_str(),
                            describe_targets(&combo.targets)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        ComboCommand::Strategy { name, strategy } => {
            let combo = find(&name)?;
            let strategy = ComboStrategy::parse(&strategy).map_err(anyhow::Error::msg)?;
            let combo = store.update_combo(&name, strategy, &combo.targets)?;
            output.print(&combo, || {
                format!("{:?} now uses {}", combo.name, strategy.as_str())
            })
        }
        ComboCommand::Enable { name, target } => toggle_target(store, &name, &target, true, output),
        ComboCommand::Disable { name, target } => {
            toggle_target(store, &name, &target, false, output)
        }
        ComboCommand::Remove { name } => {
            let combo = store.remove_combo(&name)?;
            output.print(&combo, || format!("removed combo {:?}", combo.name))
        }
    }
}

fn toggle_target(store: &Store, name: &str, target: &str, on: bool, output: Output) -> Result<()> {
    let mut combo = store
        .combo_by_name(name)?
        .with_context(|| format!("no combo named {name:?}"))?;
    let entry = combo
        .targets
        .iter_mut()
        .find(|entry| entry.target == target)
        .with_context(|| format!("the combo {name:?} has no target {target:?}"))?;
    entry.enabled = on;
    let combo = store.update_combo(name, combo.strategy, &combo.targets)?;
    output.print(&combo, || {
        format!(
            "{name}: {target} {}",
            if on { "enabled" } else { "disabled" }
        )
    })
}

pub(crate) fn alias(store: &Store, command: AliasCommand, output: Output) -> Result<()> {
    match command {
        AliasCommand::Add { name, target } => {
            check_name(&name, "alias")?;
            check_targets(store, &name, std::slice::from_ref(&target))
                .map_err(anyhow::Error::msg)?;
            let alias = store.add_alias(&name, &target)?;
            output.print(&alias, || format!("{} -> {}", alias.name, alias.target))
        }
        AliasCommand::List => {
            let aliases = store.list_aliases()?;
            output.print(&aliases, || {
                if aliases.is_empty() {
                    return "no aliases yet: add one with `switchyard alias add NAME TARGET`"
                        .into();
                }
                aliases
                    .iter()
                    .map(|alias| format!("{:<20} {}", alias.name, alias.target))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        AliasCommand::Remove { name } => {
            let alias = store.remove_alias(&name)?;
            output.print(&alias, || format!("removed alias {:?}", alias.name))
        }
    }
}

pub(crate) fn price(store: &Store, command: PriceCommand, output: Output) -> Result<()> {
    match command {
        PriceCommand::Set {
            model,
            input,
            output: output_price,
            cache_read,
            cache_write,
            per_image,
            per_second,
        } => {
            let price = Price {
                model,
                input_per_mtok: input,
                output_per_mtok: output_price,
                cache_read_per_mtok: cache_read,
                cache_write_per_mtok: cache_write,
                per_image,
                per_audio_second: per_second,
            };
            store.set_price(&price)?;
            output.print(&price, || {
                format!(
                    "{}: ${} in, ${} out per million tokens",
                    price.model, price.input_per_mtok, price.output_per_mtok
                )
            })
        }
        PriceCommand::List { built_in } => {
            let mut prices: Vec<_> = store
                .list_prices()?
                .into_iter()
                .map(|price| (price, "yours"))
                .collect();
            if built_in {
                prices.extend(
                    built_in_prices()
                        .into_iter()
                        .map(|price| (price, "built-in")),
                );
            }
            let rows: Vec<_> = prices
                .iter()
                .map(|(price, source)| json!({ "price": price, "source": source }))
                .collect();
            output.print(&rows, || {
                let mut text = format!(
                    "{:<28} {:>9} {:>9} {:>11} {:>11} SOURCE",
                    "MODEL", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE"
                );
                let cell = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v}"));
                for (price, source) in &prices {
                    text.push_str(&format!(
                        "\n{:<28} {:>9} {:>9} {:>11} {:>11} {source}",
                        price.model,
                        price.input_per_mtok,
                        price.output_per_mtok,
                        cell(price.cache_read_per_mtok),
                        cell(price.cache_write_per_mtok)
                    ));
                }
                text
            })
        }
        PriceCommand::Remove { model } => {
            store.remove_price(&model)?;
            output.print(&json!({ "removed": model }), || {
                format!("removed your price for {model}")
            })
        }
    }
}

pub(crate) fn quota(
    store: &Store,
    data_dir: &std::path::Path,
    command: QuotaCommand,
    output: Output,
) -> Result<()> {
    let parse = |window: &str, metric: &str| -> Result<(QuotaWindow, QuotaMetric)> {
        Ok((
            QuotaWindow::parse(window).map_err(anyhow::Error::msg)?,
            QuotaMetric::parse(metric).map_err(anyhow::Error::msg)?,
        ))
    };
    match command {
        QuotaCommand::Limit {
            account,
            window,
            metric,
            max,
        } => {
            let (window, metric) = parse(&window, &metric)?;
            let found = store.find_account(&account)?;
            let limit = QuotaLimit {
                account_id: found.id,
                window,
                metric,
                max,
            };
            store.set_quota_limit(&limit)?;
            output.print(&limit, || {
                format!(
                    "{account}: at most {max} {} per {}",
                    metric.as_str(),
                    window.as_str()
                )
            })
        }
        QuotaCommand::Unlimit {
            account,
            window,
            metric,
        } => {
            let (window, metric) = parse(&window, &metric)?;
            let found = store.find_account(&account)?;
            if !store.remove_quota_limit(found.id, window, metric)? {
                bail!(
                    "{account} has no {} limit per {}",
                    metric.as_str(),
                    window.as_str()
                );
            }
            output.print(&json!({ "removed": true }), || {
                format!(
                    "{account}: no more {} limit per {}",
                    metric.as_str(),
                    window.as_str()
                )
            })
        }
        QuotaCommand::List { refresh } => {
            let mut problems = Vec::new();
            if refresh {
                let runtime =
                    tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
                for check in runtime.block_on(switchyard_gateway::maintain_accounts(data_dir))? {
                    if let Err(reason) = check.windows {
                        problems.push(format!("{}: {reason}", check.account));
                    }
                }
            }
            let now = now_millis();
            let service_quotas = store.list_service_quotas()?;
            let providers = store.list_providers()?;
            let limits = store.list_quota_limits()?;
            let reported = store.list_reported_quotas()?;
            let cooldowns = store.list_cooldowns()?;
            let mut rows = Vec::new();
            for account in store.list_accounts()? {
                let provider = providers
                    .iter()
                    .find(|p| p.id == account.provider_id)
                    .map_or("?", |p| p.name.as_str());
                let mut windows = Vec::new();
                for limit in limits.iter().filter(|l| l.account_id == account.id) {
                    let count =
                        store.account_usage_since(account.id, window_start(limit.window, now))?;
                    windows.push(WindowStanding::of(limit, &count, now));
                }
                let day =
                    store.account_usage_since(account.id, window_start(QuotaWindow::Day, now))?;
                rows.push(json!({
                    "account": format!("{provider}/{}", account.label),
                    "windows": windows,
                    "today": day,
                    "reported": reported.iter().filter(|r| r.account_id == account.id).collect::<Vec<_>>(),
                    "service": service_quotas.iter().filter(|q| q.account_id == account.id).collect::<Vec<_>>(),
                    "needs_login": account.needs_login,
                    "cooldowns": cooldowns.iter().filter(|c| c.account_id == account.id && c.until > now).collect::<Vec<_>>(),
                }));
            }
            output.print(&rows, || {
                let mut text = String::new();
                for row in &rows {
                    text.push_str(&format!(
                        "{}\n  today: {} requests, {} tokens\n",
                        row["account"].as_str().unwrap_or("?"),
                        row["today"]["requests"],
                        row["today"]["tokens"]
                    ));
                    for window in row["windows"].as_array().into_iter().flatten() {
                        text.push_str(&format!(
                            "  {} {}: {} of {} used, resets {}\n",
                            window["window"].as_str().unwrap_or(""),
                            window["metric"].as_str().unwrap_or(""),
                            window["used"],
                            window["max"],
                            when(window["resets_at"].as_i64().unwrap_or(0))
                        ));
                    }
                    if row["needs_login"] == true {
                        text.push_str("  needs a new login: run `switchyard connect` again\n");
                    }
                    for window in row["service"].as_array().into_iter().flatten() {
                        text.push_str(&format!(
                            "  {}: {:.0}% used{}\n",
                            window["window"].as_str().unwrap_or(""),
                            window["used_percent"].as_f64().unwrap_or(0.0),
                            window["resets_at"]
                                .as_i64()
                                .map_or(String::new(), |reset| format!(", resets {}", when(reset)))
                        ));
                    }
                    for report in row["reported"].as_array().into_iter().flatten() {
                        text.push_str(&format!(
                            "  provider says: {} {} left{}\n",
                            report["remaining"],
                            report["metric"].as_str().unwrap_or(""),
                            report["reset_at"]
                                .as_i64()
                                .map_or(String::new(), |reset| format!(", resets {}", when(reset)))
                        ));
                    }
                    for cooldown in row["cooldowns"].as_array().into_iter().flatten() {
                        text.push_str(&format!(
                            "  cooling down until {} ({})\n",
                            when(cooldown["until"].as_i64().unwrap_or(0)),
                            cooldown["reason"].as_str().unwrap_or("")
                        ));
                    }
                }
                if text.is_empty() {
                    text = "no accounts yet".into();
                }
                for problem in &problems {
                    text.push_str(&format!("could not refresh {problem}\n"));
                }
                text.trim_end().to_owned()
            })
        }
    }
}
