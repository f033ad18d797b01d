//! Integration tests of the gateway over real HTTP on loopback, against an
//! in-process mock upstream that speaks OpenAI's wire format.

#![expect(
    unreachable_pub,
    reason = "helpers shared by the test modules of this one binary"
)]

mod bad_input;
mod chat;
mod combos;
mod gemini;
mod hardening;
mod keys;
mod mock_upstream;
mod ollama;
mod providers;
mod routing;
mod scripted_upstream;
mod translation;

use std::path::Path;

use mock_upstream::{MockUpstream, UPSTREAM_KEY};
use switchyard_gateway::RunningGateway;
use switchyard_store::{NewProvider, ProviderKind, Store};

/// A gateway on an ephemeral port with one provider (`mock/…`) and one key.
pub struct Harness {
    pub data_dir: tempfile::TempDir,
    pub upstream: MockUpstream,
    pub gateway: Option<RunningGateway>,
    pub key: String,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Self {
        let upstream = MockUpstream::start().await;
        let data_dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in_dir(data_dir.path()).unwrap();
        store
            .add_provider(&NewProvider {
                name: "Mock".into(),
                kind: ProviderKind::OpenaiCompatible,
                prefix: "mock".into(),
                base_url: upstream.base_url(),
                api_key: UPSTREAM_KEY.into(),
                models: vec!["echo".into(), "gated".into()],
                enabled: true,
            })
            .unwrap();
        store
            .add_provider(&NewProvider {
                name: "Claude".into(),
                kind: ProviderKind::AnthropicCompatible,
                prefix: "claude".into(),
                base_url: upstream.base_url(),
                api_key: UPSTREAM_KEY.into(),
                models: vec!["plain".into(), "tool".into()],
                enabled: true,
            })
            .unwrap();
        store
            .add_provider(&NewProvider {
                name: "Gemini".into(),
                kind: ProviderKind::Gemini,
                prefix: "gem".into(),
                base_url: upstream.gemini_base_url(),
                api_key: UPSTREAM_KEY.into(),
                models: vec!["flash".into(), "tool".into()],
                enabled: true,
            })
            .unwrap();
        let key = store.create_api_key("tests").unwrap().key;
        drop(store);
        let gateway = switchyard_gateway::start(data_dir.path(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Self {
            data_dir,
            upstream,
            gateway: Some(gateway),
            key,
            http: switchyard_providers::tls::http_client().build().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        let address = self.gateway.as_ref().unwrap().local_addr();
        format!("http://{address}{path}")
    }

    pub fn store(&self) -> Store {
        Store::open_in_dir(self.data_dir.path()).unwrap()
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Stops the gateway, which writes every pending usage record.
    pub async fn stop(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await;
        }
    }

    /// Stops the gateway and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        let gateway =
            switchyard_gateway::start(self.data_dir.path(), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
        self.gateway = Some(gateway);
    }

    /// Waits until the gateway has written every usage record so far.
    pub async fn flush_usage(&self) {
        self.gateway.as_ref().unwrap().flush_usage().await;
    }

    /// `GET path` with the test key, as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn post_messages(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/messages"))
            .header("x-api-key", &self.key)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1beta/models/{model}:{action}` with the key in `x-goog-api-key`.
    pub async fn post_gemini(
        &self,
        model: &str,
        action: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/v1beta/models/{model}:{action}")))
            .header("x-goog-api-key", &self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_chat(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}
