//! `switchyard-bench`: measures what Switchyard adds on the way to a provider.
//!
//! One run starts a local mock provider (OpenAI and Anthropic wire formats),
//! the real `switchyard serve` binary and an nginx `proxy_pass` to the same
//! mock, then prints, side by side, direct-to-mock, nginx and Switchyard for:
//! non-streaming latency (p50/p99, one request at a time), the same for a
//! request the size a coding agent sends (about 64 kB: a long system prompt,
//! tool schemas and history), throughput (16 concurrent clients) and
//! streaming time to first chunk, on a passthrough
//! route (OpenAI client, OpenAI upstream) and a translating one (OpenAI
//! client, Anthropic upstream). It is a benchmark, not a test: it prints
//! numbers and ratios and fails only if something does not run.
//!
//! The three targets are measured alike: the mock runs on a thread of its
//! own (so that the direct call crosses threads as the proxied ones do), the
//! c=1 measurements use one client on a single-threaded runtime with a
//! kept-alive connection per target and a warm-up, and the targets take turns
//! in each of several rounds, whose medians are reported with their spread,
//! so that a slow moment of this shared machine does not land on one column.
//!
//! A footprint table follows: the binary's size stripped, the time from
//! exec to the first answer and the memory idle (over ten starts each), and
//! the peak memory while 200 slow streams are open at once, for Switchyard
//! and nginx. `--soak MINUTES` then sends a steady 100 requests a second
//! through the gateway and prints its memory each minute.
//!
//! With `--replicas` it also starts a throwaway PostgreSQL (Debian's
//! `postgresql`) and two `serve` replicas on it, and compares their
//! throughput (clients spread over both) with the one replica on SQLite.

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

/// Requests per latency measurement and round (after warm-up).
const LATENCY_REQUESTS: usize = 1_000;
const WARMUP_REQUESTS: usize = 100;
/// Requests per large-request latency measurement and round (after warm-up).
const LARGE_REQUESTS: usize = 200;
const LARGE_WARMUP: usize = 20;
/// Concurrent clients and duration of a throughput measurement.
const THROUGHPUT_CLIENTS: usize = 16;
const THROUGHPUT_DURATION: Duration = Duration::from_secs(2);
/// Streams per time-to-first-chunk measurement and round, and chunks per stream.
const STREAMS: usize = 100;
const STREAM_WARMUP: usize = 10;
const STREAM_CHUNKS: usize = 12;
/// Rounds unless `--rounds` says otherwise.
const DEFAULT_ROUNDS: usize = 5;
const MOCK_KEY: &str = "sk-bench-upstream";

struct Options {
    switchyard: PathBuf,
    nginx: PathBuf,
    rounds: usize,
    /// Also measure two replicas on a throwaway PostgreSQL.
    replicas: bool,
    /// Minutes of steady load to watch the gateway's memory over.
    soak: Option<u64>,
}

mod footprint;

#[path = "../../../tests/support/throwaway_postgres.rs"]
mod throwaway_postgres;

const USAGE: &str = "usage: switchyard-bench --switchyard PATH [--nginx PATH] [--rounds N] [--replicas] [--soak MINUTES]\n       switchyard-bench --mock-only PORT   (only the mock provider, for profiling by hand)";

fn parse_options() -> Result<Options> {
    let mut switchyard = None;
    let mut nginx = PathBuf::from("/usr/sbin/nginx");
    let mut rounds = DEFAULT_ROUNDS;
    let mut replicas = false;
    let mut soak = None;
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
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .context("--rounds needs a positive number")?
            }
            "--replicas" => replicas = true,
            "--soak" => {
                soak = Some(
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .context("--soak needs a positive number of minutes")?,
                )
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(Options {
        switchyard: switchyard
            .with_context(|| format!("--switchyard PATH is required\n{USAGE}"))?,
        nginx,
        rounds,
        replicas,
        soak,
    })
}

// -- the mock provider ----------------------------------------------------------

/// The model name that makes the mock stream slowly (a frame every
/// [`SLOW_PACE`]), for the memory-under-streams rows.
const SLOW_MODEL: &str = "slow";
const SLOW_PACE: Duration = Duration::from_millis(150);

