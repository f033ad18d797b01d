//! Installs what building, running and testing need, checking first so that a
//! second run does nothing: Debian/Ubuntu system packages, a wasm32 toolchain
//! (rustup's target, or Debian's rustc-web with its std sources where rustup
//! cannot download), wasm-bindgen-cli of the version in Cargo.lock,
//! tauri-driver, and a Python virtual environment with the official SDKs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::run_checked;
use crate::toolchain::{self, DEBIAN_CARGO, DEBIAN_RUSTC, DEBIAN_WASM_LD};

/// What the set-up prepares for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The headless `switchyard` binary only.
    Headless,
    /// The desktop app and its wasm dashboard.
    Desktop,
    /// Everything the test command runs.
    Test,
    /// The profile-guided build: the SDK environment it trains with (and
    /// `llvm-profdata`, see [`ensure_llvm_profdata`]).
    Pgo,
    /// The benchmark: what [`Purpose::Pgo`] needs, and nginx.
    Bench,
}

pub(crate) const BASE_PACKAGES: &[&str] = &["build-essential", "pkg-config", "libssl-dev"];
pub(crate) const DESKTOP_PACKAGES: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libsoup-3.0-dev",
];
pub(crate) const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "dbus-x11",
    "webkit2gtk-driver",
    "python3-venv",
    // The served dashboard's browser tests.
    "chromium",
    "chromium-driver",
    // The container image: built and run with podman, its Debian base made
    // with debootstrap (no registry is needed).
    "podman",
    "buildah",
    "runc",
    "debootstrap",
    "uidmap",
    "slirp4netns",
    "fuse-overlayfs",
    // Team mode's tests: a throwaway PostgreSQL server (initdb, postgres, psql).
    "postgresql",
];
/// Node.js and npm for the real coding CLIs, where the machine has none
/// (the suite then runs the tools on the Node 24 it installs from npm).
const NODE_PACKAGES: &[&str] = &["nodejs", "npm"];
/// Debian's own Rust with std sources, for building std for wasm32 ourselves.
pub(crate) const WASM_FALLBACK_PACKAGES: &[&str] =
    &["rustc-web", "cargo-web", "rust-web-src", "lld-19"];
/// Where `rust-web-src` puts the standard library's sources.
const DEBIAN_RUST_SRC: &str = "/usr/lib/rustlib/src/rust/library";

/// Paths to the tools the test command uses.
pub(crate) struct Tools {
    /// Python of the SDK virtual environment.
    pub(crate) python: PathBuf,
    /// actionlint from the same environment.
    pub(crate) actionlint: PathBuf,
    /// tauri-driver, where the desktop end-to-end test can run.
    pub(crate) tauri_driver: Option<PathBuf>,
}

/// How the UI is compiled to wasm32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WasmToolchain {
    /// rustup's toolchain (the one running the xtask) with its wasm32 target.
    Rustup,
    /// Debian's rustc-web builds std for wasm32 from its sources.
    Debian,
}

impl WasmToolchain {
    /// What the toolchain is, for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Rustup => "rustup's wasm32-unknown-unknown target",
            Self::Debian => "Debian's rustc-web (std built for wasm32 from rust-web-src)",
        }
    }
}

/// Chooses the wasm toolchain: `rustup`, `debian`, or `auto` (unset; the
/// default: rustup's target wherever rustup can add it, else Debian's).
pub(crate) const WASM_TOOLCHAIN_ENV: &str = "SWITCHYARD_WASM_TOOLCHAIN";

/// The wasm toolchain asked for by [`WASM_TOOLCHAIN_ENV`]; `None` for auto.
pub(crate) fn requested_wasm_toolchain() -> Result<Option<WasmToolchain>> {
    match std::env::var(WASM_TOOLCHAIN_ENV).unwrap_or_default().trim() {
        "" | "auto" => Ok(None),
        "rustup" => Ok(Some(WasmToolchain::Rustup)),
        "debian" => Ok(Some(WasmToolchain::Debian)),
        other => bail!("{WASM_TOOLCHAIN_ENV}={other}: expected rustup, debian or auto"),
    }
}

