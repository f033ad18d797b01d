//! The headless `switchyard` binary: runs the gateway (`serve`) and manages
//! providers, API keys, settings and usage from the command line. It links no
//! GUI library, so it runs on servers.

mod connect;
mod dashboard;
mod database;
mod routing;
mod setup;
mod sync;
mod transfer;
mod usage;

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use switchyard_config::settings::{
    DATA_DIR_ENV, HOST_ENV, ListenAddress, PORT_ENV, SettingKey, Settings, endpoint_url,
};
use switchyard_config::{presets, validate};
use switchyard_store::{NewProvider, ProviderKind, Store};

/// mimalloc: a request makes a few hundred small allocations, which it
/// serves faster than glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Switchyard: one local endpoint for all your AI providers.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    /// Directory holding the database [default: the platform's data directory]
    #[arg(long, global = true, env = DATA_DIR_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Use this PostgreSQL database (postgres://user:password@host/db)
    /// instead of the SQLite file in the data directory: replicas and the
    /// CLI on one database share everything
    #[arg(long, global = true, env = switchyard_store::DATABASE_URL_ENV, hide_env_values = true, value_name = "URL")]
    database: Option<String>,
    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    json: bool,
    /// Manage the Switchyard server at this URL (`call` and `dashboard
    /// log|token`) instead of the local data directory
    #[arg(long, global = true, env = "SWITCHYARD_REMOTE", value_name = "URL")]
    remote: Option<String>,
    /// The management token for --remote (made with `dashboard token create`)
    #[arg(long, global = true, env = "SWITCHYARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway until interrupted (Ctrl-C or SIGTERM)
    Serve(ServeArgs),
    /// Manage provider connections
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Manage the API keys clients use to call the gateway
    #[command(subcommand)]
    Key(KeyCommand),
    /// Log in to a subscription (Claude Code, Codex, GitHub Copilot, Qwen)
    Connect(connect::ConnectArgs),
    /// Manage the accounts (keys) of providers: several per provider
    #[command(subcommand)]
    Account(routing::AccountCommand),
    /// Manage combos: model names that try several targets
    #[command(subcommand)]
    Combo(routing::ComboCommand),
    /// Manage aliases: short model names for a target or combo
    #[command(subcommand)]
    Alias(routing::AliasCommand),
    /// Show or set model prices (USD per million tokens)
    #[command(subcommand)]
    Price(routing::PriceCommand),
    /// Set quota limits per account and show quota windows
    #[command(subcommand)]
    Quota(routing::QuotaCommand),
    /// Show usage and cost, in total or by provider, model, account, key or combo
    Usage(usage::UsageArgs),
    /// Show recent requests with the path each took
    Log(usage::LogArgs),
    /// Show or change settings
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Point coding tools (Claude Code, Codex, Gemini CLI, ...) at the gateway
    Setup(setup::SetupArgs),
    /// Import providers, accounts, combos and aliases from a 9router installation
    #[command(name = "import-9router")]
    Import9router(transfer::NineRouterArgs),
    /// The dashboard `serve` offers in a browser: its password, sign-in
    /// links, management tokens and the record of management calls
    #[command(subcommand)]
    Dashboard(dashboard::DashboardCommand),
    /// Run one management operation (as the dashboard does), locally or
    /// on the `--remote` server; answers JSON
    Call(dashboard::CallArgs),
    /// Exit 0 when the gateway on this machine answers (a container's
    /// health check)
    Health(dashboard::HealthArgs),
    /// Turn `/metrics` (Prometheus text format) on with a new token, or off
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Sync providers, accounts, combos and settings across your devices through a hub you own
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    /// The database: which one, and copying an installation between
    /// SQLite and PostgreSQL
    #[command(subcommand)]
    Db(database::DbCommand),
    /// Webhooks: signed events (budgets, logins, quotas, fallbacks,
    /// breakers, paused keys) posted as JSON, to Slack or to Discord
    #[command(subcommand)]
    Webhook(dashboard::WebhookCommand),
}

