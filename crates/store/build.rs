//! Rebuilds the store when a migration file is added or edited, since
//! `include_dir!` alone does not tell Cargo to watch the folder.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
