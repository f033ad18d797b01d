//! `switchyard db`: which database this machine uses, and copying a whole
//! installation between the data directory's SQLite file and PostgreSQL.

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;
use switchyard_store::Store;

use crate::Output;

/// What `switchyard db` does.
#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Show which database this machine uses, its schema version and whether it answers
    Status,
    /// Copy everything (configuration, keys, usage, logs) into an empty
    /// database and compare both field by field: `--to postgres://...`
    /// moves this data directory's SQLite into PostgreSQL, `--from
    /// postgres://... --to sqlite` brings it back
    Copy {
        /// `sqlite` (this data directory's file) or a PostgreSQL URL
        #[arg(long, default_value = "sqlite", value_name = "sqlite|URL")]
        from: String,
        /// `sqlite` (this data directory's file) or a PostgreSQL URL
        #[arg(long, value_name = "sqlite|URL")]
        to: String,
    },
}

fn open(place: &str, data_dir: &Path) -> Result<Store> {
    if place == "sqlite" {
        Store::open_sqlite_in_dir(data_dir)
            .with_context(|| format!("cannot open the database in {}", data_dir.display()))
    } else if place.starts_with("postgres://") || place.starts_with("postgresql://") {
        Store::open_postgres(place, data_dir)
            .with_context(|| format!("cannot open {}", switchyard_store::describe_url(place)))
    } else {
        bail!("a database is `sqlite` or a postgres:// URL")
    }
}

fn describe(place: &str, data_dir: &Path) -> String {
    if place == "sqlite" {
        data_dir
            .join(switchyard_store::DATABASE_FILE)
            .display()
            .to_string()
    } else {
        switchyard_store::describe_url(place)
    }
}

pub(crate) fn db(data_dir: &Path, command: DbCommand, output: Output) -> Result<()> {
    match command {
        DbCommand::Status => {
            let store = crate::open_store(data_dir)?;
            let info = store.database();
            let version = store.schema_version()?;
            output.print(
                &json!({"engine": info.engine, "location": info.location, "schemaVersion": version, "reachable": store.reachable()}),
                || format!("{} at {} (schema version {version})", info.engine, info.location),
            )
        }
        DbCommand::Copy { from, to } => {
            if from == to {
                bail!("--from and --to are the same database");
            }
            let source = open(&from, data_dir)?;
            let target = open(&to, data_dir)?;
            let report = source
                .copy_into(&target)
                .with_context(|| format!("cannot copy into {}", describe(&to, data_dir)))?;
            let rows: u64 = report.tables.iter().map(|(_, rows)| rows).sum();
            output.print(&report, || {
                let mut text = format!(
                    "copied {rows} rows from {} into {} and compared every field:",
                    describe(&from, data_dir),
                    describe(&to, data_dir)
                );
                for (table, count) in &report.tables {
                    if *count > 0 {
                        text.push_str(&format!("\n  {table}: {count}"));
                    }
                }
                if to != "sqlite" {
                    text.push_str(&format!(
                        "\nreplicas on it need the same {} (its secrets are sealed with the key this copy used)",
                        switchyard_store::SECRET_KEY_ENV
                    ));
                }
                text
            })
        }
    }
}
