//! Settings the gateway understands, stored as strings in the database, and
//! how the listening address is chosen: flag, then environment, then the
//! stored setting, then the default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::time::Duration;
use switchyard_api_types::{DEFAULT_HOST, DEFAULT_PORT};

use switchyard_store::{AccountStrategy, Store, StoreResult};

/// Environment variable that overrides the bind address.
pub const HOST_ENV: &str = "SWITCHYARD_HOST";
/// Environment variable that overrides the port.
pub const PORT_ENV: &str = "SWITCHYARD_PORT";
/// Environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "SWITCHYARD_DATA_DIR";

/// A setting users may change with `switchyard config set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKey {
    /// Address to bind, such as `127.0.0.1` or `0.0.0.0`.
    Host,
    /// Port to bind.
    Port,
    /// `true` lets clients on this machine call `/v1` without an API key.
    /// Requests from other machines always need one.
    AllowUnauthenticatedLoopback,
    /// How providers pick among accounts unless set per provider.
    AccountStrategy,
    /// Requests on one account before the sticky strategy moves on.
    StickyLimit,
    /// Longest cooldown, in seconds, however often an account fails; when it
    /// ends, one request probes the account.
    CooldownCapSecs,
    /// Consecutive failures that open a provider's circuit breaker.
    BreakerThreshold,
    /// Seconds a provider's open breaker stays open before one probe.
    BreakerOpenSecs,
    /// Seconds to wait for a TCP/TLS connection to a provider (read at start).
    ConnectTimeoutSecs,
    /// Seconds to wait for the first byte of a provider's answer.
    FirstByteTimeoutSecs,
    /// Seconds a stream may stay silent between chunks.
    StreamIdleTimeoutSecs,
    /// `true` keeps full request and response bodies of recent requests.
    LogBodies,
    /// A combo, alias or `prefix/model` that requests naming a model
    /// Switchyard does not know (say `claude-sonnet-4-5` from a tool's own
    /// default) go to; unset, such requests get a "model not found" error.
    DefaultModel,
    /// Desktop: notify when an account runs out and requests fall back.
    NotifyFallback,
    /// Desktop: notify when an account needs a new login.
    NotifyRelogin,
    /// Desktop: notify when a quota window is 90% used.
    NotifyQuota,
    /// Desktop: notify when a `switchyard://` link is refused.
    NotifyRefusedLink,
    /// Desktop: notify when an update is available.
    NotifyUpdate,
    /// Desktop: notify on sync conflicts and when the hub revokes this device.
    NotifySync,
    /// Desktop: look for updates at start and every few hours.
    CheckUpdates,
    /// Desktop: keep the dashboard loaded while its window is closed
    /// (opens faster, uses more memory); by default it is dropped.
    KeepWindowLoaded,
    /// Most bytes of a provider's whole answer read into memory (JSON
    /// answers, streams collected for clients that asked for none).
    MaxUpstreamBodyBytes,
    /// Most bytes of one event of a provider's stream.
    MaxStreamEventBytes,
    /// Most bytes of a multipart upload (image edits, audio to transcribe),
    /// spooled to a temporary file, never held in memory.
    MaxUploadBytes,
    /// Seconds to read a provider's whole non-streamed answer.
    UpstreamBodyTimeoutSecs,
    /// Seconds a client has to send a request's headers and body (read at start).
    RequestReadTimeoutSecs,
    /// Most client connections open at once; past it, new ones get a 503 (read at start).
    MaxConnections,
    /// Seconds a shutdown waits for open requests before cutting them (read at start).
    ShutdownGraceSecs,
    /// Host names besides loopback and the bind address that requests may
    /// name in `Host` (comma-separated), for a reverse proxy or a LAN name.
    AllowedHosts,
    /// Web origins allowed to call the gateway from a browser
    /// (comma-separated, such as `https://app.example`); none by default.
    CorsOrigins,
    /// Minutes a dashboard sign-in lasts in a browser (server mode).
    DashboardSessionMinutes,
    /// Addresses (or CIDR ranges) of reverse proxies whose
    /// `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    TrustedProxies,
}