/// The pace between frames for a request's `model`.
fn pace_for(request: &Value) -> Duration {
    if request["model"] == SLOW_MODEL {
        SLOW_PACE
    } else {
        Duration::from_millis(1)
    }
}

fn openai_answer(stream: bool, pace: Duration) -> Response {
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
    sse_response(frames, pace)
}

fn anthropic_answer(stream: bool, pace: Duration) -> Response {
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
    sse_response(frames, pace)
}

fn json_response(body: Value) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

/// Sends each frame as its own write, `pace` apart after the first (a
/// millisecond but for the slow model), so that coalescing anywhere on the
/// way would show in the chunk count.
fn sse_response(frames: Vec<String>, pace: Duration) -> Response {
    let stream = futures_util::stream::unfold(
        (frames.into_iter(), true),
        move |(mut frames, first)| async move {
            let frame = frames.next()?;
            if !first {
                tokio::time::sleep(pace).await;
            }
            Some((Ok::<Bytes, Infallible>(Bytes::from(frame)), (frames, false)))
        },
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// Starts the mock on a thread and runtime of its own; returns its address.
fn start_mock(port: u16) -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("bench-mock".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
                    let _ = stream.set_nodelay(true);
                });
                let _ = axum::serve(listener, mock_app()).await;
            });
        })?;
    Ok(address)
}

fn mock_app() -> Router {
    Router::new()
        .route(
            "/v1/chat/completions",
            post(|body: Bytes| async move {
                let request: Value = serde_json::from_slice(&body).unwrap_or_default();
                openai_answer(request["stream"] == json!(true), pace_for(&request))
            }),
        )
        .route(
            "/v1/messages",
            post(|body: Bytes| async move {
                let request: Value = serde_json::from_slice(&body).unwrap_or_default();
                anthropic_answer(request["stream"] == json!(true), pace_for(&request))
            }),
        )
}

// -- the servers under test ---------------------------------------------------------

/// A child process stopped on drop: with SIGTERM where that exists (nginx's
/// master then stops its workers; killed outright, it would leave them
/// running), else killed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let terminated = cfg!(unix)
            && Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status()
                .is_ok_and(|status| status.success());
        if terminated {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
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
    start_switchyard_with(binary, data_dir, mock, &[], true).await
}

/// `serve` on `data_dir` with `env` (a shared database), after adding the
/// mock's providers and a key when `configure`.
async fn start_switchyard_with(
    binary: &PathBuf,
    data_dir: &std::path::Path,
    mock: SocketAddr,
    env: &[(String, String)],
    configure: bool,
) -> Result<(Running, u16, String)> {
    let cli = |args: &[&str]| -> Result<String> {
        let output = Command::new(binary)
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("SWITCHYARD_PROVIDER_API_KEY", MOCK_KEY)
            .envs(env.iter().map(|(name, value)| (name, value)))
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
    let key = if configure {
        configure_switchyard(&cli, &base)?
    } else {
        String::new()
    };
    let port = free_port()?;
    let child = serve_command(binary, data_dir, port)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start switchyard serve")?;
    let running = Running(child);
    wait_for_port(port).await?;
    Ok((running, port, key))
}

/// `switchyard serve` on `data_dir` and `port`, logging warnings only.
fn serve_command(binary: &PathBuf, data_dir: &std::path::Path, port: u16) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--port", &port.to_string()])
        .env("SWITCHYARD_LOG", "warn");
    command
}

/// Adds the mock's two providers through `cli` and answers a new API key.
fn configure_switchyard(cli: &dyn Fn(&[&str]) -> Result<String>, base: &str) -> Result<String> {
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
        base,
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
        base,
        "--model",
        "m",
    ])?;
    let key: Value = serde_json::from_str(&cli(&["--json", "key", "create"])?)?;
    Ok(key["key"].as_str().context("no key")?.to_owned())
}

async fn start_nginx(
    binary: &PathBuf,
    dir: &std::path::Path,
    mock: SocketAddr,
) -> Result<(Running, u16)> {
    let port = free_port()?;
    let child = nginx_command(binary, dir, mock, port)?
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let running = Running(child);
    wait_for_port(port).await?;
    Ok((running, port))
}

