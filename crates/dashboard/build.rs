//! Points `SWITCHYARD_UI_DIST` at the built dashboard (`ui/dist`), or at a
//! page saying how to build it when it is missing, and hands the crate a
//! digest of it so a rebuilt dashboard rebuilds the crate. Text and wasm
//! files are embedded gzipped (`<name>.gz`): the wasm shrinks from 1.7 MB
//! to about a third, in the binary and on the wire.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Extensions embedded gzipped.
const COMPRESSED: [&str; 6] = ["wasm", "js", "css", "html", "json", "svg"];

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
    let embedded =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("ui-embedded");
    let _ = std::fs::remove_dir_all(&embedded);
    copy_compressed(&folder, &embedded);
    println!("cargo:rustc-env=SWITCHYARD_UI_DIST={}", embedded.display());
    println!(
        "cargo:rustc-env=SWITCHYARD_UI_DIGEST={:016x}",
        digest.finish()
    );
}

/// Copies `from` into `to`, the files with a [`COMPRESSED`] extension
/// gzipped under `<name>.gz`.
fn copy_compressed(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("OUT_DIR is writable");
    for entry in std::fs::read_dir(from).expect("the dashboard folder is readable") {
        let path = entry.expect("the dashboard folder is readable").path();
        let name = path.file_name().expect("a folder entry has a name");
        if path.is_dir() {
            copy_compressed(&path, &to.join(name));
            continue;
        }
        let contents = std::fs::read(&path).expect("the dashboard files are readable");
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if COMPRESSED.contains(&extension) {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&contents).expect("writing to memory");
            let gzipped = encoder.finish().expect("writing to memory");
            let mut gz_name = name.to_owned();
            gz_name.push(".gz");
            std::fs::write(to.join(gz_name), gzipped).expect("OUT_DIR is writable");
        } else {
            std::fs::write(to.join(name), contents).expect("OUT_DIR is writable");
        }
    }
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
