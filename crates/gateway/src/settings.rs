//! Settings the gateway understands, stored as strings in the database, and
//! how the listening address is chosen: flag, then environment, then the
//! stored setting, then the default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use switchyard_api_types::{DEFAULT_HOST, DEFAULT_PORT};
use switchyard_store::{Store, StoreResult};

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
}

impl SettingKey {
    /// Every known setting.
    pub const ALL: [Self; 3] = [Self::Host, Self::Port, Self::AllowUnauthenticatedLoopback];

    /// The name used in the CLI and the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Port => "port",
            Self::AllowUnauthenticatedLoopback => "allow_unauthenticated_loopback",
        }
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
            Self::AllowUnauthenticatedLoopback => parse_bool(value).map(|flag| flag.to_string()),
        }
    }
}

/// The stored settings, decoded, with defaults for what is unset or unreadable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Stored bind address, if set.
    pub host: Option<IpAddr>,
    /// Stored port, if set.
    pub port: Option<u16>,
    /// Whether loopback clients may skip the API key.
    pub allow_unauthenticated_loopback: bool,
}

impl Settings {
    /// Reads the settings from the store. A stored value that does not parse
    /// (edited by hand) falls back to the default rather than failing.
    pub fn load(store: &Store) -> StoreResult<Self> {
        Ok(Self {
            host: store
                .setting(SettingKey::Host.name())?
                .and_then(|value| parse_host(&value).ok()),
            port: store
                .setting(SettingKey::Port.name())?
                .and_then(|value| parse_port(&value).ok()),
            allow_unauthenticated_loopback: store
                .setting(SettingKey::AllowUnauthenticatedLoopback.name())?
                .and_then(|value| parse_bool(&value).ok())
                .unwrap_or(false),
        })
    }
}

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