impl SettingKey {
    /// Every known setting.
    pub const ALL: [Self; 32] = [
        Self::Host,
        Self::Port,
        Self::AllowUnauthenticatedLoopback,
        Self::AccountStrategy,
        Self::StickyLimit,
        Self::CooldownCapSecs,
        Self::BreakerThreshold,
        Self::BreakerOpenSecs,
        Self::ConnectTimeoutSecs,
        Self::FirstByteTimeoutSecs,
        Self::StreamIdleTimeoutSecs,
        Self::LogBodies,
        Self::DefaultModel,
        Self::NotifyFallback,
        Self::NotifyRelogin,
        Self::NotifyQuota,
        Self::NotifyRefusedLink,
        Self::NotifyUpdate,
        Self::NotifySync,
        Self::CheckUpdates,
        Self::KeepWindowLoaded,
        Self::MaxUpstreamBodyBytes,
        Self::MaxStreamEventBytes,
        Self::MaxUploadBytes,
        Self::UpstreamBodyTimeoutSecs,
        Self::RequestReadTimeoutSecs,
        Self::MaxConnections,
        Self::ShutdownGraceSecs,
        Self::AllowedHosts,
        Self::CorsOrigins,
        Self::DashboardSessionMinutes,
        Self::TrustedProxies,
    ];

    /// The name used in the CLI and the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Port => "port",
            Self::AllowUnauthenticatedLoopback => "allow_unauthenticated_loopback",
            Self::AccountStrategy => "account_strategy",
            Self::StickyLimit => "sticky_limit",
            Self::CooldownCapSecs => "cooldown_cap_secs",
            Self::BreakerThreshold => "breaker_threshold",
            Self::BreakerOpenSecs => "breaker_open_secs",
            Self::ConnectTimeoutSecs => "connect_timeout_secs",
            Self::FirstByteTimeoutSecs => "first_byte_timeout_secs",
            Self::StreamIdleTimeoutSecs => "stream_idle_timeout_secs",
            Self::LogBodies => "log_bodies",
            Self::DefaultModel => "default_model",
            Self::NotifyFallback => "notify_fallback",
            Self::NotifyRelogin => "notify_relogin",
            Self::NotifyQuota => "notify_quota",
            Self::NotifyRefusedLink => "notify_refused_link",
            Self::NotifyUpdate => "notify_update",
            Self::NotifySync => "notify_sync",
            Self::CheckUpdates => "check_updates",
            Self::KeepWindowLoaded => "keep_window_loaded",
            Self::MaxUpstreamBodyBytes => "max_upstream_body_bytes",
            Self::MaxStreamEventBytes => "max_stream_event_bytes",
            Self::MaxUploadBytes => "max_upload_bytes",
            Self::UpstreamBodyTimeoutSecs => "upstream_body_timeout_secs",
            Self::RequestReadTimeoutSecs => "request_read_timeout_secs",
            Self::MaxConnections => "max_connections",
            Self::ShutdownGraceSecs => "shutdown_grace_secs",
            Self::AllowedHosts => "allowed_hosts",
            Self::CorsOrigins => "cors_origins",
            Self::DashboardSessionMinutes => "dashboard_session_minutes",
            Self::TrustedProxies => "trusted_proxies",
        }
    }

    /// Whether the setting syncs across a user's devices: how routing
    /// behaves does; where this machine listens, who may reach it, its
    /// desktop's notifications and what is read only at start do not.
    pub fn shared(self) -> bool {
        matches!(
            self,
            Self::AccountStrategy
                | Self::StickyLimit
                | Self::CooldownCapSecs
                | Self::BreakerThreshold
                | Self::BreakerOpenSecs
                | Self::FirstByteTimeoutSecs
                | Self::StreamIdleTimeoutSecs
                | Self::DefaultModel
                | Self::MaxUpstreamBodyBytes
                | Self::MaxStreamEventBytes
                | Self::MaxUploadBytes
                | Self::UpstreamBodyTimeoutSecs
        )
    }

    /// The setting called `name`, if known.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|key| key.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|key| key.name()).collect();
                format!(
                    "unknown setting {name:?}; known settings: {}",
                    known.join(", ")
                )
            })
    }

    /// Checks `value` and returns it in canonical form.
    pub fn normalize(self, value: &str) -> Result<String, String> {
        let value = value.trim();
        match self {
            Self::Host => parse_host(value).map(|ip| ip.to_string()),
            Self::Port => parse_port(value).map(|port| port.to_string()),
            Self::AllowUnauthenticatedLoopback
            | Self::LogBodies
            | Self::NotifyFallback
            | Self::NotifyRelogin
            | Self::NotifyQuota
            | Self::NotifyRefusedLink
            | Self::NotifyUpdate
            | Self::NotifySync
            | Self::CheckUpdates
            | Self::KeepWindowLoaded => parse_bool(value).map(|flag| flag.to_string()),
            Self::AccountStrategy => {
                AccountStrategy::parse(value).map(|strategy| strategy.as_str().to_owned())
            }
            Self::DefaultModel => {
                if value.is_empty() || value.len() > 200 || value.chars().any(char::is_whitespace) {
                    Err("the default model is a combo, an alias or a prefix/model".into())
                } else {
                    Ok(value.to_owned())
                }
            }
            Self::StickyLimit
            | Self::CooldownCapSecs
            | Self::BreakerThreshold
            | Self::BreakerOpenSecs
            | Self::ConnectTimeoutSecs
            | Self::FirstByteTimeoutSecs
            | Self::StreamIdleTimeoutSecs
            | Self::MaxUpstreamBodyBytes
            | Self::MaxStreamEventBytes
            | Self::MaxUploadBytes
            | Self::UpstreamBodyTimeoutSecs
            | Self::RequestReadTimeoutSecs
            | Self::MaxConnections
            | Self::ShutdownGraceSecs
            | Self::DashboardSessionMinutes => parse_positive(value).map(|n| n.to_string()),
            Self::TrustedProxies => parse_list(value, parse_network).map(|list| list.join(",")),
            Self::AllowedHosts => parse_list(value, parse_host_name).map(|list| list.join(",")),
            Self::CorsOrigins => parse_list(value, parse_origin).map(|list| list.join(",")),
        }
    }
}

