//! Project automation, run as `cargo xtask <command>`:
//!
//! - `run`: install what is missing, then open the desktop app (or, without a
//!   display, run the headless gateway and say so);
//! - `test`: install what is missing, then run every check and test suite;
//! - `bench`: measure the gateway (built with `pgo`; `--plain` for the plain
//!   release build) against a direct call and nginx;
//! - `pgo`: build the headless gateway with profile-guided optimisation into
//!   `target/pgo/release/switchyard`;
//! - `ui`: build the Leptos dashboard into `ui/dist`;
//! - `fuzz`: the seeded request fuzzer against the real gateway, for longer
//!   than the test command runs it (`--seconds N`, `--seed S`);
//! - `setup`: only install what `run` and `test` need;
//! - `doctor`: say what the two commands will use, what is missing and what
//!   they would install, changing nothing.
//!
//! Every install step checks first, so a second run is quick. Every cargo and
//! rustc started here runs on a pinned toolchain (see [`toolchain`]).

mod doctor;
mod headless;
mod pgo;
mod setup;
#[path = "../../tests/support/throwaway_postgres.rs"]
mod throwaway_postgres;
mod tidy;
mod toolchain;
mod ui;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <run [--release] [--headless] [-- ARGS...] | test | bench [--plain] [-- BENCH ARGS...] | pgo | ui [--debug] | fuzz [--seconds N] [--seed S] | setup | doctor>";

fn dispatch(args: &[String]) -> Result<()> {
    let root = project_root();
    std::env::set_current_dir(&root)?;
    let (command, rest) = args
        .split_first()
        .map_or(("", &[][..]), |(c, r)| (c.as_str(), r));
    let (flags, passthrough) = match rest.iter().position(|arg| arg == "--") {
        Some(split) => (&rest[..split], &rest[split + 1..]),
        None => (rest, &[][..]),
    };
    let has = |flag: &str| flags.iter().any(|arg| arg == flag);
    match command {
        "run" => run(&root, has("--release"), has("--headless"), passthrough),
        "test" => test(&root),
        "bench" => bench(&root, has("--plain"), passthrough),
        "pgo" => {
            let tools = setup::ensure(&root, setup::Purpose::Pgo)?;
            let binary = pgo::build(&root, &tools)?;
            println!("xtask: built {}", binary.display());
            Ok(())
        }
        "ui" => ui::build(&root, !has("--debug")),
        "setup" => {
            setup::ensure(&root, setup::Purpose::Test)?;
            Ok(())
        }
        "doctor" => doctor::report(&root),
        "fuzz" => {
            let value = |flag: &str| {
                flags
                    .iter()
                    .position(|arg| arg == flag)
                    .and_then(|at| flags.get(at + 1))
                    .cloned()
            };
            fuzz(&root, value("--seconds"), value("--seed"))
        }
        _ => bail!("{USAGE}"),
    }
}

/// The repository root (the parent of `xtask/`).
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Tests make many throwaway databases: their secrets keys go to files next
/// to them, never to the developer's keychain (see `crates/store/src/secrets.rs`).
const SECRET_STORE_ENV: &str = "SWITCHYARD_SECRET_STORE";

/// Builds every test target of the workspace without running them.
const TEST_BUILD: &[&str] = &[
    "test",
    "--workspace",
    "--exclude",
    "switchyard-ui",
    "--no-run",
];

/// The cargo of the toolchain that runs us, pinned (see [`toolchain`]).
fn cargo() -> Command {
    toolchain::native().cargo()
}

