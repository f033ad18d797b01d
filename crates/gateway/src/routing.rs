//! Choosing where a request goes. A model name is a `prefix/model`, an alias
//! or a combo (which may name other combos); it expands to an ordered list of
//! targets, and each target to its provider's accounts in the provider's
//! account strategy. Accounts cooling down, over a quota, or behind an open
//! circuit breaker are left out of the plan, with the reason kept for the log.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rand::Rng;
use switchyard_store::{
    Account, AccountStrategy, Alias, Attempt, Combo, ComboStrategy, Cooldown, KeyPolicy, Price,
    Provider, QuotaLimit, QuotaMetric, ReportedQuota, ServiceQuota, Store, StoreResult, now_millis,
};

use crate::ApiError;
use crate::health::{BreakerState, Health};
use crate::quota::WindowStanding;
use switchyard_config::pricing::PriceBook;
use switchyard_config::settings::Settings;
use switchyard_protocol::Dialect;
use switchyard_providers::{ApiKeyFamily, ProviderApi, ProviderTable, Subscription};

/// Deepest nesting of combos followed.
const MAX_DEPTH: usize = 8;

/// A provider with its accounts.
#[derive(Debug)]
pub(crate) struct ProviderEntry {
    pub(crate) provider: Provider,
    /// Every account, by priority then id.
    pub(crate) accounts: Vec<Account>,
    /// How requests to it are made.
    pub(crate) api: &'static dyn ProviderApi,
    /// Its subscription service, `None` for an API-key provider or a
    /// service this build does not know.
    pub(crate) subscription: Option<Subscription>,
}

/// Everything routing reads from the database, loaded at once and loaded
/// again whenever another connection changed the database (the gateway's
/// own rare writes patch it in place).
#[derive(Debug, Clone, Default)]
pub(crate) struct RoutingConfig {
    pub(crate) settings: Settings,
    pub(crate) providers: HashMap<String, Arc<ProviderEntry>>,
    pub(crate) combos: HashMap<String, Combo>,
    /// Aliases by name.
    pub(crate) aliases: HashMap<String, Alias>,
    pub(crate) prices: PriceBook,
    cooldowns: HashMap<(i64, String), Cooldown>,
    limits: HashMap<i64, Vec<QuotaLimit>>,
    service_quotas: HashMap<i64, Vec<ServiceQuota>>,
    /// Every active local API key's policy, by its SHA-256 (hex).
    pub(crate) api_keys: HashMap<String, Arc<KeyPolicy>>,
    /// The metrics token's SHA-256; `None`: `/metrics` is off.
    pub(crate) metrics_token: Option<String>,
}

impl RoutingConfig {
    /// Reads the whole configuration.
    pub(crate) fn load(store: &Store, table: &ProviderTable) -> StoreResult<Self> {
        let mut accounts: HashMap<i64, Vec<Account>> = HashMap::new();
        for account in store.list_accounts()? {
            accounts
                .entry(account.provider_id)
                .or_default()
                .push(account);
        }
        let providers = store
            .list_providers()?
            .into_iter()
            .map(|provider| {
                let subscription = provider
                    .subscription
                    .as_deref()
                    .and_then(|id| table.subscription(id).ok())
                    .cloned();
                let entry = ProviderEntry {
                    accounts: accounts.remove(&provider.id).unwrap_or_default(),
                    api: subscription.as_ref().map_or_else(
                        || {
                            ApiKeyFamily::of(Dialect::of_provider(provider.kind))
                                as &dyn ProviderApi
                        },
                        |subscription| subscription.api,
                    ),
                    subscription,
                    provider,
                };
                (entry.provider.prefix.clone(), Arc::new(entry))
            })
            .collect();
        let mut service_quotas: HashMap<i64, Vec<ServiceQuota>> = HashMap::new();
        for quota in store.list_service_quotas()? {
            service_quotas
                .entry(quota.account_id)
                .or_default()
                .push(quota);
        }
        let mut limits: HashMap<i64, Vec<QuotaLimit>> = HashMap::new();
        for limit in store.list_quota_limits()? {
            limits.entry(limit.account_id).or_default().push(limit);
        }
        Ok(Self {
            settings: Settings::load(store)?,
            providers,
            combos: store
                .list_combos()?
                .into_iter()
                .map(|combo| (combo.name.clone(), combo))
                .collect(),
            aliases: store
                .list_aliases()?
                .into_iter()
                .map(|alias| (alias.name.clone(), alias))
                .collect(),
            prices: PriceBook::new(store.list_prices()?),
            cooldowns: store
                .list_cooldowns()?
                .into_iter()
                .map(|cooldown| ((cooldown.account_id, cooldown.model.clone()), cooldown))
                .collect(),
            limits,
            service_quotas,
            api_keys: store
                .active_key_policies()?
                .into_iter()
                .map(|(hash, policy)| (hash, Arc::new(policy)))
                .collect(),
            metrics_token: store.setting(switchyard_config::settings::METRICS_TOKEN_SETTING)?,
        })
    }