/// Installs what `purpose` needs; for [`Purpose::Test`] also the test tools.
pub(crate) fn ensure(root: &Path, purpose: Purpose) -> Result<Tools> {
    let mut packages: Vec<&str> = BASE_PACKAGES.to_vec();
    if matches!(purpose, Purpose::Pgo | Purpose::Bench) {
        packages.push("python3-venv");
        if purpose == Purpose::Bench {
            // nginx is a column; PostgreSQL the replicas row.
            packages.push("nginx");
            packages.push("postgresql");
        }
        ensure_system_packages(&packages)?;
        // The gateway as released embeds the dashboard.
        wasm_toolchain()?;
        ensure_wasm_bindgen(root)?;
        let (python, actionlint) = ensure_python_env(root)?;
        return Ok(Tools {
            python,
            actionlint,
            tauri_driver: None,
        });
    }
    if purpose != Purpose::Headless {
        packages.extend(DESKTOP_PACKAGES);
    }
    if purpose == Purpose::Test {
        packages.extend(TEST_PACKAGES);
    }
    ensure_system_packages(&packages)?;
    // Every purpose left builds the dashboard (the headless binary serves it too).
    wasm_toolchain()?;
    ensure_wasm_bindgen(root)?;
    let tauri_driver = if purpose == Purpose::Test && cfg!(target_os = "linux") {
        Some(ensure_cargo_tool("tauri-driver", "tauri-driver", "^2")?)
    } else {
        None
    };
    if purpose == Purpose::Test && !has_program("npm") {
        ensure_system_packages(NODE_PACKAGES)?;
    }
    let (python, actionlint) = if purpose == Purpose::Test {
        ensure_python_env(root)?
    } else {
        (PathBuf::new(), PathBuf::new())
    };
    Ok(Tools {
        python,
        actionlint,
        tauri_driver,
    })
}

/// Whether `program` runs (is on `PATH`).
pub(crate) fn has_program(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Oldest LLVM whose `llvm-profdata` reads the raw profiles rustc's LLVM
/// writes (raw format version 10, since LLVM 19).
const OLDEST_PROFDATA_LLVM: u32 = 19;
/// The Debian/Ubuntu package installed when no suitable `llvm-profdata` is found.
const PROFDATA_PACKAGE: &str = "llvm-19";

/// An `llvm-profdata` that can merge rustc's profiles: rustup's `llvm-tools`
/// where installed, else a system LLVM of version 19 or later, else one
/// installed now (`llvm-19` with apt, or rustup's component elsewhere).
pub(crate) fn ensure_llvm_profdata() -> Result<PathBuf> {
    if let Some(found) = find_llvm_profdata() {
        return Ok(found);
    }
    if has_apt() {
        ensure_system_packages(&[PROFDATA_PACKAGE])?;
    } else {
        println!("xtask: installing rustup's llvm-tools for llvm-profdata");
        if let Some(mut add) = toolchain::native().rustup(&["component", "add", "llvm-tools"]) {
            run_with_timeout(&mut add, Duration::from_secs(300));
        }
    }
    find_llvm_profdata().context(
        "no llvm-profdata of LLVM 19 or later: install rustup's llvm-tools component (`rustup component add llvm-tools`) or your distribution's llvm-19",
    )
}

fn find_llvm_profdata() -> Option<PathBuf> {
    let profdata = crate::exe("llvm-profdata");
    // rustup's llvm-tools: the same LLVM as rustc.
    let sysroot = toolchain::native()
        .rustc()
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let rustup_tools = sysroot.and_then(|sysroot| {
        std::fs::read_dir(sysroot.join("lib").join("rustlib"))
            .ok()?
            .flatten()
            .map(|target| target.path().join("bin").join(&profdata))
            .find(|path| path.exists())
    });
    // Else a system LLVM, newest first (Debian names them llvm-profdata-N).
    rustup_tools.or_else(|| {
        (OLDEST_PROFDATA_LLVM..=40).rev().find_map(|version| {
            [
                PathBuf::from(format!("/usr/lib/llvm-{version}/bin/llvm-profdata")),
                PathBuf::from(format!("/usr/bin/llvm-profdata-{version}")),
            ]
            .into_iter()
            .find(|path| path.exists())
        })
    })
}

pub(crate) fn has_apt() -> bool {
    cfg!(target_os = "linux")
        && Path::new("/usr/bin/apt-get").exists()
        && Path::new("/usr/bin/dpkg-query").exists()
}

/// Packages from `wanted` that dpkg does not list as installed.
pub(crate) fn missing_packages<'a>(wanted: &[&'a str]) -> Result<Vec<&'a str>> {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${db:Status-Abbrev}\n"])
        .args(wanted)
        .stderr(Stdio::null())
        .output()
        .context("cannot run dpkg-query")?;
    let listing = String::from_utf8_lossy(&output.stdout);
    let installed: Vec<&str> = listing
        .lines()
        .filter(|line| line.split_whitespace().nth(1) == Some("ii"))
        .filter_map(|line| line.split_whitespace().next())
        .map(|name| name.split(':').next().unwrap_or(name))
        .collect();
    Ok(wanted
        .iter()
        .copied()
        .filter(|package| !installed.contains(package))
        .collect())
}

