//! Points `SWITCHYARD_UI_DIST` at the built dashboard (`ui/dist`), or at a
//! page saying how to build it when it is missing, and hands the crate a
//! digest of it so a rebuilt dashboard rebuilds the crate.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest.join("../../ui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let folder = if dist.join("index.html").is_file() {
        dist
    } else {
        let out =
            PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("ui-missing");
        std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
        std::fs::write(
            out.join("index.html"),
            "<!doctype html><meta charset=utf-8><title>Switchyard</title>\
             <p>This binary was built without its dashboard. Build it with \
             <code>cargo xtask ui</code>, then build Switchyard again \
             (<code>cargo xtask run</code> does both).</p>",
        )
        .expect("OUT_DIR is writable");
        out
    };
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    hash_folder(&folder, &mut digest);
    println!("cargo:rustc-env=SWITCHYARD_UI_DIST={}", folder.display());
    println!(
        "cargo:rustc-env=SWITCHYARD_UI_DIGEST={:016x}",
        digest.finish()
    );
}

fn hash_folder(folder: &Path, digest: &mut impl Hasher) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        path.file_name().hash(digest);
        if path.is_dir() {
            hash_folder(&path, digest);
        } else {
            std::fs::read(&path).unwrap_or_default().hash(digest);
        }
    }
}