#[derive(Debug, Subcommand)]
enum MetricsCommand {
    /// Make a new metrics token (the previous one stops working) and print it
    Enable,
    /// Turn /metrics off
    Disable,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to bind [default: setting `host`, else 127.0.0.1]
    #[arg(long, env = HOST_ENV)]
    host: Option<String>,
    /// Port to bind [default: setting `port`, else 20128]
    #[arg(long, env = PORT_ENV)]
    port: Option<u16>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key)
    #[arg(
        long,
        env = "SWITCHYARD_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(
        long,
        env = "SWITCHYARD_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    tls_key: Option<PathBuf>,
    /// Do not serve the dashboard and its management API
    #[arg(long)]
    no_dashboard: bool,
}

#[derive(Debug, Subcommand)]
enum ProviderCommand {
    /// Add a provider reached with an API key (OpenAI- or Anthropic-compatible)
    Add(ProviderAddArgs),
    /// List provider connections
    List,
    /// Enable a provider (by name or prefix)
    Enable { name: String },
    /// Disable a provider (by name or prefix)
    Disable { name: String },
    /// Remove a provider (by name or prefix); its request history stays
    Remove { name: String },
    /// List the built-in providers `add --preset` knows
    Presets,
    /// Replace a provider's model list with what its models endpoint reports
    RefreshModels { name: String },
    /// How the provider picks among its accounts: priority, round-robin,
    /// sticky, or default (the account_strategy setting)
    Strategy { name: String, strategy: String },
}

#[derive(Debug, Args)]
struct ProviderAddArgs {
    /// Start from a built-in provider's defaults (see `provider presets`)
    #[arg(long)]
    preset: Option<String>,
    /// Display name, unique [default: the preset's]
    #[arg(long)]
    name: Option<String>,
    /// Model prefix, unique: clients ask for `<prefix>/<model>` [default: the preset's]
    #[arg(long)]
    prefix: Option<String>,
    /// Wire format of the API [default: the preset's, else openai]
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Base URL of the API, e.g. https://api.openai.com/v1 [default: the preset's]
    #[arg(long)]
    base_url: Option<String>,
    /// Upstream API key (prefer the environment variable or --api-key-stdin:
    /// arguments are visible to other users of this machine)
    #[arg(long, env = "SWITCHYARD_PROVIDER_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Read the upstream API key from standard input
    #[arg(long, conflicts_with = "api_key")]
    api_key_stdin: bool,
    /// A model id to list in /v1/models (repeat for several) [default: the preset's]
    #[arg(long = "model", value_name = "MODEL")]
    models: Vec<String>,
    /// Add the provider disabled
    #[arg(long)]
    disabled: bool,
}

/// Wire formats a provider can speak.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum KindArg {
    /// OpenAI Chat Completions (`/chat/completions`, Bearer key)
    Openai,
    /// Anthropic Messages (`/messages`, `x-api-key`)
    Anthropic,
    /// Google Gemini (`/models/{model}:generateContent`, `x-goog-api-key`)
    Gemini,
    /// OpenAI Responses (`/responses`, Bearer key)
    Responses,
}

impl From<KindArg> for ProviderKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Openai => ProviderKind::OpenaiCompatible,
            KindArg::Anthropic => ProviderKind::AnthropicCompatible,
            KindArg::Gemini => ProviderKind::Gemini,
            KindArg::Responses => ProviderKind::OpenaiResponses,
        }
    }
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create a key and print it (it is shown only once)
    Create {
        /// A label to recognise the key by
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List keys (never the keys themselves)
    List,
    /// Revoke a key by id
    Revoke { id: i64 },
    /// Pause a key: requests with it are refused (as paused) until resumed
    Pause { id: i64 },
    /// Resume a paused key
    Resume { id: i64 },
    /// Set a key's owner, expiry and allowed models (replacing them)
    Policy(KeyPolicyArgs),
    /// Set a key's budgets and rate limits (replacing them; leave one out
    /// for no limit)
    Limits(KeyLimitsArgs),
}

