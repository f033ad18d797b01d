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
use std::sync::Arc;
use std::time::Duration;

use axum::serve::{Listener, ListenerExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::{RouterState, StartError, routes};

/// Most serving threads; a gateway on one machine needs no more.
const MAX_THREADS: usize = 4;

/// A connection as accepted, on its way to its thread.
type Accepted = (std::net::TcpStream, SocketAddr);

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
    /// Starts serving `listener` (non-blocking, bound to `local_addr`) with
    /// `state` on one thread per core, up to [`MAX_THREADS`].
    pub(crate) fn start(
        listener: std::net::TcpListener,
        local_addr: SocketAddr,
        state: &RouterState,
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
            let acceptor = acceptor.take();
            let ends_all = StopOnDrop(Arc::clone(&stop));
            let (done, ended) = oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name(format!("switchyard-http-{index}"))
                .spawn(move || {
                    let result =
                        runtime.block_on(serve(state, inbox, local_addr, acceptor, &ends_all.0));
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
/// connections until told to stop.
async fn serve(
    state: RouterState,
    inbox: mpsc::UnboundedReceiver<Accepted>,
    local_addr: SocketAddr,
    acceptor: Option<(std::net::TcpListener, Vec<mpsc::UnboundedSender<Accepted>>)>,
    stop: &watch::Sender<bool>,
) -> io::Result<()> {
    if let Some((listener, queues)) = acceptor {
        let listener = TcpListener::from_std(listener)?;
        tokio::spawn(deal_connections(listener, queues, stop.subscribe()));
    }
    // Streams are written one small frame at a time: without TCP_NODELAY,
    // Nagle's algorithm holds frames back for tens of milliseconds. (The tap
    // also gives handlers the peer's address as `ConnectInfo`.)
    let listener = Handoff { inbox, local_addr }.tap_io(|stream: &mut TcpStream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    let mut stopped = stop.subscribe();
    axum::serve(listener, routes::service(state))
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await
}

/// Accepts connections and hands them to the threads in turn.
async fn deal_connections(
    listener: TcpListener,
    queues: Vec<mpsc::UnboundedSender<Accepted>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        match accepted.and_then(|(stream, peer)| Ok((stream.into_std()?, peer))) {
            Ok(connection) => {
                if queues[next].send(connection).is_err() {
                    return;
                }
                next = (next + 1) % queues.len();
            }
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                // Out of file descriptors, most likely: wait for some to close
                // (what axum's own listener does).
                tracing::error!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
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

/// The connections dealt to one thread, as a listener for `axum::serve`.
struct Handoff {
    inbox: mpsc::UnboundedReceiver<Accepted>,
    local_addr: SocketAddr,
}

impl Listener for Handoff {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some((stream, peer)) = self.inbox.recv().await else {
                // The acceptor has stopped: only the shutdown is left.
                return std::future::pending().await;
            };
            match TcpStream::from_std(stream) {
                Ok(stream) => return (stream, peer),
                Err(error) => tracing::debug!(%error, "cannot take over a connection"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
