//! The test command's `headless-run` stage: `cargo xtask run` as a user on a
//! machine without a display runs it, through this very xtask.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long the build and start may take before the stage gives up.
const START_LIMIT: Duration = Duration::from_secs(600);
/// How long the gateway may take to stop after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Runs the check; see the module docs.
pub(crate) fn check(root: &Path) -> Result<()> {
    let data_dir = root.join("target").join("headless-run");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)?;
    }
    std::fs::create_dir_all(&data_dir)?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let mut command = Command::new(xtask);
    command
        .args(["run", "--headless", "--", "serve", "--port"])
        .arg(port.to_string())
        .env("SWITCHYARD_DATA_DIR", &data_dir)
        .env(crate::SECRET_STORE_ENV, "file")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: SIGTERM reaches the xtask and the gateway.
        command.process_group(0);
    }
    println!("xtask: $ {}", crate::describe(&command));
    let mut child = command.spawn().context("cannot start `cargo xtask run`")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (lines, receive) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("  | {line}");
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let result = watch(&receive, port);
    let pid = child.id();
    terminate_group(pid);
    let stopped = Instant::now();
    loop {
        // The gateway closes its end of the pipe when it exits.
        match receive.recv_timeout(Duration::from_millis(100)) {
            Ok(_) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) if stopped.elapsed() < STOP_LIMIT => continue,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill_group(pid);
                let _ = child.wait();
                result?;
                bail!("the gateway did not stop within {STOP_LIMIT:?} of SIGTERM");
            }
        }
    }
    let _ = child.wait();
    result?;
    println!(
        "xtask: headless gateway answered /health, served its dashboard and stopped {} ms after SIGTERM",
        stopped.elapsed().as_millis()
    );
    Ok(())
}

/// Reads the gateway's first lines and probes `/health`.
fn watch(lines: &mpsc::Receiver<String>, port: u16) -> Result<()> {
    let started = Instant::now();
    let mut listening = false;
    let mut key_hint = false;
    let mut signin_link = false;
    while !(listening && key_hint && signin_link) {
        let left = START_LIMIT.saturating_sub(started.elapsed());
        let line = lines
            .recv_timeout(left)
            .context("`cargo xtask run` did not say where the gateway listens")?;
        listening |= line.contains(&format!("listening on http://127.0.0.1:{port}"));
        key_hint |= line.contains("key create");
        signin_link |= line.contains("/dashboard/signin?token=");
    }
    let health = http_get(port, "/health")?;
    if !health.starts_with("HTTP/1.1 200") {
        bail!(
            "/health answered {}",
            health.lines().next().unwrap_or_default()
        );
    }
    // The dashboard is built into the headless binary, not the page saying
    // it is missing.
    let page = http_get(port, "/dashboard/")?;
    if !(page.starts_with("HTTP/1.1 200") && page.contains("boot.js")) {
        bail!(
            "/dashboard/ did not serve the built dashboard: {}",
            page.lines().next().unwrap_or_default()
        );
    }
    Ok(())
}

/// A bare HTTP/1.1 GET on loopback: the status line and the rest.
fn http_get(port: u16, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn terminate_group(pid: u32) {
    signal_group("-TERM", pid);
}

fn kill_group(pid: u32) {
    signal_group("-KILL", pid);
}

/// Sends `signal` to the process group led by `pid` (the `kill` command: the
/// xtask links no libc bindings).
fn signal_group(signal: &str, pid: u32) {
    if cfg!(unix) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{pid}")])
            .status();
    }
}