/// The stored settings, decoded, with defaults for what is unset or unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Stored bind address, if set.
    pub host: Option<IpAddr>,
    /// Stored port, if set.
    pub port: Option<u16>,
    /// Whether loopback clients may skip the API key.
    pub allow_unauthenticated_loopback: bool,
    /// How providers pick among accounts unless set per provider.
    pub account_strategy: AccountStrategy,
    /// Requests on one account before the sticky strategy moves on.
    pub sticky_limit: u64,
    /// Longest cooldown, whatever the back-off or the provider says.
    pub cooldown_cap: Duration,
    /// Consecutive failures that open a provider's circuit breaker.
    pub breaker_threshold: u64,
    /// How long an open breaker stays open before a probe.
    pub breaker_open: Duration,
    /// Connection timeout to providers.
    pub connect_timeout: Duration,
    /// Longest wait for the first byte of an answer.
    pub first_byte_timeout: Duration,
    /// Longest silence between two chunks of a stream.
    pub stream_idle_timeout: Duration,
    /// Whether full bodies of recent requests are kept.
    pub log_bodies: bool,
    /// Where requests naming an unknown model go, if anywhere.
    pub default_model: Option<String>,
    /// Most bytes of a provider's whole answer read into memory.
    pub max_upstream_body_bytes: usize,
    /// Most bytes of one event of a provider's stream.
    pub max_stream_event_bytes: usize,
    /// Most bytes of a multipart upload.
    pub max_upload_bytes: u64,
    /// Deadline for a provider's whole non-streamed answer.
    pub upstream_body_timeout: Duration,
    /// Deadline for a client's request headers and body.
    pub request_read_timeout: Duration,
    /// Most client connections open at once.
    pub max_connections: usize,
    /// How long a shutdown waits for open requests.
    pub shutdown_grace: Duration,
    /// Extra host names allowed in `Host` (lower case, without port).
    pub allowed_hosts: Vec<String>,
    /// Web origins allowed to call from a browser (lower case).
    pub cors_origins: Vec<String>,
    /// How long a dashboard sign-in lasts.
    pub dashboard_session: Duration,
    /// Reverse proxies whose forwarded headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Settings {
    /// Whether `address` is a trusted reverse proxy.
    pub fn is_trusted_proxy(&self, address: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|network| network.contains(&address))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            host: None,
            port: None,
            allow_unauthenticated_loopback: false,
            account_strategy: AccountStrategy::Priority,
            sticky_limit: 5,
            cooldown_cap: Duration::from_secs(15 * 60),
            breaker_threshold: 5,
            breaker_open: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(300),
            stream_idle_timeout: Duration::from_secs(120),
            log_bodies: false,
            default_model: None,
            max_upstream_body_bytes: 64 * 1024 * 1024,
            max_stream_event_bytes: 16 * 1024 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            upstream_body_timeout: Duration::from_secs(300),
            request_read_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(10),
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            dashboard_session: Duration::from_secs(12 * 60 * 60),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Settings {
    /// Reads the settings from the store. A stored value that does not parse
    /// (edited by hand) falls back to the default rather than failing.
    pub fn load(store: &Store) -> StoreResult<Self> {
        let mut settings = Self::default();
        for (name, value) in store.list_settings()? {
            let Ok(key) = SettingKey::parse(&name) else {
                continue;
            };
            let seconds = || parse_positive(&value).ok().map(Duration::from_secs);
            match key {
                SettingKey::Host => settings.host = parse_host(&value).ok(),
                SettingKey::Port => settings.port = parse_port(&value).ok(),
                SettingKey::AllowUnauthenticatedLoopback => {
                    settings.allow_unauthenticated_loopback = parse_bool(&value).unwrap_or(false);
                }
                SettingKey::AccountStrategy => {
                    if let Ok(strategy) = AccountStrategy::parse(&value) {
                        settings.account_strategy = strategy;
                    }
                }
                SettingKey::StickyLimit => {
                    settings.sticky_limit = parse_positive(&value).unwrap_or(settings.sticky_limit);
                }
                SettingKey::BreakerThreshold => {
                    settings.breaker_threshold =
                        parse_positive(&value).unwrap_or(settings.breaker_threshold);
                }
                SettingKey::CooldownCapSecs => {
                    settings.cooldown_cap = seconds().unwrap_or(settings.cooldown_cap);
                }
                SettingKey::BreakerOpenSecs => {
                    settings.breaker_open = seconds().unwrap_or(settings.breaker_open);
                }
                SettingKey::ConnectTimeoutSecs => {
                    settings.connect_timeout = seconds().unwrap_or(settings.connect_timeout);
                }
                SettingKey::FirstByteTimeoutSecs => {
                    settings.first_byte_timeout = seconds().unwrap_or(settings.first_byte_timeout);
                }
                SettingKey::StreamIdleTimeoutSecs => {
                    settings.stream_idle_timeout =
                        seconds().unwrap_or(settings.stream_idle_timeout);
                }
                SettingKey::LogBodies => settings.log_bodies = parse_bool(&value).unwrap_or(false),
                SettingKey::DefaultModel => {
                    settings.default_model = SettingKey::DefaultModel.normalize(&value).ok();
                }
                SettingKey::MaxUpstreamBodyBytes => {
                    settings.max_upstream_body_bytes = parse_positive(&value)
                        .map_or(settings.max_upstream_body_bytes, |n| n as usize);
                }
                SettingKey::MaxStreamEventBytes => {
                    settings.max_stream_event_bytes = parse_positive(&value)
                        .map_or(settings.max_stream_event_bytes, |n| n as usize);
                }
                SettingKey::MaxUploadBytes => {
                    settings.max_upload_bytes =
                        parse_positive(&value).unwrap_or(settings.max_upload_bytes);
                }
                SettingKey::UpstreamBodyTimeoutSecs => {
                    settings.upstream_body_timeout =
                        seconds().unwrap_or(settings.upstream_body_timeout);
                }
                SettingKey::RequestReadTimeoutSecs => {
                    settings.request_read_timeout =
                        seconds().unwrap_or(settings.request_read_timeout);
                }
                SettingKey::MaxConnections => {
                    settings.max_connections =
                        parse_positive(&value).map_or(settings.max_connections, |n| n as usize);
                }
                SettingKey::ShutdownGraceSecs => {
                    settings.shutdown_grace = seconds().unwrap_or(settings.shutdown_grace);
                }
                SettingKey::AllowedHosts => {
                    settings.allowed_hosts =
                        parse_list(&value, parse_host_name).unwrap_or_default();
                }
                SettingKey::CorsOrigins => {
                    settings.cors_origins = parse_list(&value, parse_origin).unwrap_or_default();
                }
                SettingKey::DashboardSessionMinutes => {
                    if let Ok(minutes) = parse_positive(&value) {
                        settings.dashboard_session = Duration::from_secs(minutes * 60);
                    }
                }
                SettingKey::TrustedProxies => {
                    settings.trusted_proxies = parse_list(&value, parse_network)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|network| network.parse().ok())
                        .collect();
                }
                // Read by the desktop shell itself.
                SettingKey::NotifyFallback
                | SettingKey::NotifyRelogin
                | SettingKey::NotifyQuota
                | SettingKey::NotifyRefusedLink
                | SettingKey::NotifyUpdate
                | SettingKey::NotifySync
                | SettingKey::CheckUpdates
                | SettingKey::KeepWindowLoaded => {}
            }
        }
        Ok(settings)
    }
}

