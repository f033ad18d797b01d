//! The Rust toolchains the xtask spawns, pinned so that nothing below chooses
//! another one.
//!
//! rustup's `cargo` and `rustc` are proxies: without `RUSTUP_TOOLCHAIN` they
//! pick the toolchain from the nearest `rust-toolchain.toml` of the directory
//! they run in, and some published crates ship one inside their package (seen:
//! `convert_case` 0.11.0 pinning 1.91.1). Every cargo and rustc started here
//! therefore comes from [`native`] (the toolchain that runs the xtask, by its
//! absolute path and name) or [`debian_wasm`] (Debian's, with rustup's
//! choices removed), never from `PATH` alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Debian's toolchain pieces used by [`debian_wasm`].
pub(crate) const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
/// Debian's cargo (package `cargo-web` or `cargo`).
pub(crate) const DEBIAN_CARGO: &str = "/usr/bin/cargo";
/// The wasm linker of Debian's LLVM 19 (package `lld-19`).
pub(crate) const DEBIAN_WASM_LD: &str = "/usr/lib/llvm-19/bin/wasm-ld";

/// The toolchain that runs the xtask.
#[derive(Debug, Clone)]
pub(crate) struct Native {
    /// The real cargo binary (not rustup's proxy).
    pub(crate) cargo: PathBuf,
    /// The rustc beside it.
    pub(crate) rustc: PathBuf,
    /// rustup's name for the toolchain, where rustup manages it.
    pub(crate) rustup_name: Option<String>,
}

/// The toolchain that runs the xtask, found once.
pub(crate) fn native() -> &'static Native {
    static NATIVE: OnceLock<Native> = OnceLock::new();
    NATIVE.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
        let rustc = cargo
            .parent()
            .map(|bin| bin.join(crate::exe("rustc")))
            .filter(|rustc| rustc.exists())
            .unwrap_or_else(|| PathBuf::from("rustc"));
        Native {
            rustup_name: rustup_name(&cargo),
            cargo,
            rustc,
        }
    })
}

/// rustup's name for the toolchain holding `cargo`: `RUSTUP_TOOLCHAIN` as
/// rustup's proxy set it, else the folder under `$RUSTUP_HOME/toolchains`.
fn rustup_name(cargo: &Path) -> Option<String> {
    if let Ok(name) = std::env::var("RUSTUP_TOOLCHAIN")
        && !name.is_empty()
    {
        return Some(name);
    }
    let toolchain_dir = cargo.parent()?.parent()?;
    let toolchains = toolchain_dir.parent()?;
    (toolchains.file_name()? == "toolchains")
        .then(|| toolchain_dir.file_name()?.to_str().map(str::to_owned))
        .flatten()
}

impl Native {
    /// Pins `command` (any program that may start cargo or rustc) to this toolchain.
    pub(crate) fn pin<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.env("RUSTC", &self.rustc);
        match &self.rustup_name {
            Some(name) => command.env("RUSTUP_TOOLCHAIN", name),
            None => command.env_remove("RUSTUP_TOOLCHAIN"),
        }
    }

    /// `cargo` of this toolchain, pinned.
    pub(crate) fn cargo(&self) -> Command {
        let mut command = Command::new(&self.cargo);
        self.pin(&mut command);
        command
    }

    /// `rustc` of this toolchain, pinned.
    pub(crate) fn rustc(&self) -> Command {
        let mut command = Command::new(&self.rustc);
        self.pin(&mut command);
        command
    }

    /// `rustup` acting on this toolchain (`None` where rustup does not manage it).
    pub(crate) fn rustup(&self, args: &[&str]) -> Option<Command> {
        let name = self.rustup_name.as_ref()?;
        let mut command = Command::new("rustup");
        command.args(args).arg("--toolchain").arg(name);
        Some(command)
    }

    /// One line saying which toolchain this is.
    pub(crate) fn describe(&self) -> String {
        let version = version_of(self.rustc().arg("--version"));
        match &self.rustup_name {
            Some(name) => format!("{version} (rustup toolchain {name})"),
            None => format!("{version} ({})", self.rustc.display()),
        }
    }
}

/// Debian's cargo building for wasm32 with Debian's rustc, std built from its
/// sources: no rustup proxy can step in (`RUSTC` is absolute and rustup's
/// variables are removed).
pub(crate) fn debian_wasm() -> Command {
    let mut cargo = Command::new(DEBIAN_CARGO);
    cargo
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort")
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", DEBIAN_WASM_LD)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTUP_TOOLCHAIN_SOURCE")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTDOC");
    cargo
}

/// The first line a `--version` command prints, or why it printed none.
pub(crate) fn version_of(command: &mut Command) -> String {
    match command.output() {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        Ok(output) => format!("fails ({})", output.status),
        Err(_) => "not found".to_owned(),
    }
}
