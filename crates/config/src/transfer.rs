//! Moving a configuration in and out: Switchyard's own export document,
//! checked against the rules users' input follows here (prefixes, base
//! URLs, model names, settings), and the import of an existing 9router
//! installation, mapped onto Switchyard's subscription services, presets,
//! compatible providers, combos and aliases. These are the plain functions
//! the CLI and the desktop app call.
//!
//! 9router keeps its configuration in `~/.9router` (`%APPDATA%\9router` on
//! Windows): `db.json` (lowdb) up to 0.4, `db/data.sqlite` later (see
//! [`switchyard_store::read_9router`]). What has no counterpart here is
//! reported, never silently dropped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use switchyard_store::transfer::{
    AccountEntry, AccountSecrets, AliasEntry, AuthKind, ClientKeyEntry, ComboEntry,
    NINE_ROUTER_FILES, ProviderEntry,
};
use switchyard_store::{
    AccountStrategy, ComboStrategy, ComboTarget, ImportOptions, Price, Provider, ProviderKind,
    Store,
};

pub use switchyard_api_types::{TransferReport, TransferSkip};
pub use switchyard_store::{ConfigDocument, TransferError};

use crate::settings::SettingKey;
use crate::{presets, validate};
use switchyard_providers::ProviderTable;

/// The configuration as a JSON document; with `with_secrets`, provider keys
/// and tokens in plain text too. Client API keys are never in it.
pub fn export_config(store: &Store, with_secrets: bool) -> Result<String, TransferError> {
    Ok(store.export_config(with_secrets)?.to_json())
}

/// Merges an exported document into the configuration (see
/// [`Store::import_config`] for the rules), after checking all of it;
/// `dry_run` reports without writing.
pub fn import_config(
    store: &Store,
    json: &str,
    dry_run: bool,
) -> Result<TransferReport, TransferError> {
    import_document(store, &ConfigDocument::from_json(json)?, dry_run)
}

/// Checks a document against the gateway's rules, then merges it.
pub fn import_document(
    store: &Store,
    document: &ConfigDocument,
    dry_run: bool,
) -> Result<TransferReport, TransferError> {
    check_document(document)?;
    let check_setting = |key: &str, value: &str| match SettingKey::parse(key) {
        Ok(setting) => setting.normalize(value).map(Some),
        Err(_) => Ok(None),
    };
    store.import_config(
        document,
        ImportOptions {
            dry_run,
            check_setting: Some(&check_setting),
        },
    )
}

/// What users type is held to the same rules when it arrives in a file.
fn check_document(document: &ConfigDocument) -> Result<(), TransferError> {
    let refuse = |what: String, why: String| TransferError::Invalid(format!("{what}: {why}"));
    let table = ProviderTable::builtin();
    for provider in &document.providers {
        let what = format!("provider {:?}", provider.prefix);
        validate::prefix(&provider.prefix).map_err(|why| refuse(what.clone(), why))?;
        if !provider.base_url.is_empty() {
            validate::base_url(&provider.base_url).map_err(|why| refuse(what.clone(), why))?;
        }
        if let Some(service) = &provider.subscription
            && table.subscription(service).is_err()
        {
            return Err(refuse(
                what,
                format!("unknown subscription service {service:?}"),
            ));
        }
    }
    for combo in &document.combos {
        validate::model_name(&combo.name, "combo")
            .map_err(|why| refuse(format!("combo {:?}", combo.name), why))?;
    }
    for alias in &document.aliases {
        validate::model_name(&alias.name, "alias")
            .map_err(|why| refuse(format!("alias {:?}", alias.name), why))?;
    }
    Ok(())
}

/// 9router's data directory: `%APPDATA%\9router` on Windows, `~/.9router`
/// elsewhere.
pub fn default_9router_dir() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new()?;
    if cfg!(windows) {
        Some(dirs.config_dir().join("9router"))
    } else {
        Some(dirs.home_dir().join(".9router"))
    }
}