/// A comma-separated list, each item checked by `parse`; empty is an empty list.
fn parse_list(
    value: &str,
    parse: fn(&str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(parse)
        .collect()
}

/// An IP address or CIDR range (`10.0.0.0/8`); a bare address is one host.
fn parse_network(value: &str) -> Result<String, String> {
    let network = if value.contains('/') {
        value.parse::<ipnet::IpNet>().ok()
    } else {
        value.parse::<IpAddr>().ok().map(ipnet::IpNet::from)
    };
    network
        .map(|network| network.to_string())
        .ok_or_else(|| format!("{value:?} is not an IP address or range such as 10.0.0.0/8"))
}

/// A host name or address as it appears in `Host` without the port, lower case.
fn parse_host_name(value: &str) -> Result<String, String> {
    let host = value.to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    if valid {
        Ok(host)
    } else {
        Err(format!("{value:?} is not a host name such as router.lan"))
    }
}

/// A web origin, `scheme://host[:port]`, lower case.
fn parse_origin(value: &str) -> Result<String, String> {
    let origin = value.trim_end_matches('/').to_ascii_lowercase();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains('/') && parse_host_name(host).is_ok() => {
            Ok(origin)
        }
        _ => Err(format!(
            "{value:?} is not a web origin such as https://app.example"
        )),
    }
}

