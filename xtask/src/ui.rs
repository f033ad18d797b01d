//! Builds the Leptos dashboard: the `switchyard-ui` crate to wasm32, then
//! wasm-bindgen (the version locked in Cargo.lock, never a download) into
//! `ui/dist`, with the static files beside it. The desktop app embeds that
//! folder when it compiles.

use std::path::Path;

use anyhow::{Context, Result};

use crate::run_checked;
use crate::setup::{self, DEBIAN_CARGO, DEBIAN_RUSTC, DEBIAN_WASM_LD, WasmToolchain};

/// Builds `ui/dist`; `release` optimises the wasm (smaller, faster to load).
pub(crate) fn build(root: &Path, release: bool) -> Result<()> {
    let toolchain = setup::wasm_toolchain()?;
    let wasm_bindgen = setup::ensure_wasm_bindgen(root)?;
    // A target directory of its own: the Debian toolchain's artefacts must not
    // invalidate the native ones.
    let target_dir = root.join("target").join("ui");
    let mut cargo = match toolchain {
        WasmToolchain::Rustup => crate::cargo(),
        WasmToolchain::Debian => {
            let mut cargo = std::process::Command::new(DEBIAN_CARGO);
            cargo
                .env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort")
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", DEBIAN_WASM_LD);
            cargo
        }
    };
    cargo
        .args([
            "build",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "switchyard-ui",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // rustup's choices must not leak into Debian's cargo.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC_WRAPPER");
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
    if let Ok(meta) = std::fs::metadata(&output) {
        println!("xtask: dashboard wasm is {} KB", meta.len() / 1024);
    }

    let dist = root.join("ui").join("dist");
    std::fs::create_dir_all(&dist)?;
    let static_dir = root.join("ui").join("static");
    let mut files = Vec::new();
    for folder in [&bindgen_out, &static_dir] {
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
