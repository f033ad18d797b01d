//! Serving connections on a few threads, each running a single-threaded
//! runtime with its own pool of connections to providers.
//!
//! One thread accepts and deals connections out in turn; from then on a
//! connection is served start to end on its thread: its requests, the
//! upstream calls they make and the streams relayed back never move to
//! another thread. Each move is a wake-up of a sleeping thread, often on the
//! other core, which costs tens of microseconds on a small (virtual)
//! machine, and a multi-threaded runtime makes several per request (work
//! stealing, and hyper's upstream connection task running wherever it was
//! last woken). Dealing connections round-robin still puts every core to
//! work when many clients are busy.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tower::Service;

use crate::{RouterState, StartError, routes};

/// What every serving thread adds to the gateway's own routes.
#[derive(Clone, Default)]
pub(crate) struct Extras {
    /// Routes served beside `/v1` (the dashboard).
    pub(crate) routes: Option<axum::Router>,
    /// Serve HTTPS with this.
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Most serving threads; a gateway on one machine needs no more.
const MAX_THREADS: usize = 4;

/// A connection as accepted, on its way to its thread, with its place among
/// the open connections.
type Accepted = (std::net::TcpStream, SocketAddr, OwnedSemaphorePermit);

/// The serving threads of a running gateway.
pub(crate) struct Server {
    /// Set to `true` to stop accepting and let open requests finish.
    stop: Arc<watch::Sender<bool>>,
    /// One per thread still running: how its server ended.
    finished: Vec<oneshot::Receiver<io::Result<()>>>,
    /// The first error a thread ended with, until [`Self::wait`] reports it.
    error: Option<io::Error>,
}

/// Tells every thread to stop when dropped, also while a thread unwinds.
struct StopOnDrop(Arc<watch::Sender<bool>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

impl Server {
    /// Starts serving `listener` (non-blocking) with `state` on one thread
    /// per core, up to [`MAX_THREADS`].
    pub(crate) fn start(
        listener: std::net::TcpListener,
        state: &RouterState,
        extras: &Extras,
    ) -> Result<Self, StartError> {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(MAX_THREADS);
        let (stop, _) = watch::channel(false);
        let stop = Arc::new(stop);
        let (queues, inboxes): (Vec<_>, Vec<_>) =
            (0..threads).map(|_| mpsc::unbounded_channel()).unzip();
        // Every runtime first: a failure then leaves no thread running.
        let runtimes = (0..threads)
            .map(|_| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            })
            .collect::<io::Result<Vec<_>>>()
            .map_err(StartError::Server)?;
        let mut acceptor = Some((listener, queues));
        let mut finished = Vec::with_capacity(threads);
        for (index, (inbox, runtime)) in inboxes.into_iter().zip(runtimes).enumerate() {
            // Upstream connections are kept by the thread that opened them.
            let state = state.with_own_connections();
            let extras = extras.clone();
            let acceptor = acceptor.take();
            let ends_all = StopOnDrop(Arc::clone(&stop));
            let (done, ended) = oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name(format!("switchyard-http-{index}"))
                .spawn(move || {
                    let result =
                        runtime.block_on(serve(state, extras, inbox, acceptor, &ends_all.0));
                    // Pooled upstream connections and a slow name lookup
                    // must not hold up the shutdown.
                    runtime.shutdown_background();
                    let _ = done.send(result);
                    // Whatever ends one thread (a panic too) ends them all.
                    drop(ends_all);
                });
            if let Err(error) = spawned {
                stop.send_replace(true);
                return Err(StartError::Server(error));
            }
            finished.push(ended);
        }
        Ok(Self {
            stop,
            finished,
            error: None,
        })
    }

    /// Waits until every thread has stopped serving; the first error, if any.
    /// Safe to call again after being cancelled.
    pub(crate) async fn wait(&mut self) -> io::Result<()> {
        while let Some(ended) = self.finished.first_mut() {
            let ended = ended
                .await
                .unwrap_or_else(|_| Err(io::Error::other("a gateway thread failed")));
            self.finished.remove(0);
            if let Err(error) = ended {
                self.error.get_or_insert(error);
            }
        }
        self.error.take().map_or(Ok(()), Err)
    }

    /// Stops accepting connections and waits until open requests are done.
    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        self.stop.send_replace(true);
        self.wait().await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// One thread's work: accept (on the first thread) and serve its share of
/// connections until told to stop; then let open requests finish for the
/// `shutdown_grace` setting and cut what is still open.
async fn serve(
    state: RouterState,
    extras: Extras,
    mut inbox: mpsc::UnboundedReceiver<Accepted>,
    acceptor: Option<(std::net::TcpListener, Vec<mpsc::UnboundedSender<Accepted>>)>,
    stop: &watch::Sender<bool>,
) -> io::Result<()> {
    let settings = state
        .config()
        .map(|config| config.settings.clone())
        .unwrap_or_default();
    if let Some((listener, queues)) = acceptor {
        let listener = TcpListener::from_std(listener)?;
        let open = Arc::new(Semaphore::new(settings.max_connections));
        tokio::spawn(deal_connections(
            listener,
            queues,
            open,
            settings.max_connections,
            stop.subscribe(),
        ));
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // A client must send a request's headers within this (also the next
        // request's on a kept-alive connection: idle connections close).
        .header_read_timeout(settings.request_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(HTTP2_KEEPALIVE))
        .keep_alive_timeout(settings.request_read_timeout);
    let builder = Arc::new(builder);
    let router = routes::router(state, extras.routes);
    let graceful = GracefulShutdown::new();
    let mut stopped = stop.subscribe();
    loop {
        let (stream, peer, permit) = tokio::select! {
            next = inbox.recv() => match next {
                Some(accepted) => accepted,
                None => break,
            },
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let Ok(stream) = TcpStream::from_std(stream) else {
            continue;
        };
        // Streams are written one small frame at a time: without
        // TCP_NODELAY, Nagle's algorithm holds frames back for tens of
        // milliseconds.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let router = router.clone();
        let activity = Arc::new(Activity::default());
        let service = {
            let activity = Arc::clone(&activity);
            tower::service_fn(move |request: Request<Incoming>| {
                let mut request = routes::normalize_path(request.map(Body::new));
                request.extensions_mut().insert(ConnectInfo(peer));
                let open = OpenRequest::new(&activity);
                let answered = router.clone().call(request);
                async move {
                    // The request counts as open until its answer's body ends.
                    let response = answered.await?;
                    Ok::<_, std::convert::Infallible>(
                        response.map(|body| Body::new(TrackedBody { body, _open: open })),
                    )
                }
            })
        };
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        let idle_limit = settings.request_read_timeout;
        let tls = extras.tls.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    serve_connection(stream, &builder, service, watcher, activity, idle_limit).await
                }
                Some(tls) => match tokio::time::timeout(idle_limit, tls.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        serve_connection(stream, &builder, service, watcher, activity, idle_limit)
                            .await;
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                },
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = settings.shutdown_grace.as_secs(),
            "requests still open after the shutdown grace period: cutting them"
        );
    }
    Ok(())
}

/// Serves one connection (plain or TLS) until it ends, the server shuts
/// down, or it stays idle for `idle_limit`.
async fn serve_connection<S, Svc>(
    stream: S,
    builder: &auto::Builder<TokioExecutor>,
    service: Svc,
    watcher: hyper_util::server::graceful::Watcher,
    activity: Arc<Activity>,
    idle_limit: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Svc: Service<
            Request<Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    Svc::Future: Send + 'static,
{
    let io = TokioIo::new(WatchedIo {
        stream,
        activity: Arc::clone(&activity),
    });
    let connection = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
    tokio::select! {
        ended = watcher.watch(connection) => {
            if let Err(error) = ended {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        () = activity.idle_for(idle_limit) => {
            tracing::debug!("closing a connection idle for {}s", idle_limit.as_secs());
        }
    }
}

/// What a connection is doing, for closing idle ones: requests open (until
/// their answer's body ends) and when bytes last moved. hyper's header read
/// timeout only starts with a request's first byte, so a connection that
/// sends nothing (or nothing more after a request) would stay open forever.
#[derive(Default)]
struct Activity {
    open_requests: AtomicUsize,
    /// Milliseconds since [`CLOCK_START`] when bytes last moved.
    last_io_ms: AtomicU64,
}

/// The start of the coarse clock `Activity` stamps with.
static CLOCK_START: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

fn clock_ms() -> u64 {
    CLOCK_START.elapsed().as_millis() as u64
}

impl Activity {
    fn touch(&self) {
        self.last_io_ms.store(clock_ms(), Ordering::Relaxed);
    }

    /// Resolves once no request has been open and no byte has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        self.touch();
        let limit_ms = limit.as_millis() as u64;
        loop {
            let idle_ms = clock_ms().saturating_sub(self.last_io_ms.load(Ordering::Relaxed));
            if self.open_requests.load(Ordering::Relaxed) == 0 && idle_ms >= limit_ms {
                return;
            }
            let wait = limit_ms.saturating_sub(idle_ms).max(100);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// One open request of a connection, counted in its [`Activity`] until dropped.
struct OpenRequest(Arc<Activity>);

impl OpenRequest {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.open_requests.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(activity))
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.open_requests.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

pin_project_lite::pin_project! {
    /// An answer's body that keeps its request open until it ends.
    struct TrackedBody {
        #[pin]
        body: Body,
        _open: OpenRequest,
    }
}

impl http_body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A client connection that stamps its [`Activity`] whenever bytes move.
    struct WatchedIo<S> {
        #[pin]
        stream: S,
        activity: Arc<Activity>,
    }
}

impl<S: AsyncRead> AsyncRead for WatchedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buffer.filled().len();
        let polled = this.stream.poll_read(context, buffer);
        if buffer.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite> AsyncWrite for WatchedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.stream.poll_write(context, data);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.stream.poll_write_vectored(context, buffers);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_shutdown(context)
    }
}

/// HTTP/2 pings on idle client connections.
const HTTP2_KEEPALIVE: Duration = Duration::from_secs(20);

/// What a connection past `max_connections` gets before it is closed.
fn too_many_connections(limit: usize) -> Vec<u8> {
    let body = format!(
        r#"{{"error":{{"message":"the gateway has {limit} connections open (setting max_connections); try again shortly","type":"server_error","param":null,"code":"too_many_connections"}}}}"#
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Accepts connections and hands them to the threads in turn, each with a
/// permit of `open`; past `limit` open connections a new one is answered 503
/// and closed.
async fn deal_connections(
    listener: TcpListener,
    queues: Vec<mpsc::UnboundedSender<Accepted>>,
    open: Arc<Semaphore>,
    limit: usize,
    mut stopped: watch::Receiver<bool>,
) {
    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors, most likely: wait for some to close
                // (what axum's own listener does).
                tracing::error!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tracing::warn!(limit, "refusing a connection: too many open");
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = stream;
                let refusal = too_many_connections(limit);
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    let _ = stream.write_all(&refusal).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            continue;
        };
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        if queues[next].send((stream, peer, permit)).is_err() {
            return;
        }
        next = (next + 1) % queues.len();
    }
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
