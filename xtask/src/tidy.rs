//! Tidy checks, run by `cargo test` (rust-analyzer's tidy tests are the
//! model): ARCHITECTURE.md names every crate and every module, and nothing
//! that does not exist; every Rust file opens with a `//!` line saying what
//! it is for; no crate's modules import each other in a cycle; and the
//! dashboard's pages never know whether Tauri or HTTP carries their calls,
//! while `ui/src/api.rs` sends every management operation.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// The workspace root.
    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace")
            .to_owned()
    }

    /// Each crate as ARCHITECTURE.md names it, with its source folder.
    fn crates() -> Vec<(String, PathBuf)> {
        let root = root();
        let mut crates: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("crates"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.join("src").is_dir())
            .map(|path| {
                let name = format!("crates/{}", path.file_name().unwrap().to_string_lossy());
                (name, path.join("src"))
            })
            .collect();
        for (name, src) in [
            ("src-tauri", "src-tauri"),
            ("ui", "ui/src"),
            ("xtask", "xtask/src"),
        ] {
            crates.push((name.to_owned(), root.join(src)));
        }
        crates.sort();
        crates
    }

    /// The top-level modules of a crate: its files and folders beside the
    /// crate root (`lib.rs`, `main.rs`), `build.rs` left out.
    fn modules(src: &Path) -> BTreeSet<String> {
        std::fs::read_dir(src)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter_map(|path| {
                let name = path.file_stem()?.to_string_lossy().into_owned();
                let is_module = if path.is_dir() {
                    path.join("mod.rs").is_file() || src.join(format!("{name}.rs")).is_file()
                } else {
                    path.extension().is_some_and(|ext| ext == "rs")
                };
                (is_module && !["lib", "main", "build"].contains(&name.as_str())).then_some(name)
            })
            .collect()
    }

    /// The module names listed on ARCHITECTURE.md's `Modules of `<crate>`:`
    /// line (a sentence: it ends at the first full stop).
    fn listed(architecture: &str, krate: &str) -> Option<BTreeSet<String>> {
        let marker = format!("Modules of `{krate}`:");
        let start = architecture.find(&marker)? + marker.len();
        let paragraph = architecture[start..].split('.').next().unwrap_or_default();
        Some(
            paragraph
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect(),
        )
    }

    #[test]
    fn architecture_names_every_crate_and_module_and_nothing_else() {
        let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
        let mut problems = Vec::new();
        for (krate, src) in crates() {
            let existing = modules(&src);
            let Some(named) = listed(&architecture, &krate) else {
                problems.push(format!("no `Modules of `{krate}`:` line"));
                continue;
            };
            for missing in existing.difference(&named) {
                problems.push(format!(
                    "{krate}: module `{missing}` is not in ARCHITECTURE.md"
                ));
            }
            for gone in named.difference(&existing) {
                problems.push(format!(
                    "{krate}: ARCHITECTURE.md names `{gone}`, which does not exist"
                ));
            }
        }
        let crate_names: BTreeSet<String> = crates().into_iter().map(|(name, _)| name).collect();
        for part in architecture.split("`crates/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !name.is_empty() && !crate_names.contains(&format!("crates/{name}")) {
                problems.push(format!(
                    "ARCHITECTURE.md names crates/{name}, which does not exist"
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// Every `.rs` file under `dir`.
    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn every_rust_file_says_what_it_is_for() {
        let root = root();
        let mut files = Vec::new();
        for dir in ["crates", "src-tauri", "ui/src", "xtask/src"] {
            rust_files(&root.join(dir), &mut files);
        }
        let undocumented: Vec<String> = files
            .iter()
            .filter(|path| !path.components().any(|part| part.as_os_str() == "target"))
            .filter(|path| {
                !std::fs::read_to_string(path)
                    .unwrap()
                    .trim_start()
                    .starts_with("//!")
            })
            .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert!(undocumented.is_empty(), "no `//!` line: {undocumented:?}");
    }

    /// The crate's modules each top-level module names (`crate::x`), from
    /// its files outside `#[cfg(test)]` modules.
    fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
        let modules = modules(src);
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for module in &modules {
            let mut files = Vec::new();
            let dir = src.join(module);
            if dir.is_dir() {
                rust_files(&dir, &mut files);
            }
            let file = src.join(format!("{module}.rs"));
            if file.is_file() {
                files.push(file);
            }
            let uses = graph.entry(module.clone()).or_default();
            for file in files {
                let text = std::fs::read_to_string(file).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let mut named: Vec<&str> = Vec::new();
                for part in code.split("crate::").skip(1) {
                    if let Some(group) = part.strip_prefix('{') {
                        let group = group.split('}').next().unwrap_or_default();
                        named.extend(group.split(',').map(|item| item.trim()));
                    } else {
                        named.push(part);
                    }
                }
                for name in named {
                    let name: String = name
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if &name != module && modules.contains(&name) {
                        uses.insert(name);
                    }
                }
            }
        }
        graph
    }

    /// A cycle through `start`, if there is one (depth-first search).
    fn cycle_from(
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        let last = path.last()?.clone();
        for next in graph.get(&last).into_iter().flatten() {
            if next == &path[0] {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if !path.contains(next) {
                path.push(next.clone());
                if let Some(cycle) = cycle_from(graph, path) {
                    return Some(cycle);
                }
                path.pop();
            }
        }
        None
    }

    #[test]
    fn no_crate_has_a_module_import_cycle() {
        let mut cycles = Vec::new();
        for (krate, src) in crates() {
            let graph = imports(&src);
            for module in graph.keys() {
                if let Some(cycle) = cycle_from(&graph, &mut vec![module.clone()]) {
                    cycles.push(format!("{krate}: {}", cycle.join(" -> ")));
                    break;
                }
            }
        }
        assert!(
            cycles.is_empty(),
            "module import cycles:\n{}",
            cycles.join("\n")
        );
    }

    #[test]
    fn the_cycle_check_finds_a_cycle() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("a.rs"), "//! a\nuse crate::b::B;\n").unwrap();
        std::fs::write(dir.join("b.rs"), "//! b\nuse crate::{a, c};\n").unwrap();
        std::fs::write(dir.join("c.rs"), "//! c\n").unwrap();
        let graph = imports(&dir);
        assert_eq!(
            cycle_from(&graph, &mut vec!["a".to_owned()]),
            Some(vec!["a".to_owned(), "b".to_owned(), "a".to_owned()])
        );
        assert_eq!(cycle_from(&graph, &mut vec!["c".to_owned()]), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn pages_never_know_the_transport_and_the_api_sends_every_operation() {
        let ui = root().join("ui").join("src");
        let mut files = Vec::new();
        rust_files(&ui.join("pages"), &mut files);
        files.push(ui.join("app.rs"));
        files.push(ui.join("links.rs"));
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for transport in [
                "__TAURI__",
                "invoke(",
                "invoke_with(",
                "fetch_with",
                "EventSource",
                "api/call",
                "in_app",
            ] {
                assert!(
                    !text.contains(transport),
                    "{} mentions {transport}: pages call `api`'s functions only",
                    file.display()
                );
            }
        }
        let api = std::fs::read_to_string(ui.join("api.rs")).unwrap();
        // One call of each operation, checked against the enum by
        // switchyard-manage's tests.
        let fixture =
            std::fs::read_to_string(root().join("tests").join("operations.json")).unwrap();
        let names: Vec<&str> = fixture
            .split("\"op\": \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(names.len() > 40, "{names:?}");
        for name in names {
            let variant: String = name
                .split('_')
                .map(|word| {
                    let mut chars = word.chars();
                    chars.next().map_or_else(String::new, |first| {
                        first.to_ascii_uppercase().to_string() + chars.as_str()
                    })
                })
                .collect();
            assert!(
                api.contains(&format!("Operation::{variant} ")),
                "ui/src/api.rs never sends {name} (Operation::{variant})"
            );
        }
    }

    /// A fresh folder under the target directory.
    fn tempfile_dir() -> PathBuf {
        let dir = root()
            .join("target")
            .join(format!("tidy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