/// Runs `command`, failing with its description if it fails.
fn run_checked(command: &mut Command) -> Result<()> {
    let description = describe(command);
    println!("xtask: $ {description}");
    let status = command
        .status()
        .with_context(|| format!("cannot start `{description}`"))?;
    if !status.success() {
        bail!("`{description}` failed ({status})");
    }
    Ok(())
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a graphical session is available for the desktop window.
fn has_display() -> bool {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

fn run(root: &Path, release: bool, headless: bool, passthrough: &[String]) -> Result<()> {
    let profile_dir = if release { "release" } else { "debug" };
    let desktop = !headless && has_display();
    let purpose = if desktop {
        setup::Purpose::Desktop
    } else {
        setup::Purpose::Headless
    };
    setup::ensure(root, purpose)?;
    let mut build = cargo();
    build.arg("build");
    if release {
        build.arg("--release");
    }
    if desktop {
        ui::build(root, true)?;
        run_checked(build.args(["-p", "switchyard-desktop"]))?;
        let binary = root
            .join("target")
            .join(profile_dir)
            .join(exe("switchyard-desktop"));
        println!("xtask: opening the Switchyard desktop app");
        run_checked(Command::new(binary).args(passthrough))
    } else {
        if !headless {
            println!(
                "xtask: no display found (DISPLAY and WAYLAND_DISPLAY are unset): running the headless gateway instead of the desktop app"
            );
        }
        // The binary embeds the dashboard it serves in a browser.
        ui::build(root, true)?;
        run_checked(build.args(["-p", "switchyard-cli"]))?;
        let binary = root
            .join("target")
            .join(profile_dir)
            .join(exe("switchyard"));
        let mut serve = Command::new(&binary);
        if passthrough.is_empty() {
            println!(
                "xtask: starting the headless gateway; in another terminal, `{} key create` makes an API key for your tools",
                binary.display()
            );
            serve.arg("serve");
        } else {
            serve.args(passthrough);
        }
        run_checked(&mut serve)
    }
}

/// Runs `switchyard-bench` (direct call, nginx, gateway) on the gateway as
/// released (built with profile-guided optimisation), or on the plain
/// release build with `plain`.
fn bench(root: &Path, plain: bool, bench_args: &[String]) -> Result<()> {
    let tools = setup::ensure(root, setup::Purpose::Bench)?;
    let mut build = cargo();
    build.args(["build", "--release", "-p", "switchyard-bench"]);
    if plain {
        build.args(["-p", "switchyard-cli"]);
    }
    run_checked(&mut build)?;
    let release = root.join("target").join("release");
    let gateway = if plain {
        release.join(exe("switchyard"))
    } else {
        pgo::build(root, &tools)?
    };
    let nginx = if cfg!(target_os = "linux") {
        PathBuf::from("/usr/sbin/nginx")
    } else {
        PathBuf::from("nginx")
    };
    run_checked(
        Command::new(release.join(exe("switchyard-bench")))
            .arg("--switchyard")
            .arg(gateway)
            .arg("--nginx")
            .arg(nginx)
            .arg("--replicas")
            .args(bench_args),
    )
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// A named test stage and whether it passed.
struct Stage {
    name: &'static str,
    passed: bool,
}

fn test(root: &Path) -> Result<()> {
    let tools = setup::ensure(root, setup::Purpose::Test)?;

    let mut stages = Vec::new();
    let mut stage = |name: &'static str, result: Result<()>| {
        if let Err(error) = &result {
            eprintln!("xtask: stage {name} failed: {error:#}");
        }
        stages.push(Stage {
            name,
            passed: result.is_ok(),
        });
    };

    stage(
        "format",
        run_checked(cargo().args(["fmt", "--all", "--", "--check"])),
    );
    // The desktop crate embeds ui/dist at compile time: build the UI first.
    let primary_wasm = setup::wasm_toolchain();
    let ui_built = primary_wasm
        .as_ref()
        .map_err(|error| anyhow::anyhow!("{error:#}"))
        .and_then(|_| ui::build(root, true));
    let ui_ok = ui_built.is_ok();
    stage("ui-build", ui_built);
    // The other path users take must build too: Debian's toolchain where
    // rustup's target built the dashboard (its own target directory, cached).
    if matches!(primary_wasm, Ok(setup::WasmToolchain::Rustup)) {
        stage("ui-build-debian", ui_build_debian(root));
    }
    if ui_ok {
        stage(
            "clippy",
            run_checked(cargo().args([
                "clippy",
                "--workspace",
                "--exclude",
                "switchyard-ui",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])),
        );
        stage(
            "rust-tests",
            run_checked(
                cargo()
                    .args(["test", "--workspace", "--exclude", "switchyard-ui"])
                    .env(SECRET_STORE_ENV, "file"),
            ),
        );
        stage("store-postgres", store_on_postgres());
        stage("sdk-tests", sdk_tests(root, &tools));
        stage("sdk-postgres", sdk_tests_on_postgres(root, &tools));
        stage("real-clients", real_clients(root, &tools));
        stage("desktop-e2e", desktop_e2e(root, &tools));
        stage("browser-e2e", browser_e2e());
        stage("container-image", container_image(root));
    }
    stage("workflow-lint", workflow_lint(root, &tools));
    if ui_ok {
        stage("headless-run", headless_run(root));
    }

    let passed = stages.iter().filter(|stage| stage.passed).count();
    let failed = stages.len() - passed;
    println!();
    for stage in &stages {
        println!(
            "xtask: {:<14} {}",
            stage.name,
            if stage.passed { "ok" } else { "FAILED" }
        );
    }
    println!("stages: {passed} passed, {failed} failed");
    if failed > 0 || !ui_ok {
        bail!("{failed} stage(s) failed");
    }
    Ok(())
}

/// The store's own tests again, on a throwaway PostgreSQL server: every
/// data directory a test opens gets a database of its own there.
fn store_on_postgres() -> Result<()> {
    let server = std::panic::catch_unwind(throwaway_postgres::ThrowawayPostgres::start)
        .map_err(|_| anyhow::anyhow!("cannot start a throwaway PostgreSQL (see above)"))?;
    run_checked(
        cargo()
            .args(["test", "-p", "switchyard-store", "--lib"])
            .env(SECRET_STORE_ENV, "file")
            .env(
                "SWITCHYARD_TEST_POSTGRES",
                format!("postgres://switchyard@127.0.0.1:{}", server.port()),
            ),
    )
}

/// The dashboard built with Debian's fallback toolchain, into
/// `target/ui-debian` (not installed into `ui/dist`).
fn ui_build_debian(root: &Path) -> Result<()> {
    setup::ensure_debian_wasm_toolchain()?;
    ui::compile(root, true, setup::WasmToolchain::Debian).map(|_| ())
}

/// `cargo xtask run` as a user without a display takes it: this xtask runs
/// `run --headless -- serve` on a free port with a new data folder; the
/// gateway must say where it listens and how to get an API key, answer
/// `/health`, and stop within ten seconds of SIGTERM.
fn headless_run(root: &Path) -> Result<()> {
    headless::check(root)
}

/// The seeded fuzzer (`tests/sdk/test_fuzz.py`) against the gateway the
/// tests build, for `seconds` (default 600) from `seed` (default random).
fn fuzz(root: &Path, seconds: Option<String>, seed: Option<String>) -> Result<()> {
    let tools = setup::ensure(root, setup::Purpose::Pgo)?;
    run_checked(cargo().args(["build", "-p", "switchyard-cli"]))?;
    let binary = root.join("target").join("debug").join(exe("switchyard"));
    let mut command = Command::new(&tools.python);
    command
        .args(["-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"])
        .arg("tests/sdk/test_fuzz.py")
        .env("SWITCHYARD_BIN", binary)
        .env(SECRET_STORE_ENV, "file")
        .env("FUZZ_SECONDS", seconds.unwrap_or_else(|| "600".to_owned()));
    if let Some(seed) = seed {
        command.env("FUZZ_SEED", seed);
    }
    run_checked(&mut command)
}

/// The official `openai` Python SDK against the real `switchyard serve`.
fn sdk_tests(root: &Path, tools: &setup::Tools) -> Result<()> {
    let binary = root.join("target").join("debug").join(exe("switchyard"));
    // The binary the Rust tests built (same features: nothing is rebuilt).
    run_checked(cargo().args(TEST_BUILD))?;
    run_checked(&mut sdk_suite(tools, &binary))
}

/// The SDK suite again with every gateway on a PostgreSQL database of its
/// own (a throwaway server; `psql` creates the databases).
fn sdk_tests_on_postgres(root: &Path, tools: &setup::Tools) -> Result<()> {
    let binary = root.join("target").join("debug").join(exe("switchyard"));
    let server = std::panic::catch_unwind(throwaway_postgres::ThrowawayPostgres::start)
        .map_err(|_| anyhow::anyhow!("cannot start a throwaway PostgreSQL (see above)"))?;
    run_checked(cargo().args(TEST_BUILD))?;
    run_checked(sdk_suite(tools, &binary).env(
        "SWITCHYARD_TEST_POSTGRES",
        format!("postgres://switchyard@127.0.0.1:{}", server.port()),
    ))
}

/// The real coding CLIs from npm (and Aider from PyPI) against the gateway
/// the tests built (`tests/clients`; it installs the pinned tools into
/// `target/real-clients` once and prints the tool x upstream table).
///
/// The four tools most people route run every scenario against every
/// upstream; `SWITCHYARD_CLIENTS=all` adds the others (Qwen Code, Continue,
/// Kilo Code, Droid, Cline, OpenClaw, Aider: about half an hour more on two
/// cores), or names the tools to run (`SWITCHYARD_CLIENTS=codex,cline`).
fn real_clients(root: &Path, tools: &setup::Tools) -> Result<()> {
    let binary = root.join("target").join("debug").join(exe("switchyard"));
    run_checked(cargo().args(TEST_BUILD))?;
    let chosen = std::env::var("SWITCHYARD_CLIENTS")
        .unwrap_or_else(|_| "claude-code,codex,gemini-cli,opencode".to_owned());
    let mut command = Command::new(&tools.python);
    command
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/clients",
        ])
        .env("SWITCHYARD_BIN", binary)
        .env(SECRET_STORE_ENV, "file");
    if chosen.trim() != "all" {
        let selection: Vec<String> = chosen
            .split(',')
            .map(str::trim)
            .filter(|tool| !tool.is_empty())
            .map(|tool| format!("{tool}-to-"))
            .collect();
        println!("xtask: real clients: {chosen} (SWITCHYARD_CLIENTS=all runs every tool)");
        command.arg("-k").arg(selection.join(" or "));
    }
    run_checked(&mut command)
}

