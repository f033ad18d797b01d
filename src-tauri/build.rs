//! Generates the Tauri context from `tauri.conf.json` at the repository root.

fn main() {
    tauri_build::build();
}
