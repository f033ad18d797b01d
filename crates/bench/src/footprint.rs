//! Footprint: the binary's size, the time from exec to the first answer,
//! resident memory idle and under concurrent streams, and (with `--soak`)
//! memory over time at a steady rate, for Switchyard beside nginx.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Running, Target, free_port};

/// Starts measured per server.
pub(crate) const STARTS: usize = 10;
/// Streams held open at once for the memory-under-load rows.
pub(crate) const CONCURRENT_STREAMS: usize = 200;
/// How long after its first answer a server's idle memory is read.
const SETTLE: Duration = Duration::from_secs(1);

#[path = "../../../tests/support/resident_memory.rs"]
mod resident_memory;
pub(crate) use resident_memory::resident_mb as rss_mb;

/// The size in MB of `binary` with its symbols stripped (`strip` from
/// binutils), or as it is when `strip` cannot run; and whether it was.
pub(crate) fn stripped_size_mb(binary: &Path) -> Result<(f64, bool)> {
    let copy = tempfile::NamedTempFile::new()?;
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(copy.path())
        .arg(binary)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let measured = if stripped { copy.path() } else { binary };
    let bytes = std::fs::metadata(measured)
        .with_context(|| format!("cannot read {}", binary.display()))?
        .len();
    Ok((bytes as f64 / 1e6, stripped))
}

/// Whether something on `port` answers an HTTP request (any status).
async fn answers(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut head = [0u8; 9];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head)).await,
        Ok(Ok(_))
    ) && &head == b"HTTP/1.1 "
}

/// Exec-to-first-answer times (ms) and the idle memory (MB) a second
/// later, over [`STARTS`] starts of the server `command` makes for a port.
pub(crate) async fn starts(
    mut command: impl FnMut(u16) -> Command,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut times = Vec::with_capacity(STARTS);
    let mut idle = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let port = free_port()?;
        let mut command = command(port);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let started = Instant::now();
        let server = Running(command.spawn().context("cannot start the server")?);
        let deadline = started + Duration::from_secs(30);
        while !answers(port).await {
            if Instant::now() > deadline {
                bail!("nothing answered on port {port}");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(SETTLE).await;
        idle.push(rss_mb(server.0.id()));
    }
    Ok((times, idle))
}

/// The resident memory (MB) of `pid` before, and at its peak while,
/// [`CONCURRENT_STREAMS`] slow streams through `target` are open at once.
pub(crate) async fn rss_under_streams(target: &Target, pid: u32) -> Result<(f64, f64)> {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(0)
        .build()?;
    let before = rss_mb(pid);
    let opened = Arc::new(AtomicU64::new(0));
    let mut streams = Vec::with_capacity(CONCURRENT_STREAMS);
    for _ in 0..CONCURRENT_STREAMS {
        let request = target.request(&client, true);
        let opened = Arc::clone(&opened);
        streams.push(tokio::spawn(async move {
            let response = request.send().await?.error_for_status()?;
            opened.fetch_add(1, Ordering::Relaxed);
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                chunk?;
            }
            Ok::<_, reqwest::Error>(())
        }));
    }
    let mut peak = before;
    while streams.iter().any(|stream| !stream.is_finished()) {
        peak = peak.max(rss_mb(pid));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for stream in streams {
        stream.await??;
    }
    if opened.load(Ordering::Relaxed) != CONCURRENT_STREAMS as u64 {
        bail!("not every stream was answered");
    }
    Ok((before, peak))
}

/// `--soak MINUTES`: requests at a steady `rate` per second through
/// `targets` in turn (streamed and not, alternately), printing the
/// gateway's memory each minute.
pub(crate) async fn soak(targets: &[Target], pid: u32, minutes: u64, rate: u64) -> Result<()> {
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut skipped = 0_u64;
    println!(
        "\nsoak: {rate} requests/s for {minutes} min through the gateway (passthrough and translating, streamed and not), RSS each minute"
    );
    println!("  min  0: {:>6.1} MB", rss_mb(pid));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut minute = 1;
    let mut sent = 0_u64;
    while minute <= minutes {
        ticker.tick().await;
        let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        let target = &targets[(sent as usize / 2) % targets.len()];
        let request = target.request(&client, sent.is_multiple_of(2));
        sent += 1;
        let (answered, refused) = (Arc::clone(&done), Arc::clone(&failed));
        tokio::spawn(async move {
            let answer = async {
                let response = request.send().await?.error_for_status()?;
                response.bytes().await
            };
            match answer.await {
                Ok(_) => answered.fetch_add(1, Ordering::Relaxed),
                Err(_) => refused.fetch_add(1, Ordering::Relaxed),
            };
            drop(permit);
        });
        if started.elapsed() >= Duration::from_secs(60 * minute) {
            println!(
                "  min {minute:>2}: {:>6.1} MB  ({} answered, {} failed, {skipped} ticks skipped with 256 in flight)",
                rss_mb(pid),
                done.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed),
            );
            minute += 1;
        }
    }
    Ok(())
}

/// The median of `values` and their range, formatted with `unit`.
pub(crate) fn median_and_range(values: &[f64], unit: &str) -> (String, String) {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (
        format!("{:.1} {unit}", crate::median(values)),
        format!("{low:.1}..{high:.1}"),
    )
}