#[derive(Debug, Args)]
struct KeyLimitsArgs {
    /// The key's id
    id: i64,
    /// USD per UTC day
    #[arg(long)]
    day: Option<f64>,
    /// USD per ISO week (from Monday, UTC)
    #[arg(long)]
    week: Option<f64>,
    /// USD per calendar month (UTC)
    #[arg(long)]
    month: Option<f64>,
    /// Percent of a budget at which a warning goes out
    #[arg(long)]
    warn: Option<u32>,
    /// Requests per minute
    #[arg(long)]
    rpm: Option<u32>,
    /// Tokens (prompt and completion) per minute
    #[arg(long)]
    tpm: Option<u64>,
}

#[derive(Debug, Args)]
struct KeyPolicyArgs {
    /// The key's id
    id: i64,
    /// Who it was given to
    #[arg(long)]
    owner: Option<String>,
    /// When it stops working: a duration from now (30d) or a date/time
    /// (2027-01-31, 2027-01-31T18:00:00Z) [default: never]
    #[arg(long)]
    expires: Option<String>,
    /// A model it may use: a name (glm/glm-4.6), a combo, an alias, or a
    /// prefix ending in * (glm/*); repeat for several [default: every model]
    #[arg(long = "model", value_name = "PATTERN")]
    models: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// List every setting with its value
    List,
    /// Print one setting
    Get { key: String },
    /// Change a setting (takes effect at the next `serve` for host and port)
    Set { key: String, value: String },
    /// Return a setting to its default
    Unset { key: String },
    /// Write the whole configuration as JSON (secrets only with --with-secrets)
    Export(transfer::ExportArgs),
    /// Merge a configuration written by `config export` into this one
    Import(transfer::ImportArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => switchyard_gateway::default_data_dir()
            .context("cannot find a data directory; pass --data-dir")?,
    };
    let output = Output { json: cli.json };
    let database = match cli.database.clone() {
        Some(url) => Some(url),
        // A container secret holding the address (and its password).
        None => match std::env::var_os("SWITCHYARD_DATABASE_URL_FILE") {
            Some(path) => Some(
                std::fs::read_to_string(&path)
                    .with_context(|| {
                        format!(
                            "SWITCHYARD_DATABASE_URL_FILE: cannot read {}",
                            std::path::Path::new(&path).display()
                        )
                    })?
                    .trim()
                    .to_owned(),
            ),
            None => None,
        },
    };
    switchyard_store::select_database(database);
    if let Some(url) = &cli.remote {
        let remote = dashboard::Remote::new(url, cli.token.as_deref())?;
        return match cli.command {
            Command::Call(args) => dashboard::call_remote(&remote, args),
            Command::Dashboard(command) => dashboard::remote(&remote, command, output),
            Command::Webhook(command) => {
                dashboard::webhook(&data_dir, Some(&remote), command, output)
            }
            _ => bail!(
                "--remote manages a server through its management API: use `switchyard call <operation>` \
                 (see `switchyard call --list`), `switchyard webhook ...` or `switchyard dashboard log|token ...`"
            ),
        };
    }
    match cli.command {
        Command::Serve(args) => serve(&data_dir, args),
        Command::Provider(command) => provider(&mut open_store(&data_dir)?, command, output),
        Command::Key(command) => key(&open_store(&data_dir)?, &data_dir, command, output),
        Command::Connect(args) => {
            connect::connect(&open_store(&data_dir)?, &data_dir, args, output)
        }
        Command::Account(command) => routing::account(&open_store(&data_dir)?, command, output),
        Command::Combo(command) => routing::combo(&open_store(&data_dir)?, command, output),
        Command::Alias(command) => routing::alias(&open_store(&data_dir)?, command, output),
        Command::Price(command) => routing::price(&open_store(&data_dir)?, command, output),
        Command::Quota(command) => {
            routing::quota(&open_store(&data_dir)?, &data_dir, command, output)
        }
        Command::Usage(args) => usage::usage(&open_store(&data_dir)?, args, output),
        Command::Log(args) => usage::log(&open_store(&data_dir)?, args, output),
        Command::Config(command) => config(&open_store(&data_dir)?, command, output),
        Command::Setup(args) => setup::setup(&data_dir, args, output),
        Command::Import9router(args) => {
            transfer::import_9router(&open_store(&data_dir)?, args, output)
        }
        Command::Dashboard(command) => dashboard::local(&data_dir, command, output),
        Command::Call(args) => dashboard::call_local(&data_dir, args),
        Command::Health(args) => dashboard::health(&data_dir, args),
        Command::Webhook(command) => dashboard::webhook(&data_dir, None, command, output),
        Command::Db(command) => database::db(&data_dir, command, output),
        Command::Sync(command) => sync::sync(&data_dir, command, output),
        Command::Metrics(command) => {
            let enabled = matches!(command, MetricsCommand::Enable);
            let answer = dashboard::call_value(
                &data_dir,
                switchyard_api_types::Operation::SetMetricsToken { enabled },
            )?;
            output.print(&answer, || match answer.as_str() {
                Some(token) => format!(
                    "{token}\n(shown only once; Prometheus sends it as 'Authorization: Bearer <token>' to /metrics)"
                ),
                None => "/metrics is off".into(),
            })
        }
    }
}