    /// The snapshot with `cooldown` as just stored.
    pub(crate) fn with_cooldown(&self, cooldown: Cooldown) -> Self {
        let mut config = self.clone();
        config
            .cooldowns
            .insert((cooldown.account_id, cooldown.model.clone()), cooldown);
        config
    }

    /// The snapshot with the cooldown of `account_id` (and `model`) ended.
    pub(crate) fn without_cooldown(&self, account_id: i64, model: &str) -> Self {
        let mut config = self.clone();
        config.cooldowns.remove(&(account_id, model.to_owned()));
        config
    }

    /// The stored cooldown of an account (model `""`) or one of its models.
    pub(crate) fn cooldown(&self, account_id: i64, model: &str) -> Option<&Cooldown> {
        self.cooldowns.get(&(account_id, model.to_owned()))
    }
}

/// One account of one target to try.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// `prefix/model`.
    pub(crate) target: String,
    /// The model id the provider knows.
    pub(crate) upstream_model: String,
    pub(crate) provider: Arc<ProviderEntry>,
    pub(crate) account: Account,
    /// This attempt is the one probe of a provider whose breaker was open.
    pub(crate) probe: bool,
    /// The price of the target, when known.
    pub(crate) price: Option<Price>,
}

impl Candidate {
    /// The provider's display name.
    pub(crate) fn provider_name(&self) -> &str {
        &self.provider.provider.name
    }
}

/// One step of a plan: an account to try, or one left out and why.
#[derive(Debug)]
pub(crate) enum PlanStep {
    /// Try this candidate (boxed: a candidate is large beside a skip).
    Try(Box<Candidate>),
    /// Left out (cooling down, over quota, breaker open, unknown target).
    Skip(Attempt),
}

/// Where a request may go, in order, with what was left out in its place.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The combo or alias the client named, if any.
    pub(crate) combo: Option<String>,
    pub(crate) steps: Vec<PlanStep>,
    /// The earliest time something left out becomes usable, Unix ms.
    pub(crate) retry_at: Option<i64>,
}

impl Plan {
    /// The candidates to try, in order.
    pub(crate) fn candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.steps.iter().filter_map(|step| match step {
            PlanStep::Try(candidate) => Some(&**candidate),
            PlanStep::Skip(_) => None,
        })
    }

    /// What was left out, in order.
    pub(crate) fn skipped(&self) -> impl Iterator<Item = &Attempt> {
        self.steps.iter().filter_map(|step| match step {
            PlanStep::Skip(attempt) => Some(attempt),
            PlanStep::Try(_) => None,
        })
    }
}

/// Why an account is left out of a plan.
struct Unavailable {
    /// When it becomes usable again, Unix ms (never by itself: `None`).
    until: Option<i64>,
    reason: String,
}

/// What planning needs besides the configuration.
pub(crate) struct Planner<'a> {
    pub(crate) config: &'a RoutingConfig,
    pub(crate) health: &'a Health,
    /// Live provider reports of what is left on each account.
    pub(crate) reported: &'a HashMap<(i64, QuotaMetric), ReportedQuota>,
    /// Counts an account's usage over a window (a database read).
    pub(crate) window_usage: &'a dyn Fn(&QuotaLimit, i64) -> Option<WindowStanding>,
}

