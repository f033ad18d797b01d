//! The headless gateway built with profile-guided optimisation (PGO).
//!
//! An instrumented release build of `switchyard` serves the SDK test suite:
//! every client dialect against every upstream format, streamed and not,
//! tool calls, errors and fallbacks. The profile it writes tells the second
//! release build which code is hot, so the compiler lays the request path out
//! together and keeps the rest out of its way. Most of a request's time on a
//! small machine goes to fetching code and data that other processes pushed
//! out of the caches while the gateway waited, so the layout counts more than
//! the instruction count (see the README's Speed section for what it gains).
//!
//! The profile comes from the tests, not from the benchmark: what gets
//! optimised is the gateway's whole job, not the bench's few requests.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, exe, run_checked, setup};

/// Where the instrumented build goes (its own target directory: the flags
/// differ from the normal build's, which stays cached).
const TRAINING_TARGET: &str = "pgo-training";
/// Where the optimised build goes; its binary is `target/pgo/release/switchyard`.
const OPTIMISED_TARGET: &str = "pgo";

/// Builds `target/pgo/release/switchyard` and returns its path.
pub(crate) fn build(root: &Path, tools: &setup::Tools) -> Result<PathBuf> {
    // The released binary serves the dashboard: build it first.
    crate::ui::build(root, true)?;
    let profdata_tool = setup::ensure_llvm_profdata()?;
    let target = root.join("target");
    let raw = target.join(OPTIMISED_TARGET).join("raw-profiles");
    let merged = target.join(OPTIMISED_TARGET).join("switchyard.profdata");

    println!("xtask: PGO 1/4: instrumented release build");
    run_checked(release_build(&target.join(TRAINING_TARGET)).env(
        ENCODED_RUSTFLAGS,
        rustflags(format!("-Cprofile-generate={}", raw.display())),
    ))?;
    let instrumented = target
        .join(TRAINING_TARGET)
        .join("release")
        .join(exe("switchyard"));

    println!("xtask: PGO 2/4: the SDK test suite against the instrumented gateway");
    // Build scripts of the instrumented build wrote profiles too: start clean.
    if raw.exists() {
        std::fs::remove_dir_all(&raw).with_context(|| format!("cannot clear {}", raw.display()))?;
    }
    std::fs::create_dir_all(&raw)?;
    run_checked(
        // %4m: processes merge into a pool of four files as they exit.
        crate::sdk_suite(tools, &instrumented)
            .env("LLVM_PROFILE_FILE", raw.join("switchyard-%4m.profraw")),
    )
    .context("the training run (the SDK tests against the instrumented gateway) failed")?;

    println!("xtask: PGO 3/4: merging the profiles");
    let profiles: Vec<PathBuf> = std::fs::read_dir(&raw)?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "profraw"))
        .collect();
    if profiles.is_empty() {
        bail!("the training run wrote no profile to {}", raw.display());
    }
    run_checked(
        Command::new(&profdata_tool)
            .arg("merge")
            .arg("-o")
            .arg(&merged)
            .args(&profiles),
    )
    .with_context(|| {
        format!(
            "{} cannot merge rustc's profiles; rustup's llvm-tools component has the matching one",
            profdata_tool.display()
        )
    })?;

    println!("xtask: PGO 4/4: optimised release build");
    let optimised = target.join(OPTIMISED_TARGET);
    run_checked(release_build(&optimised).env(
        ENCODED_RUSTFLAGS,
        rustflags(format!("-Cprofile-use={}", merged.display())),
    ))?;
    Ok(optimised.join("release").join(exe("switchyard")))
}

/// `cargo build --release` of the headless gateway into `target_dir`.
fn release_build(target_dir: &Path) -> Command {
    let mut command = cargo();
    command
        .args(["build", "--release", "--locked", "-p", "switchyard-cli"])
        .arg("--target-dir")
        .arg(target_dir);
    command
}

/// Cargo's rustflags variable that allows spaces (in paths) within a flag.
const ENCODED_RUSTFLAGS: &str = "CARGO_ENCODED_RUSTFLAGS";

/// The caller's rustflags with `flag` added, encoded for [`ENCODED_RUSTFLAGS`]
/// (flags separated by 0x1f).
fn rustflags(flag: String) -> String {
    let mut flags: Vec<String> = match std::env::var(ENCODED_RUSTFLAGS) {
        Ok(encoded) if !encoded.is_empty() => encoded.split('\x1f').map(str::to_owned).collect(),
        _ => std::env::var("RUSTFLAGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    };
    flags.push(flag);
    flags.join("\x1f")
}
