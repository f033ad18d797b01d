//! `switchyard-bench`: measures what Switchyard adds on the way to a provider.
//!
//! One run starts a local mock provider (OpenAI and Anthropic wire formats),
//! the real `switchyard serve` binary and an nginx `proxy_pass` to the same
//! mock, then prints, side by side, direct-to-mock, nginx and Switchyard for:
//! non-streaming latency (p50/p99, one request at a time), throughput (16
//! concurrent clients) and streaming time to first chunk, on a passthrough
//! route (OpenAI client, OpenAI upstream) and a translating one (OpenAI
//! client, Anthropic upstream). It is a benchmark, not a test: it prints
//! numbers and ratios and fails only if something does not run.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use axum::routing::post;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Requests per latency measurement (after warm-up).
const LATENCY_REQUESTS: usize = 2_000;
const WARMUP_REQUESTS: usize = 200;
/// Concurrent clients and duration of a throughput measurement.
const THROUGHPUT_CLIENTS: usize = 16;
const THROUGHPUT_DURATION: Duration = Duration::from_secs(3);
/// Streams per time-to-first-chunk measurement, and chunks per stream.
const STREAMS: usize = 300;
const STREAM_CHUNKS: usize = 12;
const MOCK_KEY: &str = "sk-bench-upstream";

struct Options {
    switchyard: PathBuf,
    nginx: PathBuf,
}

fn parse_options() -> Result<Options> {
    let mut switchyard = None;
    let mut nginx = PathBuf::from("/usr/sbin/nginx");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--switchyard" => switchyard = args.next().map(PathBuf::from),
            "--nginx" => {
                nginx = args
                    .next()
                    .map(PathBuf::from)
                    .context("--nginx needs a path")?
            }
            other => bail!(
                "unknown argument {other}; usage: switchyard-bench --switchyard PATH [--nginx PATH]"
            ),
        }
    }
    Ok(Options {
        switchyard: switchyard.context("--switchyard PATH is required")?,
        nginx,
    })
}

// -- the mock provider ----------------------------------------------------------

fn openai_answer(stream: bool) -> Response {
    if !stream {
        let body = json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the bench mock."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
        });
        return json_response(body);
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut frames = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for index in 0..STREAM_CHUNKS {
        frames.push(chunk(
            json!({"content": format!("word{index} ")}),
            Value::Null,
        ));
    }
    frames.push(chunk(json!({}), json!("stop")));
    frames.push("data: [DONE]\n\n".into());
    sse_response(frames)
}

fn anthropic_answer(stream: bool) -> Response {
    if !stream {
        return json_response(json!({
            "id": "msg_bench", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "Hello from the bench mock."}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 6}
        }));
    }
    let event = |name: &str, payload: Value| format!("event: {name}\ndata: {payload}\n\n");
    let mut frames = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_bench", "type": "message", "role": "assistant", "model": "m", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    for index in 0..STREAM_CHUNKS {
        frames.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": format!("word{index} ")}}),
        ));
    }
    frames.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    frames.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 6}})));
    frames.push(event("message_stop", json!({"type": "message_stop"})));
    sse_response(frames)
}

fn json_response(body: Value) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