/// The setting (not listed with the others) holding the `/metrics`
/// token's SHA-256; unset, `/metrics` is off.
pub const METRICS_TOKEN_SETTING: &str = "metrics_token_sha256";

/// How the listening address is chosen.
#[derive(Debug, Clone, Default)]
pub struct ListenAddress {
    /// Host from a flag or the environment, highest priority.
    pub host: Option<String>,
    /// Port from a flag or the environment, highest priority.
    pub port: Option<u16>,
}

impl ListenAddress {
    /// Overrides taken from `SWITCHYARD_HOST` and `SWITCHYARD_PORT`.
    pub fn from_env() -> Result<Self, String> {
        let port = match std::env::var(PORT_ENV) {
            Ok(value) => Some(parse_port(&value).map_err(|error| format!("{PORT_ENV}: {error}"))?),
            Err(_) => None,
        };
        Ok(Self {
            host: std::env::var(HOST_ENV).ok(),
            port,
        })
    }

    /// The address to bind: these overrides, else the stored settings, else
    /// `127.0.0.1:20128`.
    pub fn resolve(&self, settings: &Settings) -> Result<SocketAddr, String> {
        let host = match &self.host {
            Some(host) => parse_host(host)?,
            None => settings.host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        };
        let port = self.port.or(settings.port).unwrap_or(DEFAULT_PORT);
        Ok(SocketAddr::new(host, port))
    }
}

/// The `/v1` base URL clients should use for a gateway bound to `address`.
pub fn endpoint_url(address: SocketAddr) -> String {
    let shown = if address.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
    } else {
        address
    };
    format!("http://{shown}/v1")
}

fn parse_host(value: &str) -> Result<IpAddr, String> {
    if value.eq_ignore_ascii_case("localhost") {
        return Ok(DEFAULT_HOST
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    value
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .map_err(|_| format!("{value:?} is not an IP address (for example 127.0.0.1 or 0.0.0.0)"))
}

fn parse_port(value: &str) -> Result<u16, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a port number (0-65535)"))
}

fn parse_positive(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(format!("{value:?} is not a whole number above 0")),
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{value:?} is not true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_setting_beats_default() {
        let default = ListenAddress::default()
            .resolve(&Settings::default())
            .unwrap();
        assert_eq!(default.to_string(), "127.0.0.1:20128");
        let settings = Settings {
            host: Some("0.0.0.0".parse().unwrap()),
            port: Some(3000),
            ..Settings::default()
        };
        assert_eq!(
            ListenAddress::default()
                .resolve(&settings)
                .unwrap()
                .to_string(),
            "0.0.0.0:3000"
        );
        let flags = ListenAddress {
            host: Some("localhost".into()),
            port: Some(4000),
        };
        assert_eq!(
            flags.resolve(&settings).unwrap().to_string(),
            "127.0.0.1:4000"
        );
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(SettingKey::parse("port").unwrap(), SettingKey::Port);
        assert!(
            SettingKey::parse("colour")
                .unwrap_err()
                .contains("known settings")
        );
        assert!(SettingKey::Port.normalize("70000").is_err());
        assert_eq!(SettingKey::Host.normalize("::1").unwrap(), "::1");
        assert_eq!(
            SettingKey::AllowUnauthenticatedLoopback
                .normalize("YES")
                .unwrap(),
            "true"
        );
        assert!(SettingKey::Host.normalize("example.com").is_err());
    }

    #[test]
    fn endpoint_url_never_shows_the_unspecified_address() {
        assert_eq!(
            endpoint_url("0.0.0.0:20128".parse().unwrap()),
            "http://127.0.0.1:20128/v1"
        );
        assert_eq!(
            endpoint_url("[::1]:8".parse().unwrap()),
            "http://[::1]:8/v1"
        );
    }
}
