//! Sending chat (and embeddings) requests to providers.
//!
//! A [`ChatRequest`] is a body and [`RequestHeaders`] built like reqwest's
//! builder (the first invalid header remembered and reported when sent),
//! sent by hyper's pooled client directly,
//! unless a proxy applies to the provider's URL: reqwest's own sending path
//! parses the URL into a `url::Url` and back, and runs redirect and retry
//! layers on every request, which took about a third of the gateway's CPU
//! time per proxied request (measured with callgrind; see the README's Speed
//! section). Where the system or the environment configures a proxy for the
//! URL, reqwest sends the request. Redirects are not followed on either path
//! (a provider's API does not redirect; an answer that does is relayed as an
//! error, and no header carrying a key goes to another host). Both paths
//! share one TLS set-up, and both answer with an [`UpstreamResponse`].

use std::error::Error as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, Request, Response, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use switchyard_providers::RequestHeaders;

use switchyard_config::settings::Settings;

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
    /// Everything but chat and embeddings requests (logins, refreshes, quotas,
    /// model lists).
    reqwest: reqwest::Client,
    /// Sends chat requests that go through a proxy.
    proxied: reqwest::Client,
    /// Sends the others.
    direct: Client<TimedConnector, reqwest::Body>,
    /// The connector `direct` is built from, to build another.
    connector: TimedConnector,
    /// Which URLs go through a proxy (system settings and `*_PROXY`).
    proxies: Arc<Matcher>,
}

/// A provider's answer, its body still to be read.
pub(crate) type UpstreamResponse = Response<reqwest::Body>;

/// Why a request could not be sent or had no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The request could not be built: an invalid header, body or URL.
    Invalid(&'static str),
    /// From reqwest, sending through a proxy.
    Reqwest(reqwest::Error),
    /// From the direct client.
    Direct(hyper_util::client::legacy::Error),
}

/// A chat request to a provider, built with the same helpers as reqwest's
/// builder. Its URL is parsed once, when it is sent.
pub(crate) struct ChatRequest {
    url: String,
    headers: RequestHeaders,
    /// Bytes, or a stream (a spooled upload).
    body: reqwest::Body,
    /// Why the body could not be written, if it could not: reported when
    /// the request is sent, as reqwest's builder does.
    invalid_body: Option<&'static str>,
}

impl ChatRequest {
    /// A POST of `body`, as JSON, to `url`.
    pub(crate) fn post_json(url: String, body: &impl serde::Serialize) -> Self {
        let mut headers = RequestHeaders::default();
        headers.add(header::CONTENT_TYPE, "application/json");
        let (body, invalid_body) = match serde_json::to_vec(body) {
            Ok(body) => (Bytes::from(body), None),
            Err(_) => (Bytes::new(), Some("the request body could not be written")),
        };
        Self {
            url,
            headers,
            body: reqwest::Body::from(body),
            invalid_body,
        }
    }

    /// A POST of `form` (its files streamed as it is sent) to `url`, encoded
    /// by reqwest's multipart writer (`builder` only builds).
    pub(crate) fn post_multipart(
        builder: &reqwest::Client,
        url: String,
        form: reqwest::multipart::Form,
    ) -> Self {
        let mut headers = RequestHeaders::default();
        let built = builder.post(url.as_str()).multipart(form).build();
        let (body, invalid_body) = match built {
            Ok(mut built) => {
                for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH] {
                    if let Some(value) = built.headers().get(&name) {
                        headers.map.insert(name, value.clone());
                    }
                }
                let body = built.body_mut().take();
                (
                    body.unwrap_or_else(|| reqwest::Body::from(Bytes::new())),
                    None,
                )
            }
            Err(_) => (
                reqwest::Body::from(Bytes::new()),
                Some("the provider's URL is not valid"),
            ),
        };
        Self {
            url,
            headers,
            body,
            invalid_body,
        }
    }

    /// The body as it will be sent (empty for a stream), and the headers to
    /// add to: a provider's authorization sees the one and writes the other.
    pub(crate) fn body_and_headers(&mut self) -> (&[u8], &mut RequestHeaders) {
        (self.body.as_bytes().unwrap_or_default(), &mut self.headers)
    }

    /// The headers so far.
    #[cfg(test)]
    pub(crate) fn headers(&self) -> &axum::http::HeaderMap {
        &self.headers.map
    }
}

