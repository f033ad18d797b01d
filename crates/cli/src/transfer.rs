//! `switchyard config export|import` and `switchyard import-9router`: moving
//! a configuration to another installation, and from 9router.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use switchyard_config::transfer::{self, TransferReport};
use switchyard_store::Store;

use crate::Output;

/// Arguments of `config export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Include provider keys and OAuth tokens (in plain text: keep the file private)
    #[arg(long)]
    with_secrets: bool,
    /// Write to FILE (created readable by you only) instead of standard output
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Arguments of `config import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// A file written by `switchyard config export` (`-` reads standard input)
    file: PathBuf,
    /// Show what would change without changing anything
    #[arg(long)]
    dry_run: bool,
}

/// Arguments of `import-9router`.
#[derive(Debug, Args)]
pub(crate) struct NineRouterArgs {
    /// 9router's data directory, its db.json (or a backup exported from its
    /// dashboard) or its db/data.sqlite [default: ~/.9router]
    path: Option<PathBuf>,
    /// Show what would be imported without changing anything
    #[arg(long)]
    dry_run: bool,
}

/// `switchyard config export`.
pub(crate) fn export(store: &Store, args: ExportArgs, output: Output) -> Result<()> {
    let document = transfer::export_config(store, args.with_secrets)?;
    if args.with_secrets {
        eprintln!(
            "warning: this export holds your provider keys and tokens in plain text; keep it private and delete it once imported"
        );
    }
    let Some(path) = args.output else {
        let mut stdout = std::io::stdout().lock();
        return match writeln!(stdout, "{document}") {
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            result => Ok(result?),
        };
    };
    write_private(&path, document.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    output.print(
        &serde_json::json!({
            "written": path,
            "secrets_included": args.with_secrets,
        }),
        || {
            format!(
                "wrote the configuration{} to {}",
                if args.with_secrets {
                    " with secrets"
                } else {
                    " (no secrets)"
                },
                path.display()
            )
        },
    )
}

/// Writes `contents` to a file only its owner may read, whatever its mode was.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // An existing file keeps its mode on open: tighten it before writing.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        write_all(file, contents)
    }
    #[cfg(not(unix))]
    {
        write_all(options.open(path)?, contents)
    }
}

fn write_all(mut file: std::fs::File, contents: &[u8]) -> std::io::Result<()> {
    file.write_all(contents)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// `switchyard config import`.
pub(crate) fn import(store: &Store, args: ImportArgs, output: Output) -> Result<()> {
    let json = if args.file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the configuration from standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?
    };
    let report = transfer::import_config(store, &json, args.dry_run)?;
    output.print(&report, || describe(&report))
}

/// `switchyard import-9router`.
pub(crate) fn import_9router(store: &Store, args: NineRouterArgs, output: Output) -> Result<()> {
    let path = match args.path {
        Some(path) => path,
        None => transfer::default_9router_path().with_context(|| {
            let place = transfer::default_9router_dir()
                .map_or_else(|| "~/.9router".to_owned(), |dir| dir.display().to_string());
            format!(
                "no 9router installation found in {place} (looked for db/data.sqlite and db.json); pass its path"
            )
        })?,
    };
    let report = transfer::import_9router(store, &path, args.dry_run)?;
    output.print(&report, || {
        format!("from {}:\n{}", path.display(), describe(&report))
    })
}

/// A report as text, one item a line.
fn describe(report: &TransferReport) -> String {
    let mut lines = Vec::new();
    if report.dry_run {
        lines
            .push("dry run: nothing was changed; without --dry-run this would be done:".to_owned());
    }
    for (title, items) in [("added", &report.added), ("updated", &report.updated)] {
        if !items.is_empty() {
            lines.push(format!("{title} ({}):", items.len()));
            lines.extend(items.iter().map(|item| format!("  {item}")));
        }
    }
    if !report.skipped.is_empty() {
        lines.push(format!("skipped ({}):", report.skipped.len()));
        lines.extend(
            report
                .skipped
                .iter()
                .map(|skipped| format!("  {}: {}", skipped.item, skipped.reason)),
        );
    }
    if !report.notes.is_empty() {
        lines.push("notes:".to_owned());
        lines.extend(report.notes.iter().map(|note| format!("  {note}")));
    }
    if lines.is_empty() || (report.dry_run && lines.len() == 1) {
        lines.push("nothing to import".to_owned());
    }
    lines.join("\n")
}