fn ensure_system_packages(wanted: &[&str]) -> Result<()> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    if !has_apt() {
        println!(
            "xtask: not a Debian/Ubuntu system: make sure these (or your distribution's equivalents) are installed: {}",
            wanted.join(" ")
        );
        return Ok(());
    }
    let missing = missing_packages(wanted)?;
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing system packages: {}", missing.join(" "));
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    apt(&install)
}

fn apt(args: &[&str]) -> Result<()> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false);
    let mut command = if is_root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    };
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    run_checked(&mut command)
}

/// Whether the toolchain running the xtask has the wasm32 standard library.
pub(crate) fn rustup_has_wasm_target() -> bool {
    toolchain::native()
        .rustc()
        .args([
            "--print",
            "target-libdir",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .is_some_and(|entries| {
            entries
                .flatten()
                .any(|entry| entry.file_name().to_string_lossy().starts_with("libcore-"))
        })
}

/// Whether Debian's wasm toolchain (rustc-web, its std sources, wasm-ld) is installed.
pub(crate) fn debian_wasm_toolchain_present() -> bool {
    [DEBIAN_RUSTC, DEBIAN_CARGO, DEBIAN_WASM_LD, DEBIAN_RUST_SRC]
        .iter()
        .all(|path| Path::new(path).exists())
}

/// Adds rustup's wasm32 target to the toolchain running the xtask; whether
/// it is there afterwards.
fn add_rustup_wasm_target(limit: Duration) -> bool {
    let Some(mut add) = toolchain::native().rustup(&["target", "add", "wasm32-unknown-unknown"])
    else {
        return false;
    };
    println!("xtask: adding the wasm32-unknown-unknown target with rustup");
    run_with_timeout(&mut add, limit) && rustup_has_wasm_target()
}

/// Picks (installing if needed) the toolchain that builds the UI: the one
/// [`WASM_TOOLCHAIN_ENV`] names, else rustup's target where rustup has or can
/// add it, else Debian's.
pub(crate) fn wasm_toolchain() -> Result<WasmToolchain> {
    match requested_wasm_toolchain()? {
        Some(WasmToolchain::Rustup) => {
            if rustup_has_wasm_target() || add_rustup_wasm_target(Duration::from_secs(300)) {
                return Ok(WasmToolchain::Rustup);
            }
            bail!(
                "{WASM_TOOLCHAIN_ENV}=rustup, but rustup cannot add the wasm32-unknown-unknown target to {}",
                toolchain::native().describe()
            )
        }
        Some(WasmToolchain::Debian) => ensure_debian_wasm_toolchain(),
        None => {
            if rustup_has_wasm_target() || add_rustup_wasm_target(Duration::from_secs(90)) {
                return Ok(WasmToolchain::Rustup);
            }
            if !has_apt() {
                bail!(
                    "cannot install the wasm32-unknown-unknown target: run `rustup target add wasm32-unknown-unknown`"
                );
            }
            println!(
                "xtask: rustup could not add the wasm32 target: using Debian's rustc-web and building std for wasm32"
            );
            ensure_debian_wasm_toolchain()
        }
    }
}

/// Installs Debian's wasm toolchain where missing.
pub(crate) fn ensure_debian_wasm_toolchain() -> Result<WasmToolchain> {
    if !has_apt() {
        bail!("Debian's wasm toolchain needs a Debian or Ubuntu system (apt)");
    }
    ensure_system_packages(WASM_FALLBACK_PACKAGES)?;
    if !debian_wasm_toolchain_present() {
        bail!(
            "Debian's wasm toolchain is incomplete after installing {}",
            WASM_FALLBACK_PACKAGES.join(" ")
        );
    }
    Ok(WasmToolchain::Debian)
}

/// Runs `command`, killing it after `limit`; returns whether it succeeded in time.
fn run_with_timeout(command: &mut Command, limit: Duration) -> bool {
    let Ok(mut child) = command.spawn() else {
        return false;
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(250)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                println!("xtask: gave up after {} s", limit.as_secs());
                return false;
            }
        }
    }
}