/// The SDK test suite (tests/sdk) against the gateway `binary`.
fn sdk_suite(tools: &setup::Tools, binary: &Path) -> Command {
    let mut command = Command::new(&tools.python);
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/sdk"])
        .env("SWITCHYARD_BIN", binary)
        .env(SECRET_STORE_ENV, "file");
    command
}

/// The real desktop window under Xvfb, driven through tauri-driver.
fn desktop_e2e(root: &Path, tools: &setup::Tools) -> Result<()> {
    let Some(tauri_driver) = &tools.tauri_driver else {
        println!(
            "xtask: desktop end-to-end test skipped: WebDriver for the Tauri window exists only on Linux and Windows, and this set-up covers Linux"
        );
        return Ok(());
    };
    // The test stage's build, features and all: nothing is built again.
    run_checked(cargo().args(TEST_BUILD))?;
    let mut command = if has_display() {
        cargo()
    } else {
        let mut command = Command::new("xvfb-run");
        command.args([
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            "dbus-run-session",
            "--",
        ]);
        command.arg(&toolchain::native().cargo);
        toolchain::native().pin(&mut command);
        command
    };
    command
        // Every test binary of the workspace, running only the ignored tests:
        // the desktop end-to-end ones. Selecting `--test desktop_e2e` instead
        // would resolve features differently and rebuild Tauri.
        .args([
            "test",
            "--workspace",
            "--exclude",
            "switchyard-ui",
            "--",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            // The browser journeys have a stage of their own.
            "--skip",
            "browser_",
        ])
        .env("TAURI_DRIVER", tauri_driver)
        .env(SECRET_STORE_ENV, "file")
        .env(
            "SWITCHYARD_E2E_SCREENSHOT",
            root.join("target").join("e2e").join("overview.png"),
        );
    run_checked(&mut command)
}

