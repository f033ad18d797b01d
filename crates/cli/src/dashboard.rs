//! `switchyard dashboard ...` and `switchyard call`: the dashboard
//! password, sign-in links, management tokens and the record of management
//! calls. Everything but `dashboard link` is a management operation, run
//! here against the data directory or, with `--remote`, on a server through
//! its management API: the same operation, the same output.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use switchyard_api_types::{
    CommandError, CreatedManagementToken, GatewayState, HostKind, ManagementEntryView,
    ManagementTokenView, Operation,
};
use switchyard_config::settings::{ListenAddress, Settings};
use switchyard_manage::{Actor, Manager};
use switchyard_store::Store;

use crate::Output;

/// How long a sign-in link printed at start stays valid.
pub(crate) const SIGNIN_LINK_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Subcommand)]
pub(crate) enum DashboardCommand {
    /// Set the dashboard password, read from standard input (at least 10
    /// characters); everybody signed in is signed out
    Password,
    /// Print a new one-time sign-in link (the previous one stops working)
    Link,
    /// Management tokens, for `switchyard --remote URL --token ...`
    #[command(subcommand)]
    Token(TokenCommand),
    /// People who sign in by name: admins, and members who manage only
    /// their own API keys and see only their usage (team mode)
    #[command(subcommand)]
    User(UserCommand),
    /// Show the record of management calls (who, what, when), newest first
    Log {
        /// How many
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user, or change one's password or role; the password is read
    /// from standard input (at least 10 characters)
    Add {
        /// Their name (they sign in with it)
        name: String,
        /// admin or member
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// List users and their roles
    List,
    /// Remove a user (their sessions end)
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print it (it is shown only once)
    Create {
        /// A name to recognise it by in the record
        name: String,
    },
    /// List tokens (never the tokens themselves)
    List,
    /// Revoke a token by id
    Revoke { id: i64 },
}

#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// The operation, such as `list_providers` (see --list)
    operation: Option<String>,
    /// Its arguments as a JSON object, such as '{"name": "work"}'
    args: Option<String>,
    /// List the operations
    #[arg(long)]
    list: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Add a webhook and print its signing secret (shown only once)
    Add {
        /// Where events are posted (http:// or https://)
        url: String,
        /// json, slack or discord
        #[arg(long, default_value = "json")]
        format: String,
        /// An event it wants (repeat for several) [default: all]: budget_warning,
        /// budget_exhausted, account_needs_login, quota_nearly_used, fallback,
        /// breaker_opened, breaker_closed, key_paused
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
    },
    /// List webhooks
    List,
    /// Remove a webhook
    Remove { id: i64 },
    /// Turn a webhook on again (after it was turned off by failures)
    Enable { id: i64 },
    /// Turn a webhook off
    Disable { id: i64 },
    /// Send a test event and show how the delivery went
    Test { id: i64 },
    /// Show recent deliveries
    Log {
        /// How many
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

/// `switchyard webhook ...`, locally or on the `--remote` server.
pub(crate) fn webhook(
    data_dir: &Path,
    remote: Option<&Remote>,
    command: WebhookCommand,
    output: Output,
) -> Result<()> {
    let target = match remote {
        Some(remote) => Target::Remote(remote),
        None => Target::Local(local_manager(data_dir)?),
    };
    match command {
        WebhookCommand::Add {
            url,
            format,
            events,
        } => {
            let created: switchyard_api_types::CreatedWebhook =
                serde_json::from_value(target.call(Operation::AddWebhook {
                    url,
                    format,
                    events,
                })?)?;
            output.print(&created, || {
                format!(
                    "webhook {} added; its signing secret (shown only once): {}\nverify X-Switchyard-Signature: t=<ts>,v1=hex(HMAC-SHA256(secret, \"<ts>.<body>\"))",
                    created.webhook.id, created.secret
                )
            })
        }
        WebhookCommand::List => {
            let hooks: Vec<switchyard_api_types::WebhookView> =
                serde_json::from_value(target.call(Operation::ListWebhooks {})?)?;
            output.print(&hooks, || {
                if hooks.is_empty() {
                    return "no webhooks".into();
                }
                hooks
                    .iter()
                    .map(|hook| {
                        format!(
                            "{:>4}  {:<8} {:<4} {}  events: {}",
                            hook.id,
                            hook.format,
                            if hook.enabled { "on" } else { "off" },
                            hook.url,
                            if hook.events.is_empty() {
                                "all".to_owned()
                            } else {
                                hook.events.join(",")
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        WebhookCommand::Remove { id } => {
            target.call(Operation::RemoveWebhook { id })?;
            output.print(&serde_json::json!({ "removed": id }), || {
                format!("webhook {id} removed")
            })
        }
        WebhookCommand::Enable { id } | WebhookCommand::Disable { id } => {
            let enabled = matches!(command, WebhookCommand::Enable { .. });
            target.call(Operation::SetWebhookEnabled { id, enabled })?;
            output.print(&serde_json::json!({ "id": id, "enabled": enabled }), || {
                format!("webhook {id} {}", if enabled { "on" } else { "off" })
            })
        }
        WebhookCommand::Test { id } => {
            let delivery = target.call(Operation::TestWebhook { id })?;
            output.print(&delivery, || {
                match delivery.get("outcome").and_then(Value::as_str) {
                    Some(outcome) => format!(
                        "{outcome} after {} attempt(s){}",
                        delivery["attempts"],
                        delivery["error"]
                            .as_str()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ),
                    None => "the webhook is off: nothing was sent".into(),
                }
            })
        }
        WebhookCommand::Log { limit } => {
            let deliveries: Vec<switchyard_api_types::WebhookDeliveryView> =
                serde_json::from_value(target.call(Operation::WebhookDeliveries { limit })?)?;
            output.print(&deliveries, || {
                if deliveries.is_empty() {
                    return "no deliveries yet".into();
                }
                deliveries
                    .iter()
                    .map(|d| {
                        format!(
                            "{}  webhook {:<3} {:<20} {:<9} {} attempt(s) {}",
                            crate::when(d.at),
                            d.webhook_id,
                            d.event,
                            d.outcome,
                            d.attempts,
                            d.error.clone().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// The address to ask [default: the gateway this data directory
    /// configures, on loopback]
    #[arg(long)]
    url: Option<String>,
}

/// Environment variables that set the dashboard password at start.
const PASSWORD_ENV: &str = "SWITCHYARD_DASHBOARD_PASSWORD";
const PASSWORD_FILE_ENV: &str = "SWITCHYARD_DASHBOARD_PASSWORD_FILE";

/// Sets the dashboard password from `SWITCHYARD_DASHBOARD_PASSWORD` or the
/// file `SWITCHYARD_DASHBOARD_PASSWORD_FILE` names (a container secret),
/// when it differs from the stored one (a change signs browsers out).
pub(crate) fn password_from_environment(store: &mut Store) -> Result<()> {
    let password = match (
        std::env::var(PASSWORD_ENV),
        std::env::var_os(PASSWORD_FILE_ENV),
    ) {
        (Ok(password), _) if !password.is_empty() => password,
        (_, Some(path)) if !path.is_empty() => {
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read the dashboard password from {} ({PASSWORD_FILE_ENV})",
                    Path::new(&path).display()
                )
            })?
        }
        _ => return Ok(()),
    };
    let password = password.trim_end_matches(['\r', '\n']);
    if let Some(stored) = store.dashboard_password_hash()?
        && switchyard_manage::password::verify_password(&stored, password)
    {
        return Ok(());
    }
    let hash = switchyard_manage::password::hash_password(password).map_err(|error| {
        anyhow::anyhow!(
            "the dashboard password from the environment: {}",
            error.message
        )
    })?;
    store.set_dashboard_password_hash(&hash)?;
    Ok(())
}

/// `switchyard health`: asks the gateway's `/health/live` on loopback.
pub(crate) fn health(data_dir: &Path, args: HealthArgs) -> Result<()> {
    let tls = std::env::var_os("SWITCHYARD_TLS_CERT").is_some();
    let url = match args.url {
        Some(url) => url,
        None => {
            let port = match std::env::var(switchyard_config::settings::PORT_ENV)
                .ok()
                .and_then(|port| port.parse::<u16>().ok())
            {
                Some(port) => port,
                None => {
                    let store = Store::open_in_dir(data_dir)?;
                    ListenAddress::default()
                        .resolve(&Settings::load(&store)?)
                        .map_err(anyhow::Error::msg)?
                        .port()
                }
            };
            let scheme = if tls { "https" } else { "http" };
            format!("{scheme}://127.0.0.1:{port}/health/live")
        }
    };
    switchyard_providers::tls::install_ring_default();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(4))
        // Its own loopback address: a certificate names the public host.
        .danger_accept_invalid_certs(tls)
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status = runtime
        .block_on(async { http.get(&url).send().await })
        .with_context(|| format!("no answer from {url}"))?
        .status();
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    println!("ok");
    Ok(())
}

/// A server managed with `--remote`.
pub(crate) struct Remote {
    call_url: String,
    token: String,
    http: reqwest::Client,
}

impl Remote {
    /// The server at `url` (its root or its dashboard address).
    pub(crate) fn new(url: &str, token: Option<&str>) -> Result<Self> {
        let Some(token) = token.filter(|token| !token.trim().is_empty()) else {
            bail!(
                "--remote needs a management token: make one with `switchyard dashboard token create NAME` \
                 on the server (or in its dashboard's Settings) and pass --token or SWITCHYARD_TOKEN"
            );
        };
        let root = url
            .trim_end_matches('/')
            .trim_end_matches("/dashboard")
            .to_owned();
        if !(root.starts_with("http://") || root.starts_with("https://")) {
            bail!("--remote takes the server's URL, such as https://switchyard.example.com");
        }
        let http = switchyard_providers::tls::http_client()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()?;
        Ok(Self {
            call_url: format!("{root}/dashboard/api/call"),
            token: token.trim().to_owned(),
            http,
        })
    }
}

/// Where operations run.
enum Target<'a> {
    Local(Arc<Manager>),
    Remote(&'a Remote),
}

impl Target<'_> {
    fn call(&self, operation: Operation) -> Result<Value> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let answer = runtime.block_on(async {
            match self {
                Self::Local(manager) => {
                    let answer = manager.call(operation, &Actor::admin("cli")).await;
                    // Webhooks the call set off are sent before the CLI exits.
                    manager
                        .finish_deliveries(std::time::Duration::from_secs(60))
                        .await;
                    answer.map_err(|error| anyhow::anyhow!("{} ({})", error.message, error.kind))
                }
                Self::Remote(remote) => {
                    let response = remote
                        .http
                        .post(&remote.call_url)
                        .bearer_auth(&remote.token)
                        .json(&operation)
                        .send()
                        .await
                        .with_context(|| format!("cannot reach {}", remote.call_url))?;
                    let status = response.status();
                    let body = response
                        .bytes()
                        .await
                        .context("the server's answer broke off")?;
                    if status.is_success() {
                        serde_json::from_slice(&body).context("the server's answer is not JSON")
                    } else {
                        match serde_json::from_slice::<CommandError>(&body) {
                            Ok(error) => bail!("{} ({}, HTTP {status})", error.message, error.kind),
                            Err(_) => bail!(
                                "the server answered HTTP {status}: {}",
                                String::from_utf8_lossy(&body)
                                    .chars()
                                    .take(300)
                                    .collect::<String>()
                            ),
                        }
                    }
                }
            }
        })?;
        Ok(answer)
    }
}

fn local_manager(data_dir: &Path) -> Result<Arc<Manager>> {
    let store = Store::open_in_dir(data_dir)
        .with_context(|| format!("cannot open the database in {}", data_dir.display()))?;
    let settings = Settings::load(&store)?;
    let address = ListenAddress::default()
        .resolve(&settings)
        .map_err(anyhow::Error::msg)?;
    Ok(Arc::new(
        Manager::new(
            data_dir,
            address,
            HostKind::Server,
            Ok(store),
            GatewayState::Stopped,
        )
        .with_version(env!("CARGO_PKG_VERSION")),
    ))
}

/// The dashboard's base URL for a gateway on `local` (loopback for an
/// address bound on every interface).
pub(crate) fn base_url(scheme: &str, local: SocketAddr) -> String {
    let ip = if local.ip().is_unspecified() {
        match local {
            SocketAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            SocketAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        local.ip()
    };
    format!("{scheme}://{}", SocketAddr::new(ip, local.port()))
}

/// `switchyard dashboard ...` on the data directory.
pub(crate) fn local(data_dir: &Path, command: DashboardCommand, output: Output) -> Result<()> {
    if let DashboardCommand::Link = command {
        let store = Store::open_in_dir(data_dir)?;
        let settings = Settings::load(&store)?;
        let address = ListenAddress::default()
            .resolve(&settings)
            .map_err(anyhow::Error::msg)?;
        let token = store.create_signin_link(SIGNIN_LINK_LIFETIME_MS)?;
        let link = format!(
            "{}{}?token={token}",
            base_url("http", address),
            switchyard_dashboard::SIGNIN_PATH
        );
        return output.print(&serde_json::json!({ "link": link }), || {
            format!("{link}\n(valid 24 hours, once; use https:// and the server's name behind TLS or a proxy)")
        });
    }
    run(&Target::Local(local_manager(data_dir)?), command, output)
}

/// `switchyard --remote URL dashboard ...`.
pub(crate) fn remote(remote: &Remote, command: DashboardCommand, output: Output) -> Result<()> {
    if let DashboardCommand::Link = command {
        bail!("sign-in links are made on the server itself: run `switchyard dashboard link` there");
    }
    run(&Target::Remote(remote), command, output)
}

fn run(target: &Target<'_>, command: DashboardCommand, output: Output) -> Result<()> {
    match command {
        DashboardCommand::Link => unreachable!("handled by the callers"),
        DashboardCommand::Password => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            target.call(Operation::SetDashboardPassword { password })?;
            output.print(&serde_json::json!({ "password_set": true }), || {
                "dashboard password set; every browser session was signed out".into()
            })
        }
        DashboardCommand::User(UserCommand::Add { name, role }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            target.call(Operation::SetDashboardUser {
                name: name.clone(),
                password,
                role: role.clone(),
            })?;
            output.print(&serde_json::json!({ "name": name, "role": role }), || {
                format!("{name} can sign in as {role}; their earlier sessions were ended")
            })
        }
        DashboardCommand::User(UserCommand::List) => {
            let users: Vec<switchyard_api_types::DashboardUserView> =
                serde_json::from_value(target.call(Operation::ListDashboardUsers {})?)?;
            output.print(&users, || {
                if users.is_empty() {
                    return "no dashboard users (only the administrator's password)".into();
                }
                users
                    .iter()
                    .map(|user| {
                        format!(
                            "{:<24} {:<7} added {}",
                            user.name,
                            user.role,
                            crate::when(user.created_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        DashboardCommand::User(UserCommand::Remove { name }) => {
            target.call(Operation::RemoveDashboardUser { name: name.clone() })?;
            output.print(&serde_json::json!({ "removed": name }), || {
                format!("removed {name}")
            })
        }
        DashboardCommand::Token(TokenCommand::Create { name }) => {
            let created: CreatedManagementToken =
                serde_json::from_value(target.call(Operation::CreateManagementToken { name })?)?;
            output.print(&created, || {
                format!(
                    "token {} ({}): {}\nshown only once; use it as `switchyard --remote URL --token <token> ...`",
                    created.id, created.name, created.token
                )
            })
        }
        DashboardCommand::Token(TokenCommand::List) => {
            let tokens: Vec<ManagementTokenView> =
                serde_json::from_value(target.call(Operation::ListManagementTokens {})?)?;
            output.print(&tokens, || {
                if tokens.is_empty() {
                    return "no management tokens".into();
                }
                tokens
                    .iter()
                    .map(|token| {
                        format!(
                            "{:>4}  {}  made {}  last used {}",
                            token.id,
                            token.name,
                            crate::when(token.created_at),
                            token
                                .last_used_at
                                .map_or_else(|| "never".into(), crate::when)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        DashboardCommand::Token(TokenCommand::Revoke { id }) => {
            target.call(Operation::RevokeManagementToken { id })?;
            output.print(&serde_json::json!({ "revoked": id }), || {
                format!("management token {id} revoked")
            })
        }
        DashboardCommand::Log { limit } => {
            let entries: Vec<ManagementEntryView> =
                serde_json::from_value(target.call(Operation::ManagementLog { limit })?)?;
            output.print(&entries, || {
                if entries.is_empty() {
                    return "no management calls recorded".into();
                }
                entries
                    .iter()
                    .map(|entry| {
                        format!(
                            "{}  {:<22} {:<26} {:<14} {}",
                            crate::when(entry.at),
                            entry.actor,
                            entry.operation,
                            entry.outcome,
                            entry.detail
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

fn parse_call(args: &CallArgs) -> Result<Option<Operation>> {
    if args.list {
        return Ok(None);
    }
    let Some(name) = &args.operation else {
        bail!("name an operation (see `switchyard call --list`)");
    };
    if !Operation::names().contains(&name.as_str()) {
        bail!("unknown operation {name:?}; see `switchyard call --list`");
    }
    let arguments: Value = match &args.args {
        Some(text) => serde_json::from_str(text).context("the arguments are not JSON")?,
        None => Value::Object(serde_json::Map::new()),
    };
    let operation = serde_json::from_value(serde_json::json!({ "op": name, "args": arguments }))
        .with_context(|| format!("wrong arguments for {name}"))?;
    Ok(Some(operation))
}

fn print_call(target: &Target<'_>, args: &CallArgs) -> Result<()> {
    let Some(operation) = parse_call(args)? else {
        println!("{}", Operation::names().join("\n"));
        return Ok(());
    };
    let answer = target.call(operation)?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// Runs `operation` on the data directory; its JSON answer.
pub(crate) fn call_value(data_dir: &Path, operation: Operation) -> Result<Value> {
    Target::Local(local_manager(data_dir)?).call(operation)
}

/// `switchyard call ...` on the data directory.
pub(crate) fn call_local(data_dir: &Path, args: CallArgs) -> Result<()> {
    if args.list {
        println!("{}", Operation::names().join("\n"));
        return Ok(());
    }
    print_call(&Target::Local(local_manager(data_dir)?), &args)
}

/// `switchyard --remote URL call ...`.
pub(crate) fn call_remote(remote: &Remote, args: CallArgs) -> Result<()> {
    print_call(&Target::Remote(remote), &args)
}