/// `$CARGO_HOME/bin`, where `cargo install` puts tools.
pub(crate) fn cargo_bin_dir() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .or_else(|| std::env::var_os("USERPROFILE"))
                .map(|home| PathBuf::from(home).join(".cargo"))
        })
        .unwrap_or_else(|| PathBuf::from(".cargo"))
        .join("bin")
}

/// The version of `package` recorded in Cargo.lock.
pub(crate) fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock =
        std::fs::read_to_string(root.join("Cargo.lock")).context("cannot read Cargo.lock")?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + needle.len();
    let end = lock[start..].find('"').context("malformed Cargo.lock")?;
    Ok(lock[start..start + end].to_owned())
}

/// The path of wasm-bindgen matching the `wasm-bindgen` crate in Cargo.lock.
pub(crate) fn ensure_wasm_bindgen(root: &Path) -> Result<PathBuf> {
    let version = locked_version(root, "wasm-bindgen")?;
    let binary = cargo_bin_dir().join(crate::exe("wasm-bindgen"));
    let installed = Command::new(&binary)
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    if installed == format!("wasm-bindgen {version}") {
        return Ok(binary);
    }
    cargo_install("wasm-bindgen-cli", &format!("={version}"))?;
    Ok(binary)
}

/// The path of `binary` from crate `package`, installing it with cargo if absent.
fn ensure_cargo_tool(package: &str, binary: &str, version: &str) -> Result<PathBuf> {
    let path = cargo_bin_dir().join(crate::exe(binary));
    if !path.exists() {
        cargo_install(package, version)?;
    }
    Ok(path)
}

/// `cargo install`, with the crate's own lock file first and, should the
/// registry lack a version it names, without it.
fn cargo_install(package: &str, version: &str) -> Result<()> {
    let attempt = |locked: bool| {
        let mut command = crate::cargo();
        command.args(["install", package, "--version", version]);
        if locked {
            command.arg("--locked");
        }
        run_checked(&mut command)
    };
    attempt(true).or_else(|error| {
        println!("xtask: {error:#}; retrying without --locked");
        attempt(false)
    })
}

/// A virtual environment under target/ with tests/sdk/requirements.txt installed.
fn ensure_python_env(root: &Path) -> Result<(PathBuf, PathBuf)> {
    let venv = root.join("target").join("sdk-venv");
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let python = bin.join(crate::exe("python"));
    let actionlint = bin.join(crate::exe("actionlint"));
    let requirements_path = root.join("tests").join("sdk").join("requirements.txt");
    let requirements = std::fs::read_to_string(&requirements_path)
        .context("cannot read tests/sdk/requirements.txt")?;
    let stamp = venv.join("installed-requirements.txt");
    if python.exists()
        && std::fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str())
    {
        return Ok((python, actionlint));
    }
    if !python.exists() {
        let system_python = if cfg!(windows) { "python" } else { "python3" };
        run_checked(Command::new(system_python).args(["-m", "venv"]).arg(&venv))?;
    }
    run_checked(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements_path),
    )?;
    std::fs::write(&stamp, requirements)?;
    Ok((python, actionlint))
}
