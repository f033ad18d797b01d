//! Entry point of the Switchyard desktop app.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc, as in the headless binary: the in-app gateway serves requests
/// with a few hundred small allocations each.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    switchyard_desktop::run();
}