/// Sends each frame as its own write, a millisecond apart after the first,
/// so that coalescing anywhere on the way would show in the chunk count.
fn sse_response(frames: Vec<String>) -> Response {
    let stream = futures_util::stream::unfold(
        (frames.into_iter(), true),
        |(mut frames, first)| async move {
            let frame = frames.next()?;
            if !first {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Some((Ok::<Bytes, Infallible>(Bytes::from(frame)), (frames, false)))
        },
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

async fn start_mock() -> Result<SocketAddr> {
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(|body: Bytes| async move {
                let request: Value = serde_json::from_slice(&body).unwrap_or_default();
                openai_answer(request["stream"] == json!(true))
            }),
        )
        .route(
            "/v1/messages",
            post(|body: Bytes| async move {
                let request: Value = serde_json::from_slice(&body).unwrap_or_default();
                anthropic_answer(request["stream"] == json!(true))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(address)
}

// -- the servers under test ---------------------------------------------------------

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_for_port(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("nothing listened on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Starts `switchyard serve` with an OpenAI and an Anthropic provider on the mock; returns its port and key.
async fn start_switchyard(
    binary: &PathBuf,
    data_dir: &std::path::Path,
    mock: SocketAddr,
) -> Result<(Running, u16, String)> {
    let cli = |args: &[&str]| -> Result<String> {
        let output = Command::new(binary)
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("SWITCHYARD_PROVIDER_API_KEY", MOCK_KEY)
            .output()
            .context("cannot run switchyard")?;
        if !output.status.success() {
            bail!(
                "switchyard {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let base = format!("http://{mock}/v1");
    cli(&[
        "provider",
        "add",
        "--name",
        "oa",
        "--prefix",
        "oa",
        "--kind",
        "openai",
        "--base-url",
        &base,
        "--model",
        "m",
    ])?;
    cli(&[
        "provider",
        "add",
        "--name",
        "an",
        "--prefix",
        "an",
        "--kind",
        "anthropic",
        "--base-url",
        &base,
        "--model",
        "m",
    ])?;
    let key: Value = serde_json::from_str(&cli(&["--json", "key", "create"])?)?;
    let key = key["key"].as_str().context("no key")?.to_owned();
    let port = free_port()?;
    let child = Command::new(binary)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--port", &port.to_string()])
        .env("SWITCHYARD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start switchyard serve")?;
    let running = Running(child);
    wait_for_port(port).await?;
    Ok((running, port, key))
}

async fn start_nginx(
    binary: &PathBuf,
    dir: &std::path::Path,
    mock: SocketAddr,
) -> Result<(Running, u16)> {
    let port = free_port()?;
    let prefix = dir.display();
    let config = format!(
        "worker_processes auto;\ndaemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n\
           fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n\
           upstream mock {{ server {mock}; keepalive 64; }}\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://mock;\n\
               proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_buffering off;\n    }}\n  }}\n}}\n"
    );
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config)?;
    let child = Command::new(binary)
        .arg("-c")
        .arg(&config_path)
        .arg("-p")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let running = Running(child);
    wait_for_port(port).await?;
    Ok((running, port))
}

// -- measurements -------------------------------------------------------------------

/// One way to reach the mock: a URL, headers and a request body.
#[derive(Clone)]
struct Target {
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Value,
}

impl Target {
    fn request(&self, client: &reqwest::Client, stream: bool) -> reqwest::RequestBuilder {
        let mut body = self.body.clone();
        body["stream"] = json!(stream);
        let mut request = client.post(&self.url).json(&body);
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        request
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Latency {
    p50: Duration,
    p99: Duration,
}

async fn latency(client: &reqwest::Client, target: &Target) -> Result<Latency> {
    let mut samples = Vec::with_capacity(LATENCY_REQUESTS);
    for round in 0..WARMUP_REQUESTS + LATENCY_REQUESTS {
        let started = Instant::now();
        let response = target.request(client, false).send().await?;
        if !response.status().is_success() {
            bail!("{} answered {}", target.url, response.status());
        }
        response.bytes().await?;
        if round >= WARMUP_REQUESTS {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    Ok(Latency {
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
    })
}

async fn throughput(target: &Target) -> Result<f64> {
    let completed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + THROUGHPUT_DURATION;
    let mut workers = Vec::new();
    for _ in 0..THROUGHPUT_CLIENTS {
        let target = target.clone();
        let completed = completed.clone();
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while Instant::now() < deadline {
                if let Ok(response) = target.request(&client, false).send().await
                    && response.bytes().await.is_ok()
                {
                    completed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    Ok(completed.load(Ordering::Relaxed) as f64 / THROUGHPUT_DURATION.as_secs_f64())
}

struct Streaming {
    first_chunk_p50: Duration,
    /// Reads the client saw per stream, on average (more is finer-grained).
    reads_per_stream: f64,
}

async fn streaming(client: &reqwest::Client, target: &Target) -> Result<Streaming> {
    let mut first_chunks = Vec::with_capacity(STREAMS);
    let mut reads = 0_usize;
    for round in 0..STREAMS + 20 {
        let started = Instant::now();
        let response = target.request(client, true).send().await?;
        let mut body = response.bytes_stream();
        let mut first = None;
        let mut count = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if !chunk.is_empty() {
                first.get_or_insert_with(|| started.elapsed());
                count += 1;
            }
        }
        if round >= 20 {
            first_chunks.push(first.context("an empty stream")?);
            reads += count;
        }
    }
    first_chunks.sort();
    Ok(Streaming {
        first_chunk_p50: percentile(&first_chunks, 0.5),
        reads_per_stream: reads as f64 / STREAMS as f64,
    })
}

fn micros(duration: Duration) -> String {
    format!("{:>8.0} µs", duration.as_secs_f64() * 1e6)
}

async fn run() -> Result<()> {
    let options = parse_options()?;
    let mock = start_mock().await?;
    let work = tempfile::tempdir()?;
    let (_switchyard, switchyard_port, key) =
        start_switchyard(&options.switchyard, &work.path().join("data"), mock).await?;
    std::fs::create_dir_all(work.path().join("nginx"))?;
    let (_nginx, nginx_port) =
        start_nginx(&options.nginx, &work.path().join("nginx"), mock).await?;

    let openai_body = json!({"model": "m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64});
    let anthropic_body = json!({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello."}]});
    let bearer = |key: &str| vec![("authorization", format!("Bearer {key}"))];
    let anthropic_headers = vec![
        ("x-api-key", MOCK_KEY.to_owned()),
        ("anthropic-version", "2023-06-01".to_owned()),
    ];
    let routes = [
        (
            "passthrough: OpenAI client -> OpenAI upstream",
            Target {
                url: format!("http://{mock}/v1/chat/completions"),
                headers: bearer(MOCK_KEY),
                body: openai_body.clone(),
            },
            Target {
                url: format!("http://127.0.0.1:{nginx_port}/v1/chat/completions"),
                headers: bearer(MOCK_KEY),
                body: openai_body.clone(),
            },
            Target {
                url: format!("http://127.0.0.1:{switchyard_port}/v1/chat/completions"),
                headers: bearer(&key),
                body: json!({"model": "oa/m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}),
            },
        ),
        (
            "translating: OpenAI client -> Anthropic upstream",
            Target {
                url: format!("http://{mock}/v1/messages"),
                headers: anthropic_headers.clone(),
                body: anthropic_body.clone(),
            },
            Target {
                url: format!("http://127.0.0.1:{nginx_port}/v1/messages"),
                headers: anthropic_headers.clone(),
                body: anthropic_body.clone(),
            },
            Target {
                url: format!("http://127.0.0.1:{switchyard_port}/v1/chat/completions"),
                headers: bearer(&key),
                body: json!({"model": "an/m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}),
            },
        ),
    ];

    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    println!(
        "switchyard bench: {LATENCY_REQUESTS} sequential requests (c=1), {THROUGHPUT_CLIENTS} clients for {}s, {STREAMS} streams of {STREAM_CHUNKS} chunks; loopback, this machine",
        THROUGHPUT_DURATION.as_secs()
    );
    for (name, direct, nginx, switchyard) in &routes {
        println!("\n{name}");
        println!(
            "{:<30} {:>11} {:>11} {:>11} {:>13} {:>13}",
            "", "direct", "nginx", "switchyard", "sy - direct", "sy / nginx"
        );
        let [d, n, s] = [
            latency(&client, direct).await?,
            latency(&client, nginx).await?,
            latency(&client, switchyard).await?,
        ];
        for (label, d, n, s) in [
            ("latency p50", d.p50, n.p50, s.p50),
            ("latency p99", d.p99, n.p99, s.p99),
        ] {
            println!(
                "{label:<30} {} {} {} {} {:>12.2}x",
                micros(d),
                micros(n),
                micros(s),
                micros(s.saturating_sub(d)),
                s.as_secs_f64() / n.as_secs_f64()
            );
        }
        let [d, n, s] = [
            throughput(direct).await?,
            throughput(nginx).await?,
            throughput(switchyard).await?,
        ];
        println!(
            "{:<30} {:>8.0} r/s {:>8.0} r/s {:>8.0} r/s {:>13} {:>12.2}x",
            "throughput",
            d,
            n,
            s,
            "",
            s / n
        );
        let [d, n, s] = [
            streaming(&client, direct).await?,
            streaming(&client, nginx).await?,
            streaming(&client, switchyard).await?,
        ];
        println!(
            "{:<30} {} {} {} {} {:>12.2}x",
            "stream: first chunk p50",
            micros(d.first_chunk_p50),
            micros(n.first_chunk_p50),
            micros(s.first_chunk_p50),
            micros(s.first_chunk_p50.saturating_sub(d.first_chunk_p50)),
            s.first_chunk_p50.as_secs_f64() / n.first_chunk_p50.as_secs_f64()
        );
        println!(
            "{:<30} {:>11.1} {:>11.1} {:>11.1}   (fewer than direct would mean frames coalesced)",
            "stream: reads per stream", d.reads_per_stream, n.reads_per_stream, s.reads_per_stream
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("switchyard-bench: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchyard-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