impl Upstream {
    /// A client with the connect timeout in `settings`.
    pub(crate) fn new(settings: &Settings) -> Result<Self, UpstreamError> {
        // One TLS set-up for all three clients (the platform's roots read
        // on the first handshake, not here).
        let reqwest_client = || {
            switchyard_providers::tls::http_client()
                .connect_timeout(settings.connect_timeout)
                .tcp_nodelay(true)
                .user_agent(USER_AGENT)
        };
        // Side calls get an overall deadline (chat requests have their own
        // per phase, and go through `proxied` or the direct client).
        let reqwest = reqwest_client().timeout(SIDE_CALL_TIMEOUT).build()?;
        let proxied = reqwest_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_keepalive(Some(TCP_KEEPALIVE));
        // hyper-rustls offers its own ALPN protocols (the ones enabled below).
        let mut tls = switchyard_providers::tls::client_config().as_ref().clone();
        tls.alpn_protocols.clear();
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let connector = TimedConnector {
            inner: https,
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

    /// The reqwest client, for everything but chat and embeddings requests.
    pub(crate) fn reqwest(&self) -> &reqwest::Client {
        &self.reqwest
    }

    /// Sends `request`; the answer once its head has arrived.
    pub(crate) async fn send(&self, request: ChatRequest) -> Result<UpstreamResponse, SendError> {
        if let Some(invalid) = request.invalid_body.or(request.headers.invalid) {
            return Err(SendError::Invalid(invalid));
        }
        let uri = match Uri::try_from(request.url.as_str()) {
            Ok(uri) => uri,
            // What `http` refuses, `url` may normalise (percent-encoding,
            // international host names), as reqwest would have.
            Err(_) => url::Url::parse(&request.url)
                .ok()
                .and_then(|url| Uri::try_from(url.as_str()).ok())
                .ok_or(SendError::Invalid("the provider's URL is not valid"))?,
        };
        let mut http_request = Request::new(request.body);
        *http_request.method_mut() = Method::POST;
        *http_request.uri_mut() = uri;
        *http_request.headers_mut() = request.headers.map;
        if self.proxies.intercept(http_request.uri()).is_some() {
            let proxied = reqwest::Request::try_from(http_request).map_err(SendError::Reqwest)?;
            return self
                .proxied
                .execute(proxied)
                .await
                .map(Response::from)
                .map_err(SendError::Reqwest);
        }
        let headers = http_request.headers_mut();
        if !headers.contains_key(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        }
        if !headers.contains_key(header::ACCEPT) {
            headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        let response = self
            .direct
            .request(http_request)
            .await
            .map_err(SendError::Direct)?;
        Ok(response.map(reqwest::Body::wrap))
    }
}

/// Limits on what is read from a provider's answer (see the settings of the
/// same names); every breach is an error, never unbounded growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyLimits {
    /// Most bytes of a whole answer read into memory (JSON answers, streams
    /// collected for clients that asked for none).
    pub(crate) body_bytes: usize,
    /// Most bytes of one stream line or event.
    pub(crate) event_bytes: usize,
    /// Deadline for reading a whole non-streamed answer.
    pub(crate) body_timeout: Duration,
}

impl BodyLimits {
    /// The limits in `settings`.
    pub(crate) fn of(settings: &Settings) -> Self {
        Self {
            body_bytes: settings.max_upstream_body_bytes,
            event_bytes: settings.max_stream_event_bytes,
            body_timeout: settings.upstream_body_timeout,
        }
    }
}

/// Most bytes of an error answer kept: enough for any message, and a provider
/// that sends more is cut off.
pub(crate) const ERROR_BODY_BYTES: usize = 64 * 1024;

/// Why a body could not be read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The connection failed or broke off.
    Transport(reqwest::Error),
    /// More than the limit arrived.
    TooLarge(usize),
    /// A stream line or event grew past the limit without ending.
    EventTooLarge(usize),
    /// The deadline passed.
    TimedOut(Duration),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(error) => f.write_str(crate::upstream::describe_transport_error(error)),
            Self::TooLarge(limit) => write!(
                f,
                "the answer is larger than {limit} bytes (setting max_upstream_body_bytes)"
            ),
            Self::EventTooLarge(limit) => write!(
                f,
                "a stream event is larger than {limit} bytes (setting max_stream_event_bytes)"
            ),
            Self::TimedOut(deadline) => write!(
                f,
                "the answer was not complete within {}s (setting upstream_body_timeout_secs)",
                deadline.as_secs()
            ),
        }
    }
}

