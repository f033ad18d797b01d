//! Generates the Tauri context from `tauri.conf.json` at the repository root,
//! with an app manifest listing every command so that the window's
//! capability can grant exactly those.

#[path = "command_list.rs"]
mod command_list;

fn main() {
    // The dashboard is embedded at compile time: a rebuilt dashboard must
    // rebuild the app (tauri-build alone did not notice).
    println!("cargo:rerun-if-changed=ui/dist");
    let manifest = tauri_build::AppManifest::new().commands(command_list::COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("the Tauri build script failed");
}