impl Planner<'_> {
    /// Expands `model` into a plan, or says why no plan can exist.
    pub(crate) fn plan(&self, model: &str) -> Result<Plan, ApiError> {
        let mut plan = Plan::default();
        let mut targets = Vec::new();
        if model.contains('/') {
            targets.push(model.to_owned());
        } else if self.config.aliases.contains_key(model) || self.config.combos.contains_key(model)
        {
            plan.combo = Some(model.to_owned());
            let mut visiting = HashSet::new();
            self.expand(model, &mut visiting, &mut targets, 0)?;
        } else if let Some(default) = &self.config.settings.default_model {
            // A name only the client knows (a tool's built-in default):
            // the user's default takes it.
            plan.combo = Some(default.clone());
            let mut visiting = HashSet::new();
            self.expand(default, &mut visiting, &mut targets, 0)?;
        } else {
            return Err(ApiError::model_not_found(format!(
                "the model {model:?} does not exist: name models as <provider prefix>/<model>, or use a combo or alias (see GET /v1/models)"
            )));
        }
        let now = now_millis();
        let single = targets.len() == 1;
        for target in targets {
            self.plan_target(&target, now, single, &mut plan)?;
        }
        Ok(plan)
    }

    /// Appends the concrete `prefix/model` targets of `name` in strategy order.
    fn expand(
        &self,
        name: &str,
        visiting: &mut HashSet<String>,
        out: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), ApiError> {
        if name.contains('/') {
            out.push(name.to_owned());
            return Ok(());
        }
        if depth > MAX_DEPTH || !visiting.insert(name.to_owned()) {
            return Err(ApiError::bad_request(
                "combo_cycle",
                format!("the combo or alias {name:?} refers to itself through its targets"),
            ));
        }
        if let Some(target) = self.config.aliases.get(name).map(|alias| &alias.target) {
            self.expand(target, visiting, out, depth + 1)?;
        } else if let Some(combo) = self.config.combos.get(name) {
            for target in self.order(combo) {
                self.expand(&target, visiting, out, depth + 1)?;
            }
        } else {
            return Err(ApiError::model_not_found(format!(
                "{name:?} is neither a combo, an alias nor a <prefix>/<model>"
            )));
        }
        visiting.remove(name);
        Ok(())
    }

    /// A combo's enabled targets in the order its strategy gives this request.
    fn order(&self, combo: &Combo) -> Vec<String> {
        let enabled: Vec<_> = combo
            .targets
            .iter()
            .filter(|target| target.enabled)
            .collect();
        if enabled.is_empty() {
            return Vec::new();
        }
        match combo.strategy {
            ComboStrategy::Fallback => enabled.iter().map(|t| t.target.clone()).collect(),
            ComboStrategy::RoundRobin => {
                let start = self.health.next_turn(&format!("combo:{}", combo.name)) as usize
                    % enabled.len();
                enabled[start..]
                    .iter()
                    .chain(&enabled[..start])
                    .map(|t| t.target.clone())
                    .collect()
            }
            ComboStrategy::Weighted => {
                let total: u64 = enabled.iter().map(|t| u64::from(t.weight)).sum();
                let mut rest: Vec<_> = enabled.clone();
                let first = if total == 0 {
                    0
                } else {
                    let mut draw = rand::rng().random_range(0..total);
                    rest.iter()
                        .position(|t| {
                            let weight = u64::from(t.weight);
                            if draw < weight {
                                true
                            } else {
                                draw -= weight;
                                false
                            }
                        })
                        .unwrap_or(0)
                };
                let first = rest.remove(first);
                rest.sort_by_key(|t| std::cmp::Reverse(t.weight));
                std::iter::once(first)
                    .chain(rest)
                    .map(|t| t.target.clone())
                    .collect()
            }
        }
    }

    /// Adds the usable accounts of one target to the plan. With `single`
    /// (no combo) an unknown or disabled target is the request's error.
    fn plan_target(
        &self,
        target: &str,
        now: i64,
        single: bool,
        plan: &mut Plan,
    ) -> Result<(), ApiError> {
        let (prefix, upstream_model) = target.split_once('/').unwrap_or((target, ""));
        let skip = |plan: &mut Plan,
                    provider: Option<&Provider>,
                    account: Option<&Account>,
                    status: u16,
                    why: String| {
            plan.steps.push(PlanStep::Skip(Attempt {
                target: target.to_owned(),
                provider: provider.map(|p| p.name.clone()),
                account: account.map(|a| a.label.clone()),
                status,
                latency_ms: 0,
                error: Some(why),
                skipped: true,
            }));
        };
        let entry = match self.config.providers.get(prefix) {
            Some(entry) if upstream_model.is_empty() => {
                let error = ApiError::model_not_found(format!(
                    "the model {target:?} names no model after the prefix {prefix:?}"
                ));
                if single {
                    return Err(error);
                }
                skip(plan, Some(&entry.provider), None, 404, error.message);
                return Ok(());
            }
            Some(entry) if entry.provider.enabled => entry,
            Some(entry) => {
                let message = format!(
                    "the model {target:?} belongs to provider {:?}, which is disabled",
                    entry.provider.name
                );
                if single {
                    return Err(ApiError::model_not_found(message));
                }
                skip(plan, Some(&entry.provider), None, 404, message);
                return Ok(());
            }
            None => {
                let message = format!(
                    "the model {target:?} does not exist: no provider has the prefix {prefix:?}"
                );
                if single {
                    return Err(ApiError::model_not_found(message));
                }
                skip(plan, None, None, 404, message);
                return Ok(());
            }
        };
        let provider = &entry.provider;
        let settings = &self.config.settings;
        let probe = match self.health.breaker(provider.id, settings) {
            BreakerState::Open => {
                skip(
                    plan,
                    Some(provider),
                    None,
                    503,
                    "circuit breaker open".into(),
                );
                return Ok(());
            }
            BreakerState::Probe => true,
            BreakerState::Closed => false,
        };
        let price = self.config.prices.price(target);
        for account in self.ordered_accounts(entry) {
            if let Some(unavailable) = self.unavailable(account, upstream_model, now) {
                let status = match unavailable.until {
                    Some(at) => {
                        plan.retry_at = Some(plan.retry_at.map_or(at, |earliest| earliest.min(at)));
                        429
                    }
                    None => 401,
                };
                skip(
                    plan,
                    Some(provider),
                    Some(account),
                    status,
                    unavailable.reason,
                );
                continue;
            }
            plan.steps.push(PlanStep::Try(Box::new(Candidate {
                target: target.to_owned(),
                upstream_model: upstream_model.to_owned(),
                provider: Arc::clone(entry),
                account: account.clone(),
                probe,
                price: price.clone(),
            })));
        }
        Ok(())
    }

    /// The provider's enabled accounts in the order its strategy gives now.
    fn ordered_accounts<'e>(&self, entry: &'e ProviderEntry) -> Vec<&'e Account> {
        let enabled: Vec<&Account> = entry.accounts.iter().filter(|a| a.enabled).collect();
        if enabled.len() < 2 {
            return enabled;
        }
        let settings = &self.config.settings;
        let strategy = entry
            .provider
            .account_strategy
            .unwrap_or(settings.account_strategy);
        let turn = |key: String| self.health.next_turn(&key);
        let start = match strategy {
            AccountStrategy::Priority => 0,
            AccountStrategy::RoundRobin => {
                turn(format!("accounts:{}", entry.provider.id)) as usize % enabled.len()
            }
            AccountStrategy::Sticky => {
                let turn = turn(format!("accounts:{}", entry.provider.id));
                (turn / settings.sticky_limit.max(1)) as usize % enabled.len()
            }
        };
        enabled[start..]
            .iter()
            .chain(&enabled[..start])
            .copied()
            .collect()
    }

    /// Why `account` cannot serve `model` now, and until when.
    fn unavailable(&self, account: &Account, model: &str, now: i64) -> Option<Unavailable> {
        if account.needs_login {
            return Some(Unavailable {
                until: None,
                reason: "needs a new login: its credentials were refused (`switchyard connect`)"
                    .into(),
            });
        }
        for quota in self
            .config
            .service_quotas
            .get(&account.id)
            .into_iter()
            .flatten()
        {
            // A window of one model (`model:<id>`) does not hold back the others.
            if quota
                .window
                .strip_prefix("model:")
                .is_some_and(|scoped| scoped != model)
            {
                continue;
            }
            if quota.used_percent >= 100.0
                && let Some(reset) = quota.resets_at
                && reset > now
            {
                return Some(Unavailable {
                    until: Some(reset),
                    reason: format!("the service reports its {} window used up", quota.window),
                });
            }
        }
        for key in ["", model] {
            if let Some(cooldown) = self.config.cooldown(account.id, key)
                && cooldown.until > now
            {
                let scope = if key.is_empty() { "account" } else { "model" };
                if matches!(cooldown.status, 401 | 403) {
                    // Refused credentials do not come back by waiting.
                    return Some(Unavailable {
                        until: None,
                        reason: format!(
                            "the provider refused its credentials ({}); replace its key or log in again",
                            cooldown.status
                        ),
                    });
                }
                return Some(Unavailable {
                    until: Some(cooldown.until),
                    reason: format!(
                        "{scope} cooling down for {}s after: {}",
                        ((cooldown.until - now) as u64).div_ceil(1000),
                        cooldown.reason
                    ),
                });
            }
        }
        for metric in [QuotaMetric::Requests, QuotaMetric::Tokens] {
            if let Some(report) = self.reported.get(&(account.id, metric))
                && report.remaining == 0
                && let Some(reset) = report.reset_at
                && reset > now
            {
                return Some(Unavailable {
                    until: Some(reset),
                    reason: format!("provider reports no {} left until reset", metric.as_str()),
                });
            }
        }
        for limit in self.config.limits.get(&account.id).into_iter().flatten() {
            if let Some(standing) = (self.window_usage)(limit, now)
                && standing.exhausted()
            {
                return Some(Unavailable {
                    until: Some(standing.resets_at),
                    reason: format!(
                        "{} quota used up ({} of {} {})",
                        limit.window.as_str(),
                        standing.used,
                        standing.max,
                        limit.metric.as_str()
                    ),
                });
            }
        }
        None
    }
}

