//! Builds the Leptos dashboard: the `switchyard-ui` crate to wasm32, then
//! wasm-bindgen (the version locked in Cargo.lock, never a download) into
//! `ui/dist`, with the static files beside it. The desktop app embeds that
//! folder when it compiles.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::run_checked;
use crate::setup::{self, WasmToolchain};
use crate::toolchain;

/// Builds `ui/dist` with the chosen wasm toolchain (see
/// [`setup::wasm_toolchain`]); `release` optimises the wasm (smaller, faster
/// to load).
pub(crate) fn build(root: &Path, release: bool) -> Result<()> {
    let toolchain = setup::wasm_toolchain()?;
    let bindgen_out = compile(root, release, toolchain)?;
    install(root, &bindgen_out)
}

/// Compiles the dashboard with `toolchain` and runs wasm-bindgen; returns the
/// folder holding the JavaScript and wasm. Each toolchain has a target
/// directory of its own (`target/ui`, `target/ui-debian`), so neither
/// invalidates the other's cache, nor the native build's.
pub(crate) fn compile(root: &Path, release: bool, toolchain: WasmToolchain) -> Result<PathBuf> {
    let wasm_bindgen = setup::ensure_wasm_bindgen(root)?;
    let target_dir = root.join("target").join(match toolchain {
        WasmToolchain::Rustup => "ui",
        WasmToolchain::Debian => "ui-debian",
    });
    println!(
        "xtask: building the dashboard with {}",
        toolchain.describe()
    );
    let mut cargo = match toolchain {
        WasmToolchain::Rustup => crate::cargo(),
        WasmToolchain::Debian => toolchain::debian_wasm(),
    };
    cargo
        .args([
            "build",
            "--locked",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "switchyard-ui",
        ])
        .env("CARGO_TARGET_DIR", &target_dir);
    if release {
        cargo.arg("--release");
    }
    run_checked(&mut cargo)?;

    let profile = if release { "release" } else { "debug" };
    let wasm = target_dir
        .join("wasm32-unknown-unknown")
        .join(profile)
        .join("switchyard_ui.wasm");
    let bindgen_out = target_dir.join("bindgen");
    let mut bindgen = std::process::Command::new(wasm_bindgen);
    bindgen.args([
        "--target",
        "web",
        "--no-typescript",
        "--out-name",
        "switchyard_ui",
    ]);
    if release {
        // Symbol names are most of the file otherwise.
        bindgen.args(["--remove-name-section", "--remove-producers-section"]);
    }
    run_checked(bindgen.arg("--out-dir").arg(&bindgen_out).arg(&wasm))?;
    // Not run through binaryen's wasm-opt: Debian's (108) produced a module
    // that no longer starts; opt-level "z" and dropping the name section
    // are most of the gain anyway.
    let output = bindgen_out.join("switchyard_ui_bg.wasm");
    let meta = std::fs::metadata(&output)
        .with_context(|| format!("wasm-bindgen wrote no {}", output.display()))?;
    println!("xtask: dashboard wasm is {} KB", meta.len() / 1024);
    Ok(bindgen_out)
}

/// Copies the compiled dashboard and the static files into `ui/dist`.
fn install(root: &Path, bindgen_out: &Path) -> Result<()> {
    let dist = root.join("ui").join("dist");
    std::fs::create_dir_all(&dist)?;
    let static_dir = root.join("ui").join("static");
    let mut files = Vec::new();
    for folder in [bindgen_out, static_dir.as_path()] {
        let entries = std::fs::read_dir(folder)
            .with_context(|| format!("cannot read {}", folder.display()))?;
        for entry in entries {
            let entry = entry?;
            files.push((entry.path(), entry.file_name()));
        }
    }
    files.push((root.join("icons").join("128x128.png"), "icon.png".into()));
    for (source, name) in files {
        copy_if_changed(&source, &dist.join(name))?;
    }
    println!("xtask: dashboard built into {}", dist.display());
    Ok(())
}

/// Copies only when the content differs: the desktop crate embeds `ui/dist`
/// and recompiles whenever a file in it is touched.
fn copy_if_changed(source: &Path, destination: &Path) -> Result<()> {
    let content =
        std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
    if std::fs::read(destination).ok().as_deref() != Some(content.as_slice()) {
        std::fs::write(destination, content)
            .with_context(|| format!("cannot write {}", destination.display()))?;
    }
    Ok(())
}
