//! Sending chat requests to providers.
//!
//! Requests are built with reqwest (headers, auth helpers, JSON bodies), as
//! everywhere else, but sent by hyper's pooled client directly unless a proxy
//! applies to the provider's URL: reqwest's own sending path re-parses the URL
//! three times and runs redirect and retry layers on every request, which
//! took about a third of the gateway's CPU time per proxied request (measured
//! with callgrind; see the README's Speed section). Where the system or the
//! environment configures a proxy for the URL, reqwest sends the request as
//! before. Redirects are not followed on either path (a provider's API does
//! not redirect; an answer that does is relayed as an error, and no header
//! carrying a key goes to another host). Both paths share one TLS set-up.

use std::error::Error as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{HeaderValue, Uri, header};
use hyper_tls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::settings::Settings;

/// How long an idle pooled connection to a provider is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// TCP keep-alive probes on connections to providers.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);
/// What a failed connection is reported as (also for reqwest's errors).
pub(crate) const CONNECT_FAILED: &str =
    "could not connect (is the base URL right and the server up?)";
/// What the gateway says it is, to providers.
const USER_AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));

/// Sends requests to providers; cheap to clone. Each serving thread has its
/// own (see [`Self::for_another_thread`]), so connections stay on the thread
/// that opened them.
#[derive(Clone)]
pub(crate) struct Upstream {
    /// Everything but chat requests (logins, refreshes, quotas, model lists).
    reqwest: reqwest::Client,
    /// Builds chat requests, and sends those that go through a proxy.
    proxied: reqwest::Client,
    /// Sends the others.
    direct: Client<TimedConnector, reqwest::Body>,
    /// The connector `direct` is built from, to build another.
    connector: TimedConnector,
    /// Which URLs go through a proxy (system settings and `*_PROXY`).
    proxies: Arc<Matcher>,
}

/// Why a request could not be sent or had no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    /// From reqwest: building the request, or sending it through a proxy.
    Reqwest(reqwest::Error),
    /// From the direct client.
    Direct(hyper_util::client::legacy::Error),
}

impl Upstream {
    /// A client with the connect timeout in `settings`.
    pub(crate) fn new(settings: &Settings) -> Result<Self, UpstreamError> {
        // One TLS set-up (system roots read once) for all three clients.
        let tls = native_tls::TlsConnector::builder()
            .request_alpns(&["h2", "http/1.1"])
            .build()?;
        let reqwest_client = || {
            reqwest::Client::builder()
                .connect_timeout(settings.connect_timeout)
                .tcp_nodelay(true)
                .user_agent(USER_AGENT)
                .tls_backend_preconfigured(tls.clone())
        };
        let reqwest = reqwest_client().build()?;
        let proxied = reqwest_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_keepalive(Some(TCP_KEEPALIVE));
        let connector = TimedConnector {
            inner: HttpsConnector::from((http, tls.into())),
            timeout: settings.connect_timeout,
        };
        Ok(Self {
            reqwest,
            proxied,
            direct: direct_client(connector.clone()),
            connector,
            proxies: Arc::new(Matcher::from_system()),
        })
    }

    /// The same settings with a pool of connections of its own.
    pub(crate) fn for_another_thread(&self) -> Self {
        Self {
            direct: direct_client(self.connector.clone()),
            ..self.clone()
        }
    }

    /// The reqwest client, for everything but chat requests.
    pub(crate) fn reqwest(&self) -> &reqwest::Client {
        &self.reqwest
    }

    /// Starts a POST request to `url`, to be sent with [`Self::send`].
    pub(crate) fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.proxied.post(url)
    }

    /// Sends a request built by [`Self::post`]; the answer once its head has
    /// arrived.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SendError> {
        let request = request.build().map_err(SendError::Reqwest)?;
        let request =
            axum::http::Request::<reqwest::Body>::try_from(request).map_err(SendError::Reqwest)?;
        if self.proxies.intercept(request.uri()).is_some() {
            let request = reqwest::Request::try_from(request).map_err(SendError::Reqwest)?;
            return self
                .proxied
                .execute(request)
                .await
                .map_err(SendError::Reqwest);
        }
        let mut request = request;
        let headers = request.headers_mut();
        if !headers.contains_key(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        }
        if !headers.contains_key(header::ACCEPT) {
            headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        let response = self
            .direct
            .request(request)
            .await
            .map_err(SendError::Direct)?;
        Ok(reqwest::Response::from(response.map(reqwest::Body::wrap)))
    }
}

fn direct_client(connector: TimedConnector) -> Client<TimedConnector, reqwest::Body> {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector)
}

/// hyper-tls's connector with the connect timeout over all of connecting:
/// the name lookup, TCP and the TLS handshake (hyper's own covers TCP only).
#[derive(Clone)]
struct TimedConnector {
    inner: HttpsConnector<HttpConnector>,
    timeout: Duration,
}

type Connected = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<Uri> for TimedConnector {
    type Response = Connected;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Connected, BoxError>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        let connecting = self.inner.call(destination);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connecting timed out",
                )
                .into()),
            }
        })
    }
}

/// The client could not be set up (TLS back-end missing).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// reqwest's client could not be built.
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
    /// The TLS connector could not be built.
    #[error(transparent)]
    Tls(#[from] native_tls::Error),
}

impl SendError {
    /// Whether connecting or waiting timed out.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            Self::Reqwest(error) => error.is_timeout(),
            Self::Direct(error) => {
                let mut source = error.source();
                while let Some(cause) = source {
                    if cause
                        .downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
                    {
                        return true;
                    }
                    source = cause.source();
                }
                false
            }
        }
    }

    /// What went wrong, without the URL (which may carry credentials).
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Reqwest(error) => crate::upstream::describe_transport_error(error),
            Self::Direct(error) if error.is_connect() => CONNECT_FAILED,
            Self::Direct(_) if self.is_timeout() => "the connection timed out",
            Self::Direct(_) => "the request failed",
        }
    }
}