/// nginx in the foreground on `port`, proxying to the mock, its files in `dir`.
fn nginx_command(
    binary: &PathBuf,
    dir: &std::path::Path,
    mock: SocketAddr,
    port: u16,
) -> Result<Command> {
    std::fs::create_dir_all(dir)?;
    let prefix = dir.display();
    let config = format!(
        "worker_processes auto;\ndaemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_buffer_size 1m;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n\
           fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n\
           upstream mock {{ server {mock}; keepalive 64; }}\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://mock;\n\
               proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_buffering off;\n    }}\n  }}\n}}\n"
    );
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config)?;
    let mut command = Command::new(binary);
    command.arg("-c").arg(&config_path).arg("-p").arg(dir);
    Ok(command)
}

// -- measurements -------------------------------------------------------------------

/// One way to reach the mock: a URL, headers and a request body.
#[derive(Clone)]
struct Target {
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Value,
    /// The same request the size a coding agent sends, written out.
    large_body: Bytes,
}

impl Target {
    fn new(url: String, headers: Vec<(&'static str, String)>, body: Value, wire: Wire) -> Self {
        let large_body = Bytes::from(large_request(&body, wire).to_string());
        Self {
            url,
            headers,
            body,
            large_body,
        }
    }

    fn request(&self, client: &reqwest::Client, stream: bool) -> reqwest::RequestBuilder {
        let mut body = self.body.clone();
        body["stream"] = json!(stream);
        self.with_headers(client.post(&self.url).json(&body))
    }

    /// The large request, not streamed.
    fn large_request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let request = client
            .post(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(self.large_body.clone());
        self.with_headers(request)
    }

    fn with_headers(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        request
    }
}

/// The wire format of a target's requests.
#[derive(Clone, Copy)]
enum Wire {
    OpenAi,
    Anthropic,
}

/// `body` grown to what a coding agent sends: a 30 kB system prompt, twenty
/// earlier turns and twenty tool schemas (about 64 kB in all).
fn large_request(body: &Value, wire: Wire) -> Value {
    let system = "You are a coding agent. Follow the repository's conventions. ".repeat(500);
    let mut history = Vec::new();
    for turn in 0..10 {
        history.push(json!({"role": "user", "content": format!("Step {turn}: please look at file {turn}.rs and fix it. ").repeat(5)}));
        history.push(json!({"role": "assistant", "content": format!("I looked at {turn}.rs and changed the function. ").repeat(5)}));
    }
    history.push(json!({"role": "user", "content": "Say hello."}));
    let schema = |tool: usize| {
        let properties: serde_json::Map<String, Value> = (0..6)
            .map(|arg| {
                (
                    format!("arg_{arg}"),
                    json!({"type": "string", "description": "An argument that matters. ".repeat(4)}),
                )
            })
            .collect();
        (
            format!("tool_{tool}"),
            "Reads or edits files in the workspace. ".repeat(10),
            json!({"type": "object", "properties": properties, "required": ["arg_0"]}),
        )
    };
    let mut large = body.clone();
    match wire {
        Wire::OpenAi => {
            let mut messages = vec![json!({"role": "system", "content": system})];
            messages.extend(history);
            large["messages"] = json!(messages);
            large["tools"] = (0..20)
                .map(|tool| {
                    let (name, description, parameters) = schema(tool);
                    json!({"type": "function", "function": {"name": name, "description": description, "parameters": parameters}})
                })
                .collect();
        }
        Wire::Anthropic => {
            large["system"] = json!(system);
            large["messages"] = json!(history);
            large["tools"] = (0..20)
                .map(|tool| {
                    let (name, description, input_schema) = schema(tool);
                    json!({"name": name, "description": description, "input_schema": input_schema})
                })
                .collect();
        }
    }
    large["stream"] = json!(false);
    large
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

struct Latency {
    p50: Duration,
    p99: Duration,
}

async fn latency(client: &reqwest::Client, target: &Target, large: bool) -> Result<Latency> {
    let (warmup, requests) = if large {
        (LARGE_WARMUP, LARGE_REQUESTS)
    } else {
        (WARMUP_REQUESTS, LATENCY_REQUESTS)
    };
    let mut samples = Vec::with_capacity(requests);
    for round in 0..warmup + requests {
        let started = Instant::now();
        let request = if large {
            target.large_request(client)
        } else {
            target.request(client, false)
        };
        let response = request.send().await?;
        if !response.status().is_success() {
            bail!("{} answered {}", target.url, response.status());
        }
        response.bytes().await?;
        if round >= warmup {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    Ok(Latency {
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
    })
}

async fn throughput(target: Target) -> f64 {
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
        let _ = worker.await;
    }
    completed.load(Ordering::Relaxed) as f64 / THROUGHPUT_DURATION.as_secs_f64()
}

/// Requests per second of [`THROUGHPUT_CLIENTS`] clients, each sending
/// its requests to the targets in turn (replicas without a balancer).
async fn throughput_spread(targets: Vec<Target>) -> f64 {
    let completed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + THROUGHPUT_DURATION;
    let mut workers = Vec::new();
    for worker in 0..THROUGHPUT_CLIENTS {
        let targets = targets.clone();
        let completed = completed.clone();
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut turn = worker;
            while Instant::now() < deadline {
                let target = &targets[turn % targets.len()];
                turn += 1;
                if let Ok(response) = target.request(&client, false).send().await
                    && response.status().is_success()
                    && response.bytes().await.is_ok()
                {
                    completed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    completed.load(Ordering::Relaxed) as f64 / THROUGHPUT_DURATION.as_secs_f64()
}

/// The replicas row: one `serve` on SQLite against two on one throwaway
/// PostgreSQL, each measured `rounds` times in turn.
async fn replicas_row(
    options: &Options,
    load: &tokio::runtime::Handle,
    mock: SocketAddr,
    sqlite: (u16, String),
) -> Result<()> {
    let mut server = std::panic::catch_unwind(throwaway_postgres::ThrowawayPostgres::start)
        .map_err(|_| anyhow::anyhow!("cannot start a throwaway PostgreSQL"))?;
    let url = server.new_database();
    let env = vec![
        ("SWITCHYARD_DATABASE_URL".to_owned(), url),
        (
            "SWITCHYARD_SECRET_KEY".to_owned(),
            "c3dpdGNoeWFyZC1iZW5jaC1zZWFsaW5nLWtleS0zMmI=".to_owned(),
        ),
    ];
    let work = tempfile::tempdir()?;
    let (_a, port_a, key) = start_switchyard_with(
        &options.switchyard,
        &work.path().join("a"),
        mock,
        &env,
        true,
    )
    .await?;
    let (_b, port_b, _) = start_switchyard_with(
        &options.switchyard,
        &work.path().join("b"),
        mock,
        &env,
        false,
    )
    .await?;
    let target = |port: u16, key: &str| {
        Target::new(
            format!("http://127.0.0.1:{port}/v1/chat/completions"),
            vec![("authorization", format!("Bearer {key}"))],
            json!({"model": "oa/m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}),
            Wire::OpenAi,
        )
    };
    let single = vec![target(sqlite.0, &sqlite.1)];
    let pair = vec![target(port_a, &key), target(port_b, &key)];
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..options.rounds {
        one.push(load.spawn(throughput_spread(single.clone())).await?);
        two.push(load.spawn(throughput_spread(pair.clone())).await?);
    }
    let (one, two) = (median(&one), median(&two));
    println!();
    println!(
        "replicas: passthrough throughput, {THROUGHPUT_CLIENTS} clients (spread over the replicas), same machine"
    );
    println!("  one replica on SQLite            {one:>10.0} req/s");
    println!(
        "  two replicas on one PostgreSQL   {two:>10.0} req/s   ({:.2}x)",
        two / one
    );
    Ok(())
}

struct Streaming {
    first_chunk_p50: Duration,
    /// SSE frames per read the client made, over all streams: 1.0 when every
    /// frame arrived on its own, more when frames were coalesced on the way.
    frames_per_read: f64,
}

async fn streaming(client: &reqwest::Client, target: &Target) -> Result<Streaming> {
    let mut first_chunks = Vec::with_capacity(STREAMS);
    let mut reads = 0_usize;
    let mut frames = 0_usize;
    for round in 0..STREAMS + STREAM_WARMUP {
        let started = Instant::now();
        let response = target.request(client, true).send().await?;
        let mut body = response.bytes_stream();
        let mut first = None;
        let mut count = 0;
        let mut framed = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if !chunk.is_empty() {
                first.get_or_insert_with(|| started.elapsed());
                count += 1;
                framed += chunk.windows(2).filter(|pair| pair == b"\n\n").count();
            }
        }
        if round >= STREAM_WARMUP {
            first_chunks.push(first.context("an empty stream")?);
            reads += count;
            frames += framed;
        }
    }
    first_chunks.sort();
    Ok(Streaming {
        first_chunk_p50: percentile(&first_chunks, 0.5),
        frames_per_read: frames as f64 / reads.max(1) as f64,
    })
}

/// One number per round for each of direct, nginx and Switchyard.
#[derive(Default)]
struct Series([Vec<f64>; 3]);

impl Series {
    fn push(&mut self, values: [f64; 3]) {
        for (series, value) in self.0.iter_mut().zip(values) {
            series.push(value);
        }
    }

    fn medians(&self) -> [f64; 3] {
        [median(&self.0[0]), median(&self.0[1]), median(&self.0[2])]
    }

    /// Switchyard minus direct, per round: the median and the spread.
    fn added(&self) -> (f64, f64, f64) {
        let added: Vec<f64> = self.0[2]
            .iter()
            .zip(&self.0[0])
            .map(|(switchyard, direct)| switchyard - direct)
            .collect();
        let low = added.iter().copied().fold(f64::INFINITY, f64::min);
        let high = added.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (median(&added), low, high)
    }
}

/// What one route's rounds measured, in microseconds, requests per second and reads.
#[derive(Default)]
struct RouteResults {
    p50: Series,
    p99: Series,
    large_p50: Series,
    large_p99: Series,
    throughput: Series,
    first_chunk: Series,
    reads: Series,
}

fn micros(value: f64) -> String {
    format!("{value:>8.0} µs")
}

fn print_latency_row(label: &str, series: &Series) {
    let [d, n, s] = series.medians();
    let (added, low, high) = series.added();
    println!(
        "{label:<26} {} {} {} {} {:>15} {:>9.2}x",
        micros(d),
        micros(n),
        micros(s),
        micros(added),
        format!("{low:.0}..{high:.0} µs"),
        s / n
    );
}

fn print_route(name: &str, results: &RouteResults) {
    println!("\n{name}");
    println!(
        "{:<26} {:>11} {:>11} {:>11} {:>11} {:>15} {:>10}",
        "", "direct", "nginx", "switchyard", "sy - direct", "rounds", "sy / nginx"
    );
    print_latency_row("latency p50", &results.p50);
    print_latency_row("latency p99", &results.p99);
    print_latency_row("64 kB request: p50", &results.large_p50);
    print_latency_row("64 kB request: p99", &results.large_p99);
    let [d, n, s] = results.throughput.medians();
    println!(
        "{:<26} {:>7.0} r/s {:>7.0} r/s {:>7.0} r/s {:>11} {:>15} {:>9.2}x",
        "throughput",
        d,
        n,
        s,
        "",
        "",
        s / n
    );
    print_latency_row("stream: first chunk p50", &results.first_chunk);
    let [d, n, s] = results.reads.medians();
    println!(
        "{:<26} {d:>11.2} {n:>11.2} {s:>11.2}   (1.00: each frame in a read of its own; more: coalesced)",
        "stream: frames per read"
    );
}

/// Runs every round; `load` is the multi-threaded runtime for the throughput clients.
async fn run(options: Options, load: tokio::runtime::Handle) -> Result<()> {
    let mock = start_mock(0)?;
    let work = tempfile::tempdir()?;
    let (switchyard, switchyard_port, key) =
        start_switchyard(&options.switchyard, &work.path().join("data"), mock).await?;
    std::fs::create_dir_all(work.path().join("nginx"))?;
    let (nginx, nginx_port) = start_nginx(&options.nginx, &work.path().join("nginx"), mock).await?;

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
            [
                Target::new(
                    format!("http://{mock}/v1/chat/completions"),
                    bearer(MOCK_KEY),
                    openai_body.clone(),
                    Wire::OpenAi,
                ),
                Target::new(
                    format!("http://127.0.0.1:{nginx_port}/v1/chat/completions"),
                    bearer(MOCK_KEY),
                    openai_body.clone(),
                    Wire::OpenAi,
                ),
                Target::new(
                    format!("http://127.0.0.1:{switchyard_port}/v1/chat/completions"),
                    bearer(&key),
                    json!({"model": "oa/m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}),
                    Wire::OpenAi,
                ),
            ],
        ),
        (
            "translating: OpenAI client -> Anthropic upstream",
            [
                Target::new(
                    format!("http://{mock}/v1/messages"),
                    anthropic_headers.clone(),
                    anthropic_body.clone(),
                    Wire::Anthropic,
                ),
                Target::new(
                    format!("http://127.0.0.1:{nginx_port}/v1/messages"),
                    anthropic_headers.clone(),
                    anthropic_body.clone(),
                    Wire::Anthropic,
                ),
                Target::new(
                    format!("http://127.0.0.1:{switchyard_port}/v1/chat/completions"),
                    bearer(&key),
                    json!({"model": "an/m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}),
                    Wire::OpenAi,
                ),
            ],
        ),
    ];

    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    println!(
        "switchyard bench: {} rounds, each target in turn; per round and target {LATENCY_REQUESTS} sequential requests (c=1) and {LARGE_REQUESTS} of 64 kB, {THROUGHPUT_CLIENTS} clients for {}s, {STREAMS} streams of {STREAM_CHUNKS} chunks; loopback, this machine ({} CPUs); medians over the rounds",
        options.rounds,
        THROUGHPUT_DURATION.as_secs(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    println!("gateway binary: {}", options.switchyard.display());
    let mut results: Vec<RouteResults> = routes.iter().map(|_| RouteResults::default()).collect();
    for round in 0..options.rounds {
        eprint!("round {}/{}\r", round + 1, options.rounds);
        for ((_, targets), results) in routes.iter().zip(&mut results) {
            let mut latencies = Vec::new();
            for target in targets {
                latencies.push(latency(&client, target, false).await?);
            }
            let mut large = Vec::new();
            for target in targets {
                large.push(latency(&client, target, true).await?);
            }
            let micros_of = |duration: Duration| duration.as_secs_f64() * 1e6;
            results
                .p50
                .push([0, 1, 2].map(|i| micros_of(latencies[i].p50)));
            results
                .p99
                .push([0, 1, 2].map(|i| micros_of(latencies[i].p99)));
            results
                .large_p50
                .push([0, 1, 2].map(|i| micros_of(large[i].p50)));
            results
                .large_p99
                .push([0, 1, 2].map(|i| micros_of(large[i].p99)));
            let mut streams = Vec::new();
            for target in targets {
                streams.push(streaming(&client, target).await?);
            }
            results
                .first_chunk
                .push([0, 1, 2].map(|i| micros_of(streams[i].first_chunk_p50)));
            results
                .reads
                .push([0, 1, 2].map(|i| streams[i].frames_per_read));
            let mut rates = [0.0; 3];
            for (rate, target) in rates.iter_mut().zip(targets) {
                *rate = load.spawn(throughput(target.clone())).await?;
            }
            results.throughput.push(rates);
        }
    }
    eprint!("          \r");
    for ((name, _), results) in routes.iter().zip(&results) {
        print_route(name, results);
    }
    let slow = |target: &Target, model: &str| {
        let mut body = target.body.clone();
        body["model"] = json!(model);
        Target::new(
            target.url.clone(),
            target.headers.clone(),
            body,
            Wire::OpenAi,
        )
    };
    print_footprint(
        &options,
        mock,
        work.path(),
        &switchyard,
        &nginx,
        [
            slow(&routes[0].1[1], SLOW_MODEL),
            slow(&routes[0].1[2], "oa/slow"),
            slow(&routes[1].1[2], "an/slow"),
        ],
    )
    .await?;
    if let Some(minutes) = options.soak {
        let targets = [routes[0].1[2].clone(), routes[1].1[2].clone()];
        footprint::soak(&targets, switchyard.0.id(), minutes, 100).await?;
    }
    if options.replicas {
        replicas_row(&options, &load, mock, (switchyard_port, key.clone())).await?;
    }
    Ok(())
}

/// The footprint table. `slow` holds the slow-stream targets: through
/// nginx, and through Switchyard passthrough and translating.
async fn print_footprint(
    options: &Options,
    mock: SocketAddr,
    work: &std::path::Path,
    switchyard: &Running,
    nginx: &Running,
    slow: [Target; 3],
) -> Result<()> {
    let (nginx_size, _) = footprint::stripped_size_mb(&options.nginx)?;
    let (switchyard_size, stripped) = footprint::stripped_size_mb(&options.switchyard)?;
    let data = work.join("data");
    let (sy_starts, sy_idle) =
        footprint::starts(|port| serve_command(&options.switchyard, &data, port)).await?;
    let mut run = 0;
    let (nginx_starts, nginx_idle) = footprint::starts(|port| {
        run += 1;
        let dir = work.join(format!("nginx-start-{run}"));
        nginx_command(&options.nginx, &dir, mock, port).unwrap_or_else(|_| Command::new("false"))
    })
    .await?;
    let (nginx_before, nginx_peak) = footprint::rss_under_streams(&slow[0], nginx.0.id()).await?;
    let (sy_before, sy_peak) = footprint::rss_under_streams(&slow[1], switchyard.0.id()).await?;
    let (_, sy_translated_peak) = footprint::rss_under_streams(&slow[2], switchyard.0.id()).await?;
    println!(
        "
footprint (nginx: master and {} workers; Switchyard: two providers and a key; {} starts each)",
        std::thread::available_parallelism().map_or(1, usize::from),
        footprint::STARTS
    );
    println!(
        "{:<34} {:>11} {:>11} {:>15} {:>10}",
        "", "nginx", "switchyard", "sy range", "sy / nginx"
    );
    println!(
        "{:<34} {:>8.1} MB {:>8.1} MB {:>15} {:>9.2}x",
        if stripped {
            "binary, stripped"
        } else {
            "binary (strip not found)"
        },
        nginx_size,
        switchyard_size,
        "",
        switchyard_size / nginx_size
    );
    let row = |label: &str, nginx: &[f64], switchyard: &[f64], unit: &str| {
        let (n, _) = footprint::median_and_range(nginx, unit);
        let (s, range) = footprint::median_and_range(switchyard, unit);
        println!(
            "{label:<34} {n:>11} {s:>11} {range:>15} {:>9.2}x",
            median(switchyard) / median(nginx)
        );
    };
    row("exec to first answer", &nginx_starts, &sy_starts, "ms");
    row("idle RSS, 1 s after start", &nginx_idle, &sy_idle, "MB");
    row(
        "RSS before the streams",
        &[nginx_before],
        &[sy_before],
        "MB",
    );
    row(
        &format!("RSS peak, {} streams", footprint::CONCURRENT_STREAMS),
        &[nginx_peak],
        &[sy_peak],
        "MB",
    );
    println!(
        "{:<34} {:>11} {:>8.1} MB",
        format!("  the same, translating"),
        "",
        sy_translated_peak
    );
    Ok(())
}

/// `--mock-only PORT`: serves the mock until the process is stopped.
fn mock_only() -> Option<Result<()>> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("--mock-only") {
        return None;
    }
    let port = args.next().and_then(|port| port.parse().ok());
    Some(match port {
        Some(port) => start_mock(port).map(|address| {
            println!("mock provider on http://{address}/v1");
            loop {
                std::thread::park();
            }
        }),
        None => Err(anyhow::anyhow!("--mock-only needs a port\n{USAGE}")),
    })
}

fn main() -> std::process::ExitCode {
    if let Some(Err(error)) = mock_only() {
        eprintln!("switchyard-bench: {error:#}");
        return std::process::ExitCode::FAILURE;
    }
    // reqwest's TLS (never used on loopback) needs a crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = parse_options().and_then(|options| {
        // One thread sends the sequential requests, so that a measurement
        // does not include hand-offs between the client's own threads;
        // sixteen clients need more, so the throughput runs on a
        // multi-threaded runtime of its own.
        let load = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(run(options, load.handle().clone()))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchyard-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