pub(crate) fn open_store(data_dir: &std::path::Path) -> Result<Store> {
    Store::open_in_dir(data_dir).with_context(|| match switchyard_store::selected_database() {
        Some(url) => format!(
            "cannot open the database {}",
            switchyard_store::describe_url(&url)
        ),
        None => format!("cannot open the database in {}", data_dir.display()),
    })
}

fn serve(data_dir: &std::path::Path, args: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut store = open_store(data_dir)?;
    let settings = Settings::load(&store)?;
    let address = ListenAddress {
        host: args.host,
        port: args.port,
    }
    .resolve(&settings)
    .map_err(anyhow::Error::msg)?;
    let has_keys = store
        .list_api_keys()?
        .iter()
        .any(|key| key.revoked_at.is_none());
    if !args.no_dashboard {
        dashboard::password_from_environment(&mut store)?;
    }
    let password_set = store.dashboard_password_hash()?.is_some();
    drop(store);
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(switchyard_gateway::TlsFiles { cert, key }),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };

    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let manager = std::sync::Arc::new(
            switchyard_manage::Manager::new(
                data_dir,
                address,
                switchyard_api_types::HostKind::Server,
                Store::open_in_dir(data_dir).map_err(|error| error.to_string()),
                switchyard_api_types::GatewayState::Running,
            )
            .with_version(env!("CARGO_PKG_VERSION")),
        );
        // Sync: this server is a hub for the devices linked to it, and
        // itself a device when linked to another hub.
        let sync = manager
            .sync_client()
            .map_err(|error| anyhow::anyhow!(error.message))?;
        let hub = switchyard_sync::hub::router(data_dir).context("cannot serve the sync hub")?;
        let extra_routes = if args.no_dashboard {
            hub
        } else {
            switchyard_dashboard::router(
                std::sync::Arc::clone(&manager),
                switchyard_dashboard::DashboardOptions { tls: tls.is_some() },
            )
            .merge(hub)
        };
        let serving = switchyard_gateway::Serving {
            extra_routes: Some(extra_routes),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            tls,
            refresh_coordinator: Some(std::sync::Arc::new(switchyard_sync::HubLease(
                std::sync::Arc::clone(&sync),
            ))),
        };
        let mut gateway = switchyard_gateway::start_serving(
            data_dir,
            address,
            switchyard_providers::ProviderTable::for_data_dir(data_dir),
            serving,
        )
        .await?;
        sync.spawn();
        let mut sync_events = sync.subscribe();
        let publisher = std::sync::Arc::clone(&manager);
        tokio::spawn(async move {
            use switchyard_sync::SyncEvent;
            loop {
                match sync_events.recv().await {
                    Ok(SyncEvent::Conflict { open }) => {
                        eprintln!("sync: concurrent edits; {open} open conflict(s): `switchyard sync conflicts`");
                        publisher.publish("sync-conflict", open);
                    }
                    Ok(SyncEvent::Revoked) => {
                        eprintln!("sync: this server was revoked by its hub; link it again to keep syncing");
                        publisher.publish("sync-revoked", ());
                    }
                    Ok(SyncEvent::Changed) => publisher.publish("state-changed", ()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let local = gateway.local_addr();
        let url = endpoint_url(local).replacen("http", scheme, 1);
        println!("Switchyard gateway listening on {url}");
        println!("data directory: {}", data_dir.display());
        if let Some(url) = switchyard_store::selected_database() {
            println!("database: {}", switchyard_store::describe_url(&url));
        }
        if !has_keys && !settings.allow_unauthenticated_loopback {
            println!(
                "no API key yet: create one with `switchyard key create` and send it as 'Authorization: Bearer <key>'"
            );
        }
        if !args.no_dashboard {
            let base = dashboard::base_url(scheme, local);
            println!("dashboard: {base}/dashboard/");
            if !password_set {
                let token = manager.with_store(|store| {
                    store
                        .create_signin_link(dashboard::SIGNIN_LINK_LIFETIME_MS)
                        .map_err(switchyard_manage::store_error)
                });
                match token {
                    Ok(token) => println!(
                        "no dashboard password yet: sign in once with {base}{}?token={token}\n  (valid 24 hours, once), then set one in Settings or with `switchyard dashboard password`",
                        switchyard_dashboard::SIGNIN_PATH
                    ),
                    Err(error) => eprintln!("cannot make a sign-in link: {}", error.message),
                }
            }
            let recorded = gateway.recorded();
            let publisher = std::sync::Arc::clone(&manager);
            tokio::spawn(async move {
                let mut recorded = recorded;
                while recorded.changed().await.is_ok() {
                    let count = *recorded.borrow_and_update();
                    publisher.publish("requests-recorded", count);
                }
            });
            // On a shared database, changes made through other replicas or
            // the CLI reach this replica's browsers too (the change feed's
            // counter: no query).
            if switchyard_store::selected_database().is_some() {
                let publisher = std::sync::Arc::clone(&manager);
                tokio::spawn(async move {
                    let version = || {
                        publisher
                            .with_store(|store| {
                                store.data_version().map_err(switchyard_manage::store_error)
                            })
                            .ok()
                    };
                    let mut seen = version();
                    let mut every = tokio::time::interval(std::time::Duration::from_millis(500));
                    loop {
                        every.tick().await;
                        let now = version();
                        if now != seen {
                            seen = now;
                            publisher.publish("state-changed", ());
                        }
                    }
                });
            }
        }
        tokio::select! {
            result = gateway.wait() => {
                result.context("the gateway stopped unexpectedly")?;
            }
            () = shutdown_signal() => {
                eprintln!("shutting down: finishing open requests and writing usage");
                gateway.shutdown().await;
            }
        }
        Ok(())
    })
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// An upstream API key from the flag or environment, or standard input.
pub(crate) fn read_secret(api_key: Option<String>, from_stdin: bool) -> Result<String> {
    let api_key = match (api_key, from_stdin) {
        (Some(key), _) => key,
        (None, true) => {
            let mut key = String::new();
            std::io::stdin()
                .read_to_string(&mut key)
                .context("cannot read the API key from standard input")?;
            key.trim().to_owned()
        }
        (None, false) => bail!(
            "the provider's API key is missing: pass --api-key-stdin, set SWITCHYARD_PROVIDER_API_KEY, or pass --api-key"
        ),
    };
    if api_key.is_empty() {
        bail!("the provider's API key is empty");
    }
    Ok(api_key)
}

/// A Unix-millisecond time as UTC, to the second.
pub(crate) fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|time| time.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

fn provider(store: &mut Store, command: ProviderCommand, output: Output) -> Result<()> {
    match command {
        ProviderCommand::Add(args) => {
            let api_key = read_secret(args.api_key, args.api_key_stdin)?;
            let preset = match &args.preset {
                Some(id) => Some(presets::preset(id).with_context(|| {
                    format!("no preset {id:?}; see `switchyard provider presets`")
                })?),
                None => None,
            };
            let name = args
                .name
                .or_else(|| preset.map(|p| p.name.to_owned()))
                .context("--name is required without --preset")?;
            let prefix = args
                .prefix
                .or_else(|| preset.map(|p| p.prefix.to_owned()))
                .context("--prefix is required without --preset")?;
            let base_url = args
                .base_url
                .or_else(|| preset.map(|p| p.base_url.to_owned()))
                .context("--base-url is required without --preset")?;
            let kind = match (args.kind, preset) {
                (Some(kind), _) => kind.into(),
                (None, Some(preset)) => preset.kind,
                (None, None) => ProviderKind::OpenaiCompatible,
            };
            let models = if args.models.is_empty() {
                preset.map_or_else(Vec::new, |p| {
                    p.models.iter().map(|m| (*m).to_owned()).collect()
                })
            } else {
                args.models
            };
            validate::prefix(&prefix).map_err(anyhow::Error::msg)?;
            let base_url = validate::base_url(&base_url).map_err(anyhow::Error::msg)?;
            let provider = store.add_provider(&NewProvider {
                name: name.trim().to_owned(),
                kind,
                prefix,
                base_url,
                api_key,
                models,
                enabled: !args.disabled,
            })?;
            output.print(&provider, || {
                format!(
                    "added provider {:?}: models are addressed as {}/<model>",
                    provider.name, provider.prefix
                )
            })
        }
        ProviderCommand::List => {
            let providers = store.list_providers()?;
            output.print(&providers, || {
                if providers.is_empty() {
                    return "no providers yet: add one with `switchyard provider add`".into();
                }
                let mut text = format!(
                    "{:<20} {:<12} {:<21} {:<8} {:<40} MODELS",
                    "NAME", "PREFIX", "KIND", "ENABLED", "BASE URL"
                );
                for provider in &providers {
                    text.push_str(&format!(
                        "\n{:<20} {:<12} {:<21} {:<8} {:<40} {}",
                        provider.name,
                        provider.prefix,
                        provider.kind.as_str(),
                        if provider.enabled { "yes" } else { "no" },
                        provider.base_url,
                        provider.models.join(",")
                    ));
                }
                text
            })
        }
        ProviderCommand::Enable { name } => {
            let provider = store.set_provider_enabled(&name, true)?;
            output.print(&provider, || format!("enabled {:?}", provider.name))
        }
        ProviderCommand::Disable { name } => {
            let provider = store.set_provider_enabled(&name, false)?;
            output.print(&provider, || format!("disabled {:?}", provider.name))
        }
        ProviderCommand::Remove { name } => {
            let provider = store.remove_provider(&name)?;
            output.print(&provider, || format!("removed {:?}", provider.name))
        }
        ProviderCommand::Presets => output.print(&presets::PRESETS, || {
            let mut text = format!(
                "{:<12} {:<20} {:<21} {:<12} BASE URL",
                "PRESET", "NAME", "KIND", "PREFIX"
            );
            for preset in presets::PRESETS {
                text.push_str(&format!(
                    "\n{:<12} {:<20} {:<21} {:<12} {}",
                    preset.id,
                    preset.name,
                    preset.kind.as_str(),
                    preset.prefix,
                    preset.base_url
                ));
            }
            text
        }),
        ProviderCommand::RefreshModels { name } => {
            let provider = store.find_provider(&name)?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let http = switchyard_providers::tls::http_client()
                .connect_timeout(std::time::Duration::from_secs(10))
                .timeout(std::time::Duration::from_secs(30))
                .build()?;
            let account = store
                .accounts_of(provider.id)?
                .into_iter()
                .find(|account| account.enabled)
                .context("the provider has no enabled account to ask with")?;
            let models =
                runtime.block_on(presets::fetch_models(&http, &provider, &account.api_key))?;
            let provider = store.set_provider_models(&provider.name, &models)?;
            output.print(&provider, || {
                format!(
                    "{:?} now lists {} models: {}",
                    provider.name,
                    models.len(),
                    models.join(", ")
                )
            })
        }
        ProviderCommand::Strategy { name, strategy } => {
            routing::set_provider_strategy(store, &name, &strategy, output)
        }
    }
}

fn key(
    store: &Store,
    data_dir: &std::path::Path,
    command: KeyCommand,
    output: Output,
) -> Result<()> {
    match command {
        KeyCommand::Create { name } => {
            let created = store.create_api_key(&name)?;
            output.print(&created, || {
                format!(
                    "{}\n(key {} {:?}: shown only this once; clients send it as 'Authorization: Bearer <key>')",
                    created.key, created.info.id, created.info.name
                )
            })
        }
        KeyCommand::List => {
            let keys = switchyard_manage::views::list_api_keys(store)
                .map_err(|error| anyhow::anyhow!(error.message))?;
            output.print(&keys, || {
                if keys.is_empty() {
                    return "no API keys yet: create one with `switchyard key create`".into();
                }
                let now = switchyard_store::now_millis();
                let mut text = format!(
                    "{:<5} {:<20} {:<14} {:<8} {:<12} MODELS",
                    "ID", "NAME", "KEY", "STATUS", "OWNER"
                );
                for key in &keys {
                    let status = if key.revoked {
                        "revoked"
                    } else if key.paused {
                        "paused"
                    } else if key.expires_at.is_some_and(|at| at <= now) {
                        "expired"
                    } else {
                        "active"
                    };
                    let models = if key.allowed_models.is_empty() {
                        "all".to_owned()
                    } else {
                        key.allowed_models.join(",")
                    };
                    let expiry = key
                        .expires_at
                        .filter(|_| status == "active")
                        .map_or(String::new(), |at| format!(" (until {})", when(at)));
                    text.push_str(&format!(
                        "\n{:<5} {:<20} {:<14} {:<8} {:<12} {models}{expiry}",
                        key.id,
                        key.name,
                        key.hint,
                        status,
                        key.owner.as_deref().unwrap_or("-"),
                    ));
                    for budget in &key.budgets {
                        text.push_str(&format!(
                            "\n      budget per {}: ${:.4} of ${:.2} spent, resets {}",
                            budget.window,
                            budget.spent_usd,
                            budget.limit_usd,
                            when(budget.resets_at)
                        ));
                    }
                    if let Some(rpm) = key.limits.requests_per_minute {
                        text.push_str(&format!("\n      {rpm} requests per minute"));
                    }
                    if let Some(tpm) = key.limits.tokens_per_minute {
                        text.push_str(&format!("\n      {tpm} tokens per minute"));
                    }
                }
                text
            })
        }
        KeyCommand::Revoke { id } => {
            store.revoke_api_key(id)?;
            output.print(&serde_json::json!({ "revoked": id }), || {
                format!("revoked key {id}")
            })
        }
        KeyCommand::Pause { id } | KeyCommand::Resume { id } => {
            let paused = matches!(command, KeyCommand::Pause { .. });
            // Through the manager: a pause is recorded and sent to webhooks.
            dashboard::call_value(
                data_dir,
                switchyard_api_types::Operation::SetApiKeyPaused { id, paused },
            )?;
            output.print(&serde_json::json!({ "id": id, "paused": paused }), || {
                format!("key {id} {}", if paused { "paused" } else { "resumed" })
            })
        }
        KeyCommand::Limits(args) => {
            let limits = switchyard_api_types::KeyLimitsView {
                budget_day_usd: args.day,
                budget_week_usd: args.week,
                budget_month_usd: args.month,
                budget_warn_percent: args.warn,
                requests_per_minute: args.rpm,
                tokens_per_minute: args.tpm,
            };
            switchyard_manage::views::set_api_key_limits(store, args.id, &limits)
                .map_err(|error| anyhow::anyhow!(error.message))?;
            output.print(&limits, || format!("key {}: limits set", args.id))
        }
        KeyCommand::Policy(args) => {
            let expires_at = match args.expires.as_deref() {
                None | Some("never") => None,
                Some(text) => Some(usage::parse_expiry(text)?),
            };
            let note = switchyard_manage::views::set_api_key_policy(
                store,
                args.id,
                args.owner.as_deref(),
                expires_at,
                &args.models,
            )
            .map_err(|error| anyhow::anyhow!(error.message))?;
            output.print(
                &serde_json::json!({
                    "id": args.id, "owner": args.owner, "expires_at": expires_at,
                    "allowed_models": args.models, "note": note,
                }),
                || format!("key {}: {note}", args.id),
            )
        }
    }
}

fn config(store: &Store, command: ConfigCommand, output: Output) -> Result<()> {
    match command {
        ConfigCommand::List => {
            let settings = Settings::load(store)?;
            let address = ListenAddress::default()
                .resolve(&settings)
                .map_err(anyhow::Error::msg)?;
            let mut values = serde_json::Map::new();
            let mut text = Vec::new();
            for key in SettingKey::ALL {
                let stored = store.setting(key.name())?;
                let shown = match (key, &stored) {
                    (SettingKey::Host, None) => address.ip().to_string(),
                    (SettingKey::Port, None) => address.port().to_string(),
                    (_, Some(value)) => value.clone(),
                    (_, None) => "(default)".to_owned(),
                };
                text.push(format!("{} = {shown}", key.name()));
                let value = match key {
                    SettingKey::Port => serde_json::json!(address.port()),
                    _ => serde_json::Value::String(shown),
                };
                values.insert(key.name().to_owned(), value);
            }
            output.print(&values, || text.join("\n"))
        }
        ConfigCommand::Get { key } => {
            let key = SettingKey::parse(&key).map_err(anyhow::Error::msg)?;
            let value = store.setting(key.name())?;
            output.print(&serde_json::json!({ key.name(): value }), || {
                value.clone().unwrap_or_else(|| "(default)".into())
            })
        }
        ConfigCommand::Set { key, value } => {
            let key = SettingKey::parse(&key).map_err(anyhow::Error::msg)?;
            let value = key.normalize(&value).map_err(anyhow::Error::msg)?;
            store.set_setting(key.name(), &value)?;
            output.print(&serde_json::json!({ key.name(): value }), || {
                format!("{} = {value}", key.name())
            })
        }
        ConfigCommand::Unset { key } => {
            let key = SettingKey::parse(&key).map_err(anyhow::Error::msg)?;
            store.unset_setting(key.name())?;
            output.print(&serde_json::json!({ key.name(): null }), || {
                format!("{} is back to its default", key.name())
            })
        }
        ConfigCommand::Export(args) => transfer::export(store, args, output),
        ConfigCommand::Import(args) => transfer::import(store, args, output),
    }
}

/// Prints results as text or JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn print<T: Serialize>(
        self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<()> {
        use std::io::Write;
        let printed = if self.json {
            serde_json::to_string_pretty(value)?
        } else {
            text()
        };
        match writeln!(std::io::stdout().lock(), "{printed}") {
            // A reader that stopped early (`| head`) is not an error.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            result => Ok(result?),
        }
    }
}
