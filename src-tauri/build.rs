//! Generates the Tauri context from `tauri.conf.json` at the repository root,
//! with an app manifest listing every command so that the window's
//! capability can grant exactly those.

#[path = "command_list.rs"]
mod command_list;

use std::hash::{Hash, Hasher};

fn main() {
    // The dashboard is embedded at compile time, but a rebuilt `ui/dist`
    // alone did not make Cargo rebuild the app: hand the crate a digest of
    // it, so a new dashboard changes the crate's environment and rebuilds it.
    println!("cargo:rerun-if-changed=ui/dist");
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    if let Ok(entries) = std::fs::read_dir("ui/dist") {
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for file in files {
            file.hash(&mut digest);
            std::fs::read(&file).unwrap_or_default().hash(&mut digest);
        }
    }
    println!(
        "cargo:rustc-env=SWITCHYARD_UI_DIGEST={:016x}",
        digest.finish()
    );

    let manifest = tauri_build::AppManifest::new().commands(command_list::COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("the Tauri build script failed");
}