/// Checks that a combo's or alias's targets exist and form no cycle, given
/// the stored combos and aliases plus the one being saved.
pub fn check_targets(store: &Store, name: &str, targets: &[String]) -> Result<(), String> {
    let combos: HashMap<String, Vec<String>> = store
        .list_combos()
        .map_err(|error| error.to_string())?
        .into_iter()
        .map(|combo| {
            let targets = combo.targets.into_iter().map(|t| t.target).collect();
            (combo.name, targets)
        })
        .chain(
            store
                .list_aliases()
                .map_err(|error| error.to_string())?
                .into_iter()
                .map(|alias| (alias.name, vec![alias.target])),
        )
        .chain(std::iter::once((name.to_owned(), targets.to_vec())))
        .collect();
    fn visit(
        name: &str,
        graph: &HashMap<String, Vec<String>>,
        path: &mut Vec<String>,
    ) -> Result<(), String> {
        if let Some(position) = path.iter().position(|seen| seen == name) {
            let mut cycle = path[position..].to_vec();
            cycle.push(name.to_owned());
            return Err(format!("targets form a cycle: {}", cycle.join(" -> ")));
        }
        let Some(targets) = graph.get(name) else {
            return Err(format!(
                "{name:?} is neither a combo, an alias nor a <prefix>/<model>"
            ));
        };
        path.push(name.to_owned());
        for target in targets.iter().filter(|target| !target.contains('/')) {
            visit(target, graph, path)?;
        }
        path.pop();
        Ok(())
    }
    visit(name, &combos, &mut Vec::new())
}