/// The dashboard `switchyard serve` offers, in headless Chromium through
/// ChromeDriver (`crates/cli/tests/browser.rs`, ignored by plain `cargo
/// test`); screenshots go to `target/browser/`.
fn browser_e2e() -> Result<()> {
    if !Path::new("/usr/bin/chromedriver").exists() && std::env::var_os("CHROMEDRIVER").is_none() {
        bail!(
            "ChromeDriver is missing: `cargo xtask setup` installs Debian's chromium and chromium-driver"
        );
    }
    // The test stage's build: nothing is built again.
    run_checked(cargo().args(TEST_BUILD))?;
    run_checked(cargo().args([
        "test",
        "--workspace",
        "--exclude",
        "switchyard-ui",
        "--",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "browser_",
    ]))
}

/// The `Dockerfile`'s image, built with podman around the binary the test
/// stage built and run as a user would (`tests/container/check_image.py`).
fn container_image(root: &Path) -> Result<()> {
    run_checked(cargo().args(TEST_BUILD))?;
    let binary = root.join("target").join("debug").join("switchyard");
    run_checked(
        Command::new("python3")
            .arg(root.join("tests").join("container").join("check_image.py"))
            .arg(&binary)
            .current_dir(root),
    )
}

/// actionlint (from PyPI) on the CI and release workflows.
fn workflow_lint(root: &Path, tools: &setup::Tools) -> Result<()> {
    let workflows = root.join(".github").join("workflows");
    run_checked(
        Command::new(&tools.actionlint)
            .arg(workflows.join("ci.yml"))
            .arg(workflows.join("release.yml")),
    )
}