/// The database of the 9router installation in its default place, if there
/// is one: `db/data.sqlite` (later versions), else `db.json`.
pub fn default_9router_path() -> Option<PathBuf> {
    let dir = default_9router_dir()?;
    NINE_ROUTER_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Imports a 9router installation (its data directory, `db.json`, a backup
/// exported from its dashboard, or `db/data.sqlite`): providers and their
/// connections with keys and tokens (sealed like Switchyard's own), combos,
/// aliases, prices, the account strategy and the API keys its clients use.
/// Existing providers with the same prefix and upstream are merged into;
/// everything that has no counterpart is in the report's `skipped`.
pub fn import_9router(
    store: &Store,
    path: &Path,
    dry_run: bool,
) -> Result<TransferReport, TransferError> {
    let data = switchyard_store::read_9router(path)?;
    let data_dir = store.path().parent().unwrap_or(Path::new("."));
    let mapped = map_9router(&data, &store.list_providers()?, data_dir);
    let mut report = import_document(store, &mapped.document, dry_run)?;
    let mut skipped = mapped.skipped;
    skipped.append(&mut report.skipped);
    report.skipped = skipped;
    let mut notes = mapped.notes;
    notes.append(&mut report.notes);
    report.notes = notes;
    Ok(report)
}

/// Where a 9router provider's connections go here.
#[derive(Debug, Clone, Copy)]
enum Upstream {
    /// A subscription service (its id here).
    Service(&'static str),
    /// An API-key provider at the URL 9router sent requests to (the chat
    /// path left off), named after the preset when there is one.
    ApiKey {
        preset: Option<&'static str>,
        name: &'static str,
        kind: ProviderKind,
        base_url: &'static str,
    },
}

/// 9router's providers that have a counterpart here: its provider id, its
/// short alias (the prefix its users' tools already send, kept as ours), and
/// where they go. Base URLs are the ones 9router's provider table uses, so
/// the imported keys keep reaching the endpoint they were made for.
#[rustfmt::skip]
const KNOWN: &[(&str, &str, Upstream)] = &[
    ("claude", "cc", Upstream::Service("claude-code")),
    ("codex", "cx", Upstream::Service("codex")),
    ("github", "gh", Upstream::Service("github-copilot")),
    ("gemini-cli", "gc", Upstream::Service("gemini-cli")),
    ("qwen", "qw", Upstream::Service("qwen")),
    ("kiro", "kr", Upstream::Service("kiro")),
    ("openai", "openai", api(Some("openai"), "OpenAI", OPENAI, "https://api.openai.com/v1")),
    ("anthropic", "anthropic", api(Some("anthropic"), "Anthropic", ANTHROPIC, "https://api.anthropic.com/v1")),
    ("gemini", "gemini", api(Some("gemini"), "Gemini (AI Studio)", ProviderKind::Gemini, "https://generativelanguage.googleapis.com/v1beta")),
    ("openrouter", "openrouter", api(Some("openrouter"), "OpenRouter", OPENAI, "https://openrouter.ai/api/v1")),
    ("glm", "glm", api(Some("glm"), "GLM (Z.ai)", ANTHROPIC, "https://api.z.ai/api/anthropic/v1")),
    ("glm-cn", "glm-cn", api(None, "GLM (China)", OPENAI, "https://open.bigmodel.cn/api/coding/paas/v4")),
    ("kimi", "kimi", api(None, "Kimi Coding", ANTHROPIC, "https://api.kimi.com/coding/v1")),
    ("minimax", "minimax", api(Some("minimax"), "MiniMax", ANTHROPIC, "https://api.minimax.io/anthropic/v1")),
    ("minimax-cn", "minimax-cn", api(None, "MiniMax (China)", ANTHROPIC, "https://api.minimaxi.com/anthropic/v1")),
    ("deepseek", "ds", api(Some("deepseek"), "DeepSeek", OPENAI, "https://api.deepseek.com")),
    ("groq", "groq", api(Some("groq"), "Groq", OPENAI, "https://api.groq.com/openai/v1")),
    ("xai", "xai", api(Some("xai"), "xAI", OPENAI, "https://api.x.ai/v1")),
    ("mistral", "mistral", api(Some("mistral"), "Mistral", OPENAI, "https://api.mistral.ai/v1")),
    ("alicode", "alicode", api(None, "Alibaba Coding", OPENAI, "https://coding.dashscope.aliyuncs.com/v1")),
    ("alicode-intl", "alicode-intl", api(None, "Alibaba Coding (Intl)", OPENAI, "https://coding-intl.dashscope.aliyuncs.com/v1")),
    ("volcengine-ark", "ark", api(None, "Volcengine Ark", OPENAI, "https://ark.cn-beijing.volces.com/api/coding/v3")),
    ("byteplus", "bpm", api(None, "BytePlus ModelArk", OPENAI, "https://ark.ap-southeast.bytepluses.com/api/coding/v3")),
    ("nvidia", "nvidia", api(None, "NVIDIA NIM", OPENAI, "https://integrate.api.nvidia.com/v1")),
    ("perplexity", "pplx", api(None, "Perplexity", OPENAI, "https://api.perplexity.ai")),
    ("together", "together", api(None, "Together AI", OPENAI, "https://api.together.xyz/v1")),
    ("fireworks", "fireworks", api(None, "Fireworks AI", OPENAI, "https://api.fireworks.ai/inference/v1")),
    ("cerebras", "cerebras", api(None, "Cerebras", OPENAI, "https://api.cerebras.ai/v1")),
    ("nebius", "nebius", api(None, "Nebius AI Studio", OPENAI, "https://api.studio.nebius.ai/v1")),
    ("siliconflow", "siliconflow", api(None, "SiliconFlow", OPENAI, "https://api.siliconflow.cn/v1")),
    ("hyperbolic", "hyp", api(None, "Hyperbolic", OPENAI, "https://api.hyperbolic.xyz/v1")),
    ("chutes", "ch", api(None, "Chutes AI", OPENAI, "https://llm.chutes.ai/v1")),
];

const OPENAI: ProviderKind = ProviderKind::OpenaiCompatible;
const ANTHROPIC: ProviderKind = ProviderKind::AnthropicCompatible;

const fn api(
    preset: Option<&'static str>,
    name: &'static str,
    kind: ProviderKind,
    base_url: &'static str,
) -> Upstream {
    Upstream::ApiKey {
        preset,
        name,
        kind,
        base_url,
    }
}

/// Other aliases 9router resolves to a provider id (its routing accepts both).
const OTHER_ALIASES: &[(&str, &str)] = &[
    ("ag", "antigravity"),
    ("if", "iflow"),
    ("cu", "cursor"),
    ("kc", "kilocode"),
    ("kmc", "kimi-coding"),
    ("cl", "cline"),
    ("oc", "opencode"),
    ("ocg", "opencode-go"),
    ("vx", "vertex"),
    ("vxp", "vertex-partner"),
    ("gw", "grok-web"),
    ("pw", "perplexity-web"),
    ("qd", "qoder"),
    ("gl", "gitlab"),
    ("cb", "codebuddy"),
];

/// Why a 9router provider is not imported.
fn unsupported(provider: &str) -> String {
    match provider {
        "iflow" => {
            "iFlow accounts are not supported here yet (its API wants every request signed)".into()
        }
        "antigravity" => "Antigravity is not supported here".into(),
        "cursor" => "Cursor's own protocol is not supported here".into(),
        "kimi-coding" | "kilocode" | "cline" | "qoder" | "gitlab" | "codebuddy" => {
            format!("{provider} logins are not supported here")
        }
        "vertex" | "vertex-partner" | "azure" | "cloudflare-ai" => {
            format!("{provider} needs deployment settings Switchyard does not have")
        }
        "ollama" | "ollama-local" => "Ollama upstreams are not supported here".into(),
        "grok-web" | "perplexity-web" => "browser-cookie providers are not supported here".into(),
        "opencode" | "opencode-go" => "OpenCode's endpoints are not supported here".into(),
        other if other.starts_with("custom-embedding-") => {
            "embedding-only providers are not supported here".into()
        }
        other => format!("9router's provider {other:?} has no counterpart here"),
    }
}

/// A 9router database mapped onto a document, with what was left out.
#[derive(Debug)]
struct Mapped {
    document: ConfigDocument,
    skipped: Vec<TransferSkip>,
    notes: Vec<String>,
}

fn skip(item: impl Into<String>, reason: impl Into<String>) -> TransferSkip {
    TransferSkip {
        item: item.into(),
        reason: reason.into(),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

fn list<'a>(data: &'a Value, key: &str) -> &'a [Value] {
    data.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// How a 9router connection's provider maps here.
#[derive(Debug, Clone)]
enum Target {
    Upstream(&'static str, &'static str, Upstream),
    Node {
        id: String,
        name: String,
        prefix: String,
        kind: ProviderKind,
        base_url: String,
    },
    Unsupported(String),
}

/// One provider being built from 9router's connections.
#[derive(Debug)]
struct Group {
    entry: ProviderEntry,
    /// 9router's names for it (provider id, alias, node prefix), for
    /// rewriting `provider/model` strings.
    names: Vec<String>,
}

/// 9router's data being mapped onto Switchyard's, section by section;
/// everything left out is kept with its reason.
struct Mapping<'a> {
    data: &'a Value,
    /// 9router's settings (`Null` when it has none).
    settings: &'a Value,
    /// 9router's sticky round-robin limit, when it set one.
    global_sticky: Option<u64>,
    groups: Vec<Group>,
    /// The group of each 9router provider id, by index.
    group_of: HashMap<String, usize>,
    /// 9router provider names (ids and aliases) left out, and why.
    left_out: HashMap<String, String>,
    /// Which 9router names lead to which prefix here.
    prefix_of: HashMap<String, String>,
    /// `(prefix, model)` pairs to advertise besides the providers' lists.
    extra_models: Vec<(String, String)>,
    skipped: Vec<TransferSkip>,
    notes: Vec<String>,
}

/// The settings of a 9router installation that has none.
static NO_SETTINGS: Value = Value::Null;

fn map_9router(data: &Value, installed: &[Provider], data_dir: &Path) -> Mapped {
    let settings = data.get("settings").unwrap_or(&NO_SETTINGS);
    let mut mapping = Mapping {
        data,
        settings,
        global_sticky: settings
            .get("stickyRoundRobinLimit")
            .and_then(Value::as_u64)
            .filter(|limit| *limit > 0),
        groups: Vec::new(),
        group_of: HashMap::new(),
        left_out: HashMap::new(),
        prefix_of: HashMap::new(),
        extra_models: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
    };
    mapping.connections(installed, data_dir);
    mapping.name_prefixes();
    mapping.account_strategies();
    mapping.listed_models();
    let (combos, model_names) = mapping.combos();
    let aliases = mapping.aliases(&model_names);
    mapping.advertise_models();
    let prices = mapping.prices();
    let settings = mapping.settings();
    let client_api_keys = mapping.client_api_keys();
    mapping.the_rest();
    Mapped {
        document: ConfigDocument {
            secrets_included: true,
            providers: mapping
                .groups
                .into_iter()
                .map(|group| group.entry)
                .collect(),
            combos,
            aliases,
            prices,
            settings,
            client_api_keys,
            ..ConfigDocument::default()
        },
        skipped: mapping.skipped,
        notes: mapping.notes,
    }
}

impl Mapping<'_> {
    /// Each connection as an account of the provider it maps to (one group
    /// per 9router provider).
    fn connections(&mut self, installed: &[Provider], data_dir: &Path) {
        let data = self.data;
        let nodes: HashMap<&str, &Value> = list(data, "providerNodes")
            .iter()
            .filter_map(|node| Some((text(node, "id")?, node)))
            .collect();
        let mut used_prefixes: HashSet<String> =
            installed.iter().map(|p| p.prefix.clone()).collect();
        let mut used_names: HashSet<String> = installed.iter().map(|p| p.name.clone()).collect();
        let mut connections: Vec<&Value> = list(data, "providerConnections").iter().collect();
        connections.sort_by_key(|c| c.get("priority").and_then(Value::as_i64).unwrap_or(999));
        for connection in connections {
            let provider = text(connection, "provider").unwrap_or("?").to_owned();
            let shown = connection_name(connection);
            let item = format!("9router connection {provider}/{shown}");
            let target = resolve(&provider, connection, &nodes);
            if let Target::Unsupported(reason) = &target {
                self.left_out.insert(provider.clone(), reason.clone());
                self.skipped.push(skip(item, reason.clone()));
                continue;
            }
            if connection.get("__encrypted").and_then(Value::as_bool) == Some(true) {
                self.skipped.push(skip(
                    item,
                    "9router stored it encrypted and Switchyard cannot read it; add it here again",
                ));
                continue;
            }
            let index = match self.group_of.get(&provider) {
                Some(index) => *index,
                None => {
                    let group = new_group(
                        &target,
                        installed,
                        data_dir,
                        &mut used_prefixes,
                        &mut used_names,
                        &mut self.notes,
                    );
                    let Some(group) = group else {
                        let reason = "its service is not available in this build".to_owned();
                        self.left_out.insert(provider.clone(), reason.clone());
                        self.skipped.push(skip(item, reason));
                        continue;
                    };
                    self.groups.push(group);
                    self.group_of
                        .insert(provider.clone(), self.groups.len() - 1);
                    self.groups.len() - 1
                }
            };
            let group = &mut self.groups[index];
            match account_from(connection, &target, &group.entry) {
                Ok(account) => group.entry.accounts.push(account),
                Err(reason) => self.skipped.push(skip(item, reason)),
            }
        }
    }

    /// Which 9router names (ids, aliases, node prefixes) lead to which
    /// prefix here, and the reasons aliases of left-out providers share.
    fn name_prefixes(&mut self) {
        for group in &self.groups {
            for name in &group.names {
                self.prefix_of
                    .insert(name.clone(), group.entry.prefix.clone());
            }
        }
        for (alias, id) in OTHER_ALIASES {
            if let Some(reason) = self.left_out.get(*id).cloned() {
                self.left_out.entry((*alias).into()).or_insert(reason);
            }
        }
        for (id, alias, _) in KNOWN {
            if let Some(reason) = self.left_out.get(*id).cloned() {
                self.left_out.entry((*alias).into()).or_insert(reason);
            }
        }
    }

    /// `provider/model` in 9router's names, in ours; or why it cannot be.
    fn map_target(&self, target: &str) -> Result<String, String> {
        let Some((provider, model)) = target.split_once('/') else {
            // A combo's or alias's name.
            return Ok(target.to_owned());
        };
        match self.prefix_of.get(provider) {
            Some(prefix) => Ok(format!("{prefix}/{model}")),
            None => {
                Err(self.left_out.get(provider).cloned().unwrap_or_else(|| {
                    format!("9router has no connection of {provider:?} to import")
                }))
            }
        }
    }

    /// Per-provider account strategies.
    fn account_strategies(&mut self) {
        let settings = self.settings;
        if let Some(overrides) = settings
            .get("providerStrategies")
            .and_then(Value::as_object)
        {
            for (provider, choice) in overrides {
                let Some(index) = self.group_of.get(provider) else {
                    continue;
                };
                let sticky = choice
                    .get("stickyRoundRobinLimit")
                    .and_then(Value::as_u64)
                    .or(self.global_sticky);
                if let Some(strategy) = text(choice, "fallbackStrategy")
                    .and_then(|strategy| account_strategy(strategy, sticky))
                {
                    self.groups[*index].entry.strategy = Some(strategy);
                }
                let own = choice.get("stickyRoundRobinLimit").and_then(Value::as_u64);
                if own.is_some_and(|own| own > 1 && Some(own) != self.global_sticky) {
                    self.notes.push(format!(
                        "9router kept {provider} on one account for {} requests; Switchyard's sticky_limit is one number for all providers",
                        own.unwrap_or_default()
                    ));
                }
            }
        }
    }

    /// Models 9router listed or added for each provider.
    fn listed_models(&mut self) {
        let data = self.data;
        for connection in list(data, "providerConnections") {
            let Some(provider) = text(connection, "provider") else {
                continue;
            };
            let enabled = connection
                .pointer("/providerSpecificData/enabledModels")
                .and_then(Value::as_array);
            for model in enabled.into_iter().flatten().filter_map(Value::as_str) {
                if let Some(prefix) = self.prefix_of.get(provider) {
                    self.extra_models.push((prefix.clone(), model.to_owned()));
                }
            }
        }
        for custom in list(data, "customModels") {
            let (Some(provider), Some(model)) = (text(custom, "providerAlias"), text(custom, "id"))
            else {
                continue;
            };
            let kind = text(custom, "type").unwrap_or("llm");
            if kind != "llm" {
                self.skipped.push(skip(
                    format!("9router custom model {provider}/{model}"),
                    format!("a {kind} model; Switchyard routes chat models"),
                ));
                continue;
            }
            match self.prefix_of.get(provider) {
                Some(prefix) => self.extra_models.push((prefix.clone(), model.to_owned())),
                None => self.skipped.push(skip(
                    format!("9router custom model {provider}/{model}"),
                    self.left_out.get(provider).cloned().unwrap_or_else(|| {
                        format!("9router has no connection of {provider:?} to import")
                    }),
                )),
            }
        }
    }

    /// Combos, and the names they take.
    fn combos(&mut self) -> (Vec<ComboEntry>, HashSet<String>) {
        let (data, settings) = (self.data, self.settings);
        let combo_strategy = |name: &str| {
            let chosen = settings
                .pointer(&format!(
                    "/comboStrategies/{}",
                    name.replace('~', "~0").replace('/', "~1")
                ))
                .and_then(|choice| text(choice, "fallbackStrategy"))
                .or_else(|| text(settings, "comboStrategy"));
            if chosen == Some("round-robin") {
                ComboStrategy::RoundRobin
            } else {
                ComboStrategy::Fallback
            }
        };
        let mut combos = Vec::new();
        let mut model_names = HashSet::new();
        for combo in list(data, "combos") {
            let Some(name) = text(combo, "name") else {
                continue;
            };
            let item = format!("9router combo {name}");
            if let Some(kind) = text(combo, "kind").filter(|kind| *kind != "llm") {
                self.skipped.push(skip(
                    item,
                    format!("a {kind} combo; Switchyard's combos route chat models"),
                ));
                continue;
            }
            if let Err(why) = validate::model_name(name, "combo") {
                self.skipped.push(skip(item, why));
                continue;
            }
            let mut targets = Vec::new();
            for member in combo
                .get("models")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (model, weight) = match member {
                    Value::String(model) => (model.as_str(), 1),
                    Value::Object(_) => (
                        text(member, "model")
                            .or_else(|| text(member, "id"))
                            .unwrap_or_default(),
                        member
                            .get("weight")
                            .and_then(Value::as_u64)
                            .map_or(1, |weight| u32::try_from(weight.max(1)).unwrap_or(u32::MAX)),
                    ),
                    _ => ("", 1),
                };
                if model.is_empty() {
                    continue;
                }
                match self.map_target(model) {
                    Ok(target) => {
                        if let Some((prefix, model)) = target.split_once('/') {
                            self.extra_models
                                .push((prefix.to_owned(), model.to_owned()));
                        }
                        targets.push(ComboTarget {
                            target,
                            weight,
                            enabled: true,
                        });
                    }
                    Err(reason) => self
                        .skipped
                        .push(skip(format!("target {model} of combo {name}"), reason)),
                }
            }
            if targets.is_empty() {
                self.skipped
                    .push(skip(item, "none of its targets could be imported"));
                continue;
            }
            model_names.insert(name.to_owned());
            combos.push(ComboEntry {
                name: name.to_owned(),
                strategy: combo_strategy(name),
                targets,
            });
        }

        (combos, model_names)
    }

    /// Aliases whose names no combo takes.
    fn aliases(&mut self, model_names: &HashSet<String>) -> Vec<AliasEntry> {
        let data = self.data;
        let mut aliases = Vec::new();
        if let Some(map) = data.get("modelAliases").and_then(Value::as_object) {
            for (name, target) in map {
                let item = format!("9router alias {name}");
                let Some(target) = target.as_str().filter(|t| !t.is_empty()) else {
                    self.skipped.push(skip(item, "it names no model"));
                    continue;
                };
                if let Err(why) = validate::model_name(name, "alias") {
                    self.skipped.push(skip(item, why));
                    continue;
                }
                if model_names.contains(name) {
                    self.skipped.push(skip(item, "a combo has the same name"));
                    continue;
                }
                match self.map_target(target) {
                    Ok(target) => {
                        if let Some((prefix, model)) = target.split_once('/') {
                            self.extra_models
                                .push((prefix.to_owned(), model.to_owned()));
                        }
                        aliases.push(AliasEntry {
                            name: name.clone(),
                            target,
                        });
                    }
                    Err(reason) => self.skipped.push(skip(item, reason)),
                }
            }
        }

        aliases
    }

    /// Every model combos, aliases and connections use, advertised by its provider.
    fn advertise_models(&mut self) {
        for group in &mut self.groups {
            for (prefix, model) in &self.extra_models {
                if *prefix == group.entry.prefix && !group.entry.models.contains(model) {
                    group.entry.models.push(model.clone());
                }
            }
        }
    }

    /// Prices, under the prefixes here.
    fn prices(&mut self) -> Vec<Price> {
        let data = self.data;
        let mut prices = Vec::new();
        if let Some(map) = data.get("pricing").and_then(Value::as_object) {
            for (provider, models) in map {
                for (model, price) in models.as_object().into_iter().flatten() {
                    let item = format!("9router price {provider}/{model}");
                    let Some(prefix) = self.prefix_of.get(provider.as_str()) else {
                        self.skipped.push(skip(
                            item,
                            self.left_out
                                .get(provider.as_str())
                                .cloned()
                                .unwrap_or_else(|| {
                                    format!("9router has no connection of {provider:?} to import")
                                }),
                        ));
                        continue;
                    };
                    let number = |key: &str| price.get(key).and_then(Value::as_f64);
                    let (Some(input), Some(output)) = (number("input"), number("output")) else {
                        self.skipped
                            .push(skip(item, "it has no input and output price"));
                        continue;
                    };
                    prices.push(Price {
                        model: format!("{prefix}/{model}"),
                        input_per_mtok: input,
                        output_per_mtok: output,
                        cache_read_per_mtok: number("cached"),
                        cache_write_per_mtok: number("cache_creation"),
                        per_image: None,
                        per_audio_second: None,
                    });
                }
            }
        }

        prices
    }

    /// The settings with a counterpart here.
    fn settings(&mut self) -> BTreeMap<String, String> {
        let settings = self.settings;
        let mut our_settings = BTreeMap::new();
        let mut no_counterpart = Vec::new();
        if let Some(map) = settings.as_object() {
            for (key, value) in map {
                match key.as_str() {
                    "fallbackStrategy" => {
                        if let Some(strategy) = value
                            .as_str()
                            .and_then(|s| account_strategy(s, self.global_sticky))
                        {
                            our_settings.insert(
                                "account_strategy".to_owned(),
                                strategy.as_str().to_owned(),
                            );
                        }
                    }
                    "stickyRoundRobinLimit" => {
                        if let Some(limit) = self.global_sticky {
                            our_settings.insert("sticky_limit".to_owned(), limit.to_string());
                        }
                    }
                    "providerStrategies" | "comboStrategy" | "comboStrategies" => {}
                    "requireApiKey" => {
                        if value.as_bool() == Some(false) {
                            self.skipped.push(skip(
                                "9router setting requireApiKey",
                                "9router let clients call without an API key; Switchyard asks for one (the imported 9router keys work; `allow_unauthenticated_loopback` lets clients on this machine skip it)",
                            ));
                        }
                    }
                    "__encrypted" => self.skipped.push(skip(
                        "9router settings",
                        "9router stored them encrypted and Switchyard cannot read them",
                    )),
                    _ => no_counterpart.push(key.clone()),
                }
            }
        }
        if !no_counterpart.is_empty() {
            self.skipped.push(skip(
                "9router settings",
                format!("no counterpart here: {}", no_counterpart.join(", ")),
            ));
        }

        our_settings
    }

    /// The keys clients send, where 9router keeps them readable.
    fn client_api_keys(&mut self) -> Vec<ClientKeyEntry> {
        let data = self.data;
        let mut client_api_keys = Vec::new();
        for key in list(data, "apiKeys") {
            let name = text(key, "name").unwrap_or("9router key").to_owned();
            let item = format!("9router API key {name}");
            if key.get("isActive").and_then(Value::as_bool) == Some(false) {
                self.skipped.push(skip(item, "it is paused in 9router"));
                continue;
            }
            match text(key, "key").filter(|key| !key.starts_with("enc")) {
                Some(secret) => client_api_keys.push(ClientKeyEntry {
                    name,
                    key: secret.to_owned(),
                }),
                None => self.skipped.push(skip(
                    item,
                    "9router does not keep it readable; create a new key with `switchyard key create`",
                )),
            }
        }

        client_api_keys
    }

    /// What has no counterpart here at all.
    fn the_rest(&mut self) {
        let data = self.data;
        let proxies = list(data, "proxyPools").len();
        if proxies > 0 {
            self.skipped.push(skip(
                format!("9router proxy pools ({proxies})"),
                "Switchyard sends requests directly (no per-account proxies)",
            ));
        }
        if data
            .get("mitmAlias")
            .and_then(Value::as_object)
            .is_some_and(|map| !map.is_empty())
        {
            self.skipped.push(skip(
                "9router MITM aliases",
                "Switchyard does not intercept other apps' traffic",
            ));
        }
    }
}

/// 9router's account strategy as ours: fill-first is priority; round-robin
/// stays on an account for `sticky` requests, which is our sticky strategy
/// (plain round-robin when that is one).
fn account_strategy(strategy: &str, sticky: Option<u64>) -> Option<AccountStrategy> {
    match strategy {
        "fill-first" => Some(AccountStrategy::Priority),
        "round-robin" if sticky.unwrap_or(3) > 1 => Some(AccountStrategy::Sticky),
        "round-robin" => Some(AccountStrategy::RoundRobin),
        _ => None,
    }
}

/// How 9router shows a connection.
fn connection_name(connection: &Value) -> String {
    let github_login = connection
        .pointer("/providerSpecificData/githubLogin")
        .and_then(Value::as_str);
    let generic = text(connection, "name").filter(|name| !is_placeholder(name));
    github_login
        .or(generic)
        .or_else(|| text(connection, "email"))
        .or_else(|| text(connection, "displayName"))
        .or_else(|| text(connection, "name"))
        .unwrap_or("account")
        .replace('/', "-")
}

/// 9router names unnamed logins "Account N".
fn is_placeholder(name: &str) -> bool {
    name.strip_prefix("Account ")
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
}

fn resolve(provider: &str, connection: &Value, nodes: &HashMap<&str, &Value>) -> Target {
    let node_type = if provider.starts_with("openai-compatible-") {
        Some(if provider.contains("-responses-") {
            ProviderKind::OpenaiResponses
        } else {
            ProviderKind::OpenaiCompatible
        })
    } else if provider.starts_with("anthropic-compatible-") {
        Some(ProviderKind::AnthropicCompatible)
    } else {
        None
    };
    if let Some(mut kind) = node_type {
        let node = nodes.get(provider).copied();
        let specific = connection.get("providerSpecificData");
        let field = |key: &str| {
            node.and_then(|node| text(node, key))
                .or_else(|| specific.and_then(|s| text(s, key)))
        };
        if kind != ProviderKind::AnthropicCompatible && field("apiType") == Some("responses") {
            kind = ProviderKind::OpenaiResponses;
        }
        let (Some(prefix), Some(base_url)) = (field("prefix"), field("baseUrl")) else {
            return Target::Unsupported(
                "its compatible provider's prefix or base URL is missing".into(),
            );
        };
        let name = field("name")
            .or_else(|| specific.and_then(|s| text(s, "nodeName")))
            .unwrap_or(prefix);
        return Target::Node {
            id: provider.to_owned(),
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            kind,
            base_url: base_url.to_owned(),
        };
    }
    match KNOWN.iter().find(|(id, _, _)| *id == provider) {
        Some((id, alias, upstream)) => Target::Upstream(id, alias, *upstream),
        None => Target::Unsupported(unsupported(provider)),
    }
}

/// A prefix (or name) not taken yet, starting from `wanted`.
fn free(wanted: &str, suffix: &str, used: &mut HashSet<String>) -> String {
    let mut candidate = wanted.to_owned();
    let mut n = 1;
    while used.contains(&candidate) {
        candidate = if n == 1 {
            format!("{wanted}{suffix}")
        } else {
            format!("{wanted}{suffix}{n}")
        };
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// The provider a 9router provider's connections go to: an installed one
/// of the same service or upstream (merged into), else a new one under
/// 9router's prefix (or a free variant of it).
fn new_group(
    target: &Target,
    installed: &[Provider],
    data_dir: &Path,
    used_prefixes: &mut HashSet<String>,
    used_names: &mut HashSet<String>,
    notes: &mut Vec<String>,
) -> Option<Group> {
    struct Wanted {
        names: Vec<String>,
        prefix: String,
        name: String,
        kind: ProviderKind,
        base_url: String,
        models: Vec<String>,
        subscription: Option<String>,
    }
    let wanted = match target {
        Target::Upstream(id, alias, Upstream::Service(service_id)) => {
            let table = ProviderTable::load(data_dir).ok()?;
            let service = &table.subscription(service_id).ok()?.service;
            Wanted {
                names: vec![(*id).to_owned(), (*alias).to_owned()],
                prefix: (*alias).to_owned(),
                name: service.name.to_owned(),
                kind: service.kind,
                base_url: service.endpoints.api_base.clone().unwrap_or_default(),
                models: service.models.iter().map(|m| (*m).to_owned()).collect(),
                subscription: Some((*service_id).to_owned()),
            }
        }
        Target::Upstream(
            id,
            alias,
            Upstream::ApiKey {
                preset,
                name,
                kind,
                base_url,
            },
        ) => {
            let preset = preset.and_then(presets::preset);
            Wanted {
                names: vec![(*id).to_owned(), (*alias).to_owned()],
                prefix: (*alias).to_owned(),
                name: preset.map_or(*name, |p| p.name).to_owned(),
                kind: *kind,
                base_url: (*base_url).to_owned(),
                models: preset
                    .map(|p| p.models.iter().map(|m| (*m).to_owned()).collect())
                    .unwrap_or_default(),
                subscription: None,
            }
        }
        Target::Node {
            id,
            name,
            prefix,
            kind,
            base_url,
        } => Wanted {
            names: vec![id.clone(), prefix.clone()],
            prefix: prefix.clone(),
            name: name.clone(),
            kind: *kind,
            base_url: base_url.trim_end_matches('/').to_owned(),
            models: Vec::new(),
            subscription: None,
        },
        Target::Unsupported(_) => return None,
    };
    // The same service, or the same upstream under 9router's prefix: merge.
    let same = installed.iter().find(|p| match &wanted.subscription {
        Some(service) => p.subscription.as_deref() == Some(service.as_str()),
        // An earlier import may have had to use a variant of the prefix.
        None => {
            (p.prefix == wanted.prefix
                || p.prefix.starts_with(&format!("{}-9router", wanted.prefix)))
                && p.subscription.is_none()
                && p.kind == wanted.kind
                && p.base_url.trim_end_matches('/') == wanted.base_url
        }
    });
    let entry = match same {
        Some(existing) => {
            let mut models = existing.models.clone();
            for model in wanted.models {
                if !models.contains(&model) {
                    models.push(model);
                }
            }
            ProviderEntry {
                name: existing.name.clone(),
                kind: existing.kind,
                prefix: existing.prefix.clone(),
                base_url: existing.base_url.clone(),
                models,
                enabled: existing.enabled,
                strategy: existing.account_strategy,
                subscription: existing.subscription.clone(),
                accounts: Vec::new(),
            }
        }
        None => {
            let valid = validate::prefix(&wanted.prefix).is_ok();
            let base = if valid {
                wanted.prefix.as_str()
            } else {
                "imported"
            };
            let prefix = free(base, "-9router", used_prefixes);
            if prefix != wanted.prefix {
                notes.push(format!(
                    "9router's prefix {:?} is taken here (or not allowed), so {} was imported as {prefix}/<model>; 9router's combos and aliases were rewritten to match",
                    wanted.prefix, wanted.name
                ));
            }
            ProviderEntry {
                name: free(&wanted.name, " (9router)", used_names),
                kind: wanted.kind,
                prefix,
                base_url: wanted.base_url,
                models: wanted.models,
                enabled: true,
                strategy: None,
                subscription: wanted.subscription,
                accounts: Vec::new(),
            }
        }
    };
    Some(Group {
        entry,
        names: wanted.names,
    })
}

/// A 9router connection as an account of `provider`, or why it cannot be one.
fn account_from(
    connection: &Value,
    target: &Target,
    provider: &ProviderEntry,
) -> Result<AccountEntry, String> {
    let mut label = connection_name(connection);
    let taken = |label: &str| provider.accounts.iter().any(|a| a.label == label);
    if taken(&label) {
        let base = label.clone();
        let mut n = 2;
        while taken(&label) {
            label = format!("{base} ({n})");
            n += 1;
        }
    }
    let specific = connection
        .get("providerSpecificData")
        .cloned()
        .unwrap_or(Value::Null);
    let email = text(connection, "email")
        .or_else(|| text(&specific, "githubEmail"))
        .map(str::to_owned);
    let oauth = text(connection, "authType") == Some("oauth");
    let service = match target {
        Target::Upstream(_, _, Upstream::Service(service)) => Some(*service),
        _ => None,
    };
    let secrets = match (service, oauth) {
        (Some(_), true) => AccountSecrets {
            access_token: Some(
                text(connection, "accessToken")
                    .ok_or("9router has no access token stored for it; log in here again")?
                    .to_owned(),
            ),
            refresh_token: text(connection, "refreshToken").map(str::to_owned),
            expires_at: connection.get("expiresAt").and_then(expiry),
            ..AccountSecrets::default()
        },
        (Some(_), false) => {
            return Err(format!(
                "a {} connection without a login cannot be used here",
                text(connection, "authType").unwrap_or("non-OAuth")
            ));
        }
        (None, false) => AccountSecrets {
            api_key: Some(
                text(connection, "apiKey")
                    .ok_or("9router has no API key stored for it")?
                    .to_owned(),
            ),
            ..AccountSecrets::default()
        },
        (None, true) => {
            return Err(
                "it signs in with OAuth, which Switchyard supports only for subscription services"
                    .into(),
            );
        }
    };
    let facts = service
        .and_then(|id| {
            ProviderTable::builtin()
                .subscription(id)
                .ok()
                .map(|s| s.api)
        })
        .map(|api| api.facts_from_9router(connection, &specific))
        .unwrap_or_default();
    let (meta, secret_meta) = (facts.meta, facts.secret_meta);
    let mut secrets = secrets;
    secrets.meta = secret_meta;
    Ok(AccountEntry {
        label,
        priority: connection
            .get("priority")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        enabled: connection.get("isActive").and_then(Value::as_bool) != Some(false),
        auth: if service.is_some() {
            AuthKind::Oauth
        } else {
            AuthKind::ApiKey
        },
        email,
        meta,
        quota_limits: Vec::new(),
        secrets: Some(secrets),
    })
}

/// 9router's `expiresAt`: an ISO time, or a number of (milli)seconds.
fn expiry(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => text
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|at| at.as_millisecond()),
        Value::Number(number) => {
            let number = number.as_i64()?;
            Some(if number < 100_000_000_000 {
                number * 1000
            } else {
                number
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_store::NewProvider;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../store/tests/fixtures/9router")
            .join(name)
    }

    fn empty() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        (dir, store)
    }

    fn reason<'a>(report: &'a TransferReport, item: &str) -> &'a str {
        report
            .skipped
            .iter()
            .find(|skipped| skipped.item == item)
            .map(|skipped| skipped.reason.as_str())
            .unwrap_or_else(|| panic!("{item} not skipped: {report:#?}"))
    }

    #[test]
    fn a_9router_db_json_maps_onto_services_presets_and_compatible_providers() {
        let (dir, store) = empty();
        let report = import_9router(&store, &fixture("db.json"), false).unwrap();

        let prefixes: Vec<_> = store
            .list_providers()
            .unwrap()
            .into_iter()
            .map(|p| (p.prefix, p.kind, p.subscription, p.base_url))
            .collect();
        let find = |prefix: &str| {
            prefixes
                .iter()
                .find(|p| p.0 == prefix)
                .unwrap_or_else(|| panic!("no {prefix} in {prefixes:?}"))
                .clone()
        };
        assert_eq!(find("cc").2.as_deref(), Some("claude-code"));
        assert_eq!(find("cx").2.as_deref(), Some("codex"));
        assert_eq!(find("gh").2.as_deref(), Some("github-copilot"));
        assert_eq!(find("gc").2.as_deref(), Some("gemini-cli"));
        assert_eq!(find("kr").2.as_deref(), Some("kiro"));
        assert_eq!(find("qw").2.as_deref(), Some("qwen"));
        assert_eq!(find("ds").3, "https://api.deepseek.com");
        assert_eq!(find("glm").1, ProviderKind::AnthropicCompatible);
        assert_eq!(find("myllm").3, "https://llm.example.com/v1");
        assert_eq!(find("claudeproxy").1, ProviderKind::AnthropicCompatible);
        assert_eq!(prefixes.len(), 11, "{prefixes:?}");

        // Secrets arrive sealed and working, with the facts requests need.
        let claude = store.find_account("cc/me@example.com").unwrap();
        assert_eq!(claude.api_key, "sk-ant-oat01-FAKE-claude-access");
        assert_eq!(
            claude.refresh_token.as_deref(),
            Some("sk-ant-ort01-FAKE-claude-refresh")
        );
        assert_eq!(claude.expires_at, Some(1_776_700_800_000));
        let codex = store.find_account("cx/me@example.com").unwrap();
        assert_eq!(codex.meta["account_id"], "acct-FAKE-0001");
        let copilot = store.find_account("gh/octo-fake").unwrap();
        assert_eq!(copilot.email.as_deref(), Some("octo@example.com"));
        assert_eq!(copilot.api_key, "gho_FAKEgithubAccessToken000000000000");
        let gemini = store.find_account("gc/me@gmail.example").unwrap();
        assert_eq!(gemini.meta["project_id"], "fake-project-123456");
        let kiro = store.find_account("kr/Account 1").unwrap();
        assert_eq!(kiro.meta["client_secret"], "FAKE-kiro-client-secret");
        assert_eq!(kiro.meta["auth_method"], "builder-id");
        assert!(!store.find_account("qw/Account 1").unwrap().enabled);
        let work = store.find_account("openai/Work").unwrap();
        assert_eq!(
            (work.api_key.as_str(), work.enabled, work.priority),
            ("sk-proj-FAKEopenaiWork0002", false, 2)
        );
        assert_eq!(
            store.find_account("myllm/Home server").unwrap().api_key,
            "sk-FAKEnode0005"
        );

        // Models listed, used or added in 9router are advertised.
        let openai = store.find_provider("openai").unwrap();
        for model in ["gpt-5", "gpt-4.1", "o3", "gpt-4.1-nano"] {
            assert!(
                openai.models.contains(&model.to_owned()),
                "{model}: {:?}",
                openai.models
            );
        }
        assert_eq!(
            store.find_provider("myllm").unwrap().models,
            ["qwen3-coder"]
        );

        // Combos and aliases are rewritten to the prefixes here.
        let coding = store.combo_by_name("coding").unwrap().unwrap();
        let targets: Vec<_> = coding.targets.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(
            targets,
            [
                "cc/claude-sonnet-4-5",
                "cx/gpt-5-codex",
                "ds/deepseek-chat",
                "myllm/qwen3-coder"
            ]
        );
        let fast = store.combo_by_name("fast").unwrap().unwrap();
        assert_eq!(fast.strategy, ComboStrategy::RoundRobin);
        assert_eq!(fast.targets.len(), 2);
        assert!(reason(&report, "target ag/gemini-3-flash of combo fast").contains("Antigravity"));
        assert!(reason(&report, "9router combo free-only").contains("none of its targets"));
        assert!(reason(&report, "9router combo voices").contains("tts"));
        assert_eq!(
            store.alias_by_name("coder").unwrap().unwrap().target,
            "myllm/qwen3-coder"
        );
        assert_eq!(
            store.alias_by_name("deep").unwrap().unwrap().target,
            "ds/deepseek-reasoner"
        );
        assert!(reason(&report, "9router alias ag-pro").contains("Antigravity"));

        // Unmapped providers and data are reported, not dropped silently.
        assert!(reason(&report, "9router connection iflow/me@example.com").contains("iFlow"));
        assert!(reason(&report, "9router connection cursor/Account 1").contains("Cursor"));
        assert!(reason(&report, "9router proxy pools (1)").contains("directly"));
        assert!(reason(&report, "9router MITM aliases").contains("intercept"));
        assert!(reason(&report, "9router custom model openai/tts-1-hd").contains("tts"));
        assert!(reason(&report, "9router price ag/gemini-3-flash").contains("Antigravity"));
        assert!(reason(&report, "9router API key old phone").contains("paused"));
        let settings = reason(&report, "9router settings");
        assert!(settings.contains("password") && !settings.contains("FAKEFAKE"));

        // Strategies, prices, and the keys clients already use.
        assert_eq!(
            store.setting("account_strategy").unwrap().as_deref(),
            Some("sticky")
        );
        assert_eq!(store.setting("sticky_limit").unwrap().as_deref(), Some("3"));
        assert_eq!(openai.account_strategy, Some(AccountStrategy::Priority));
        assert_eq!(
            store.find_provider("cc").unwrap().account_strategy,
            Some(AccountStrategy::RoundRobin)
        );
        let price = &store.list_prices().unwrap()[0];
        assert_eq!(
            (
                price.model.as_str(),
                price.input_per_mtok,
                price.cache_read_per_mtok
            ),
            ("openai/gpt-4.1", 2.5, Some(0.5))
        );
        assert!(
            store
                .verify_api_key("sk-1a2b3c4d5e6f7a8b-k3y9zq-0c0ffee0")
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .verify_api_key("sk-1a2b3c4d5e6f7a8b-oldk3y-deadbeef")
                .unwrap()
                .is_none()
        );

        // The report names things, never secrets; the database holds none in clear.
        let shown = serde_json::to_string(&report).unwrap();
        for secret in [
            "FAKE-claude-access",
            "FAKEopenai",
            "FAKE-kiro-client-secret",
            "k3y9zq",
        ] {
            assert!(!shown.contains(secret), "{secret} in the report");
        }
        drop(store);
        let bytes = std::fs::read(dir.path().join(switchyard_store::DATABASE_FILE)).unwrap();
        let stored = String::from_utf8_lossy(&bytes);
        for secret in [
            "FAKE-claude-access",
            "FAKEopenaiWork",
            "FAKE-kiro-client-secret",
            "k3y9zq",
        ] {
            assert!(!stored.contains(secret), "{secret} stored in clear");
        }
    }

    #[test]
    fn a_second_import_merges_and_existing_providers_are_respected() {
        let (_dir, mut store) = empty();
        // Someone's own "openai" prefix pointing elsewhere, and a name clash.
        store
            .add_provider(&NewProvider {
                name: "DeepSeek".into(),
                kind: ProviderKind::OpenaiCompatible,
                prefix: "openai".into(),
                base_url: "https://proxy.example/v1".into(),
                api_key: "sk-mine".into(),
                models: vec![],
                enabled: true,
            })
            .unwrap();
        let first = import_9router(&store, &fixture("db.json"), false).unwrap();
        assert!(
            first
                .notes
                .iter()
                .any(|note| note.contains("openai-9router")),
            "{first:#?}"
        );
        assert_eq!(
            store.find_provider("openai").unwrap().base_url,
            "https://proxy.example/v1"
        );
        assert_eq!(
            store.find_provider("DeepSeek (9router)").unwrap().prefix,
            "ds"
        );
        assert_eq!(
            store.combo_by_name("coding").unwrap().unwrap().targets[2].target,
            "ds/deepseek-chat"
        );

        let again = import_9router(&store, &fixture("db.json"), false).unwrap();
        assert!(again.added.is_empty(), "{:#?}", again.added);
        assert!(
            again
                .updated
                .contains(&"account cc/me@example.com".to_owned())
        );
        assert!(again.skipped.iter().any(|s| s.item == "API key laptop"));
    }

    #[test]
    fn a_9router_sqlite_database_imports_and_dry_runs_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data.sqlite");
        build_9router_sqlite(&db);
        let (_store_dir, store) = empty();
        let dry = import_9router(&store, &db, true).unwrap();
        assert!(dry.dry_run && dry.added.contains(&"account cc/me@example.com".to_owned()));
        assert!(store.list_providers().unwrap().is_empty());

        let report = import_9router(&store, &db, false).unwrap();
        let node = store.find_provider("myllm").unwrap();
        assert_eq!(node.kind, ProviderKind::OpenaiResponses);
        assert_eq!(node.models, ["qwen3-coder-big", "qwen3-coder"]);
        assert!(!store.find_account("openai/Personal").unwrap().enabled);
        assert!(reason(&report, "9router connection deepseek/Locked").contains("encrypted"));
        assert_eq!(store.setting("sticky_limit").unwrap().as_deref(), Some("2"));
        assert!(
            store
                .verify_api_key("sk-1a2b3c4d5e6f7a8b-sqlk3y-0badf00d")
                .unwrap()
                .is_some()
        );
    }

    /// Builds 9router's SQLite database from the fixture's statements.
    fn build_9router_sqlite(path: &Path) {
        let sql = std::fs::read_to_string(fixture("data.sqlite.sql")).unwrap();
        rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(&sql)
            .unwrap();
    }

    #[test]
    fn documents_follow_the_rules_users_input_follows() {
        let (_dir, store) = empty();
        let bad_prefix = r#"{"format": "switchyard-config", "version": 1, "providers": [{"name": "A", "kind": "openai_compatible", "prefix": "a b", "base_url": "https://a.example"}]}"#;
        let error = import_config(&store, bad_prefix, false).unwrap_err();
        assert!(error.to_string().contains("prefix"), "{error}");
        let bad_setting =
            r#"{"format": "switchyard-config", "version": 1, "settings": {"port": "seventy"}}"#;
        assert!(
            import_config(&store, bad_setting, false)
                .unwrap_err()
                .to_string()
                .contains("port")
        );
        let future_setting = r#"{"format": "switchyard-config", "version": 1, "settings": {"colour": "blue", "port": "3000"}}"#;
        let report = import_config(&store, future_setting, false).unwrap();
        assert_eq!(report.skipped[0].item, "setting colour");
        assert_eq!(store.setting("port").unwrap().as_deref(), Some("3000"));
        assert!(
            export_config(&store, false)
                .unwrap()
                .contains("\"port\": \"3000\"")
        );
    }
}
