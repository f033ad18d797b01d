//! OAuth logins, driven by a service's data: authorization code with PKCE,
//! device code (RFC 8628, AWS SSO OIDC, OpenAI's), refreshes, reading an
//! official CLI's credentials file, and Google's Code Assist project
//! discovery. What differs between services beyond data is in `providers`.

pub mod code_assist;
pub mod flows;
pub mod imports;
pub mod service;

pub use flows::{AuthCodeLogin, DeviceLogin, Grant, LoginError, Pkce};
pub use service::{LoginKind, Service};
