//! API-key providers, one family per wire format: the key as the format's
//! public API takes it (a bearer token, `x-goog-api-key`, or `x-api-key`
//! with the Anthropic version and betas the client named).

use axum::http::HeaderValue;

use super::{ProviderApi, RequestHeaders, UpstreamCall};
use crate::oauth::Service;
use switchyard_protocol::Dialect;

/// Anthropic API version sent when the client did not name one.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The providers of one wire format that take an API key.
#[derive(Debug)]
pub struct ApiKeyFamily(Dialect);

impl ApiKeyFamily {
    /// The family of `dialect`.
    pub fn of(dialect: Dialect) -> &'static Self {
        static FAMILIES: [ApiKeyFamily; 6] = [
            ApiKeyFamily(Dialect::OpenAiChat),
            ApiKeyFamily(Dialect::OpenAiResponses),
            ApiKeyFamily(Dialect::AnthropicMessages),
            ApiKeyFamily(Dialect::Gemini),
            ApiKeyFamily(Dialect::Ollama),
            ApiKeyFamily(Dialect::Kiro),
        ];
        FAMILIES
            .iter()
            .find(|family| family.0 == dialect)
            .unwrap_or(&FAMILIES[0])
    }
}

impl ProviderApi for ApiKeyFamily {
    fn service(&self) -> Option<Service> {
        None
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        authorize_as_format(call, headers);
    }
}

/// The key as `call.upstream`'s public API takes it.
pub(crate) fn authorize_as_format(call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
    match call.upstream {
        Dialect::OpenAiChat | Dialect::OpenAiResponses | Dialect::Ollama | Dialect::Kiro => {
            headers.bearer(call.token)
        }
        Dialect::Gemini => headers.add_secret(
            axum::http::HeaderName::from_static("x-goog-api-key"),
            call.token.to_owned(),
        ),
        Dialect::AnthropicMessages => {
            headers.add_secret(
                axum::http::HeaderName::from_static("x-api-key"),
                call.token.to_owned(),
            );
            headers.add(
                "anthropic-version",
                call.anthropic_header("anthropic-version")
                    .unwrap_or(HeaderValue::from_static(ANTHROPIC_VERSION)),
            );
            if let Some(beta) = call.anthropic_header("anthropic-beta") {
                headers.add("anthropic-beta", beta);
            }
        }
    }
}