impl std::error::Error for BodyError {}

/// Longest a side call may take, answer included.
pub(crate) const SIDE_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads the whole body of `response`: at most `limit` bytes, within `deadline`.
pub(crate) async fn read_body(
    response: UpstreamResponse,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, BodyError> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(response.into_body(), limit);
    match tokio::time::timeout(deadline, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) => match error.downcast::<reqwest::Error>() {
            Ok(error) => Err(BodyError::Transport(*error)),
            Err(_) => Err(BodyError::TooLarge(limit)),
        },
        Err(_) => Err(BodyError::TimedOut(deadline)),
    }
}

/// The start of an error answer as text (invalid UTF-8 replaced): at most
/// [`ERROR_BODY_BYTES`], read within `deadline`; what arrived is kept when
/// the provider sends more, stalls or breaks off.
pub(crate) async fn read_error_text(response: UpstreamResponse, deadline: Duration) -> String {
    use http_body_util::BodyExt;
    let mut body = response.into_body();
    let mut text = Vec::new();
    let reading = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                let room = ERROR_BODY_BYTES - text.len();
                text.extend_from_slice(&data[..data.len().min(room)]);
                if text.len() >= ERROR_BODY_BYTES {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(deadline, reading).await;
    String::from_utf8_lossy(&text).into_owned()
}

/// The data of `response`'s body, chunk by chunk as it arrives, cut off with
/// an error when one event (`event_bytes`, for server-sent events) or the
/// whole body (`total_bytes`) grows past its limit.
pub(crate) fn body_stream(
    response: UpstreamResponse,
    event_bytes: Option<usize>,
    total_bytes: Option<usize>,
) -> impl futures_util::Stream<Item = Result<Bytes, BodyError>> + Send + 'static {
    use futures_util::StreamExt;
    struct Reading {
        data: http_body_util::BodyDataStream<reqwest::Body>,
        since_event: usize,
        total: usize,
        failed: bool,
    }
    let reading = Reading {
        data: http_body_util::BodyDataStream::new(response.into_body()),
        since_event: 0,
        total: 0,
        failed: false,
    };
    futures_util::stream::unfold(reading, move |mut reading| async move {
        if reading.failed {
            return None;
        }
        let chunk = match reading.data.next().await? {
            Ok(chunk) => chunk,
            Err(error) => {
                reading.failed = true;
                return Some((Err(BodyError::Transport(error)), reading));
            }
        };
        reading.total += chunk.len();
        if let Some(limit) = total_bytes
            && reading.total > limit
        {
            reading.failed = true;
            return Some((Err(BodyError::TooLarge(limit)), reading));
        }
        if let Some(limit) = event_bytes {
            // An event ends at a blank line; one that straddles two chunks
            // is counted on until the next.
            let end = [&b"\n\n"[..], b"\n\r\n"]
                .iter()
                .filter_map(|blank| memchr::memmem::rfind(&chunk, blank).map(|at| at + blank.len()))
                .max();
            reading.since_event = match end {
                Some(end) => chunk.len() - end,
                None => reading.since_event + chunk.len(),
            };
            if reading.since_event > limit {
                reading.failed = true;
                return Some((Err(BodyError::EventTooLarge(limit)), reading));
            }
        }
        Some((Ok(chunk), reading))
    })
}

