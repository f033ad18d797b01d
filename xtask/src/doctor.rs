//! `cargo xtask doctor`: what the two commands (`run` and `test`) will use on
//! this machine, what is missing and what they would install, on one screen.
//! It changes nothing.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::setup::{self, WasmToolchain};
use crate::toolchain::{self, version_of};

/// Prints the report.
pub(crate) fn report(root: &Path) -> Result<()> {
    let native = toolchain::native();
    let mut installs: Vec<String> = Vec::new();
    println!("Switchyard doctor: what `cargo xtask run` and `cargo xtask test` use here");
    row("Rust", &native.describe());
    row("cargo", &native.cargo.display().to_string());

    let requested = setup::requested_wasm_toolchain();
    let has_target = setup::rustup_has_wasm_target();
    let debian = setup::debian_wasm_toolchain_present();
    let choice = match &requested {
        Err(error) => format!("{error}"),
        Ok(Some(WasmToolchain::Debian)) => {
            format!("{}=debian: Debian's rustc-web", setup::WASM_TOOLCHAIN_ENV)
        }
        Ok(requested) => {
            let source = if requested.is_some() {
                format!("{}=rustup", setup::WASM_TOOLCHAIN_ENV)
            } else {
                "auto".to_owned()
            };
            if has_target {
                format!("{source}: rustup's wasm32 target (installed)")
            } else {
                installs.push("rustup target add wasm32-unknown-unknown".to_owned());
                format!(
                    "{source}: rustup's wasm32 target (missing: will be added; where rustup cannot, Debian's rustc-web)"
                )
            }
        }
    };
    row("wasm (dashboard)", &choice);
    let debian_state = if debian {
        "installed (the test command also builds the dashboard with it)".to_owned()
    } else if setup::has_apt() {
        installs.push(format!(
            "apt-get install {}",
            setup::WASM_FALLBACK_PACKAGES.join(" ")
        ));
        "missing (the test command installs it to prove the fallback builds)".to_owned()
    } else {
        "not available (no apt)".to_owned()
    };
    row("wasm fallback", &debian_state);

    let bindgen_path = setup::cargo_bin_dir().join(crate::exe("wasm-bindgen"));
    let wanted = setup::locked_version(root, "wasm-bindgen").unwrap_or_default();
    let have = version_of(Command::new(&bindgen_path).arg("--version"));
    if have == format!("wasm-bindgen {wanted}") {
        row("wasm-bindgen", &format!("{wanted} (as Cargo.lock)"));
    } else {
        installs.push(format!(
            "cargo install wasm-bindgen-cli --version ={wanted}"
        ));
        row(
            "wasm-bindgen",
            &format!("{have}; Cargo.lock wants {wanted}: will install"),
        );
    }
    let tauri_driver = setup::cargo_bin_dir().join(crate::exe("tauri-driver"));
    if tauri_driver.exists() {
        row("tauri-driver", &tauri_driver.display().to_string());
    } else if cfg!(target_os = "linux") {
        installs.push("cargo install tauri-driver --version ^2".to_owned());
        row(
            "tauri-driver",
            "missing: will install (desktop end-to-end test)",
        );
    }

    if setup::has_apt() {
        for (label, packages) in [
            ("packages (run)", setup::BASE_PACKAGES.to_vec()),
            ("packages (desktop)", setup::DESKTOP_PACKAGES.to_vec()),
            ("packages (test)", setup::TEST_PACKAGES.to_vec()),
        ] {
            let missing = setup::missing_packages(&packages)?;
            if missing.is_empty() {
                row(label, "all installed");
            } else {
                installs.push(format!("apt-get install {}", missing.join(" ")));
                row(label, &format!("missing: {}", missing.join(" ")));
            }
        }
    } else {
        row(
            "system packages",
            "not a Debian/Ubuntu system: install the equivalents of the README's list",
        );
    }

    let venv_python = root
        .join("target")
        .join("sdk-venv")
        .join("bin")
        .join("python");
    if venv_python.exists() {
        row("Python (SDK tests)", &format!("{}", venv_python.display()));
    } else {
        installs.push("python3 -m venv target/sdk-venv + tests/sdk/requirements.txt".to_owned());
        row(
            "Python (SDK tests)",
            &format!(
                "{} : will create target/sdk-venv",
                version_of(Command::new("python3").arg("--version"))
            ),
        );
    }
    let node = version_of(Command::new("node").arg("--version"));
    let npm = version_of(Command::new("npm").arg("--version"));
    if setup::has_program("npm") {
        row(
            "Node.js (CLIs)",
            &format!("node {node}, npm {npm}; the coding CLIs go to target/real-clients"),
        );
    } else {
        installs.push("apt-get install nodejs npm".to_owned());
        row("Node.js (CLIs)", "npm missing: will install nodejs and npm");
    }

    let display = ["DISPLAY", "WAYLAND_DISPLAY"].iter().find_map(|name| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| format!("{name}={v}"))
    });
    row(
        "display",
        &match display {
            Some(display) => format!("{display}: `run` opens the desktop app"),
            None => "none: `run` starts the headless gateway; the desktop test runs under Xvfb"
                .to_owned(),
        },
    );
    println!();
    if installs.is_empty() {
        println!("Nothing to install: both commands are ready.");
    } else {
        println!("The commands would install (each only once):");
        for install in installs {
            println!("  - {install}");
        }
    }
    Ok(())
}

fn row(label: &str, value: &str) {
    println!("  {label:<20} {value}");
}