fn direct_client(connector: TimedConnector) -> Client<TimedConnector, reqwest::Body> {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector)
}

/// hyper-rustls's connector with the connect timeout over all of connecting:
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

/// The client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// reqwest's client could not be built.
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
}

impl SendError {
    /// Whether connecting or waiting timed out.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            Self::Invalid(_) => false,
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
            Self::Invalid(invalid) => invalid,
            Self::Reqwest(error) if certificate_refused(error) => CERTIFICATE_REFUSED,
            Self::Reqwest(error) => crate::upstream::describe_transport_error(error),
            Self::Direct(error) if certificate_refused(error) => CERTIFICATE_REFUSED,
            Self::Direct(error) if error.is_connect() => CONNECT_FAILED,
            Self::Direct(_) if self.is_timeout() => "the connection timed out",
            Self::Direct(_) => "the request failed",
        }
    }
}

/// What a provider whose certificate did not verify is reported as.
const CERTIFICATE_REFUSED: &str = "its TLS certificate is not trusted here (signed by a private CA? add the CA to the system's roots, or point SSL_CERT_FILE at it)";

/// Whether `error` comes from a server certificate that did not verify.
fn certificate_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(mut error) = cause {
        // An I/O error's `source` skips the error it wraps: unwrap by hand
        // (hyper-rustls wraps rustls's error in two of them).
        while let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            error = inner;
        }
        if matches!(
            error.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        ) {
            return true;
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn upstream() -> Upstream {
        Upstream::new(&Settings::default()).expect("client")
    }

    #[tokio::test]
    async fn an_invalid_header_is_reported_when_sent_and_not_repeated() {
        let mut request = ChatRequest::post_json("http://127.0.0.1:9/v1".into(), &"{}");
        request
            .body_and_headers()
            .1
            .add("x-api-key", "secret\nvalue");
        let error = upstream().send(request).await.expect_err("refused");
        assert!(matches!(error, SendError::Invalid(_)), "{error:?}");
        assert!(!error.describe().contains("secret"));
    }

    #[test]
    fn a_bearer_token_is_a_sensitive_header_and_headers_are_appended() {
        let mut request = ChatRequest::post_json("http://127.0.0.1:9/v1".into(), &"{}");
        let headers = request.body_and_headers().1;
        headers.bearer("token");
        headers.add("accept", "text/event-stream");
        headers.add("accept", "application/json");
        let authorization = &request.headers()[header::AUTHORIZATION];
        assert_eq!(authorization, "Bearer token");
        assert!(authorization.is_sensitive());
        assert_eq!(request.headers().get_all(header::ACCEPT).iter().count(), 2);
        assert_eq!(request.headers()[header::CONTENT_TYPE], "application/json");
    }

    /// A URL that `http` refuses (a space in the model's path) is sent
    /// percent-encoded, as reqwest sent it.
    #[tokio::test]
    async fn a_url_http_refuses_is_normalised() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            let mut buffer = [0; 4096];
            while !received.windows(4).any(|window| window == b"\r\n\r\n") {
                let read = socket.read(&mut buffer).await.unwrap();
                received.extend_from_slice(&buffer[..read]);
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
            String::from_utf8_lossy(&received).into_owned()
        });
        let url = format!("http://127.0.0.1:{port}/v1beta/models/my model:generateContent");
        let response = upstream()
            .send(ChatRequest::post_json(url, &"{}"))
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        assert_eq!(
            read_error_text(response, Duration::from_secs(5)).await,
            "ok"
        );
        let received = server.await.unwrap();
        assert!(
            received.starts_with("POST /v1beta/models/my%20model:generateContent HTTP/1.1\r\n"),
            "{received}"
        );
    }
}
