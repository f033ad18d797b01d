//! A throwaway PostgreSQL server for tests: `initdb` into a temporary
//! folder, `postgres` on a free loopback port, removed when dropped. As
//! root (CI) the server runs as the `postgres` user, which refuses root.
//! Needs Debian's `postgresql` package (`cargo xtask setup` installs it).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) server and its folder.
pub(crate) struct ThrowawayPostgres {
    folder: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    server: Option<Child>,
    databases: u32,
    /// More `-c name=value` settings for the server.
    settings: Vec<String>,
}

fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists());
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(|version| version.file_name())
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `cargo xtask setup`")
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `program` run as the `postgres` user when we are root.
fn command(program: &Path) -> Command {
    if running_as_root() {
        // setpriv executes the program itself: signals reach the server.
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--clear-groups",
                "--",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

impl ThrowawayPostgres {
    /// Initialises and starts a server.
    pub(crate) fn start() -> Self {
        Self::start_with(None)
    }

    /// A server that also offers TLS with this certificate and key (PEM).
    pub(crate) fn start_with_tls(certificate: &str, key: &str) -> Self {
        Self::start_with(Some((certificate, key)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Self {
        let bin = bin_dir();
        let folder = tempfile::Builder::new()
            .prefix("switchyard-pg-")
            .tempdir()
            .expect("temporary folder");
        let data = folder.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut settings = Vec::new();
        if let Some((certificate, key)) = tls {
            let certificate_file = folder.path().join("server.crt");
            let key_file = folder.path().join("server.key");
            std::fs::write(&certificate_file, certificate).unwrap();
            std::fs::write(&key_file, key).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))
                    .unwrap();
            }
            settings.push("ssl=on".to_owned());
            settings.push(format!("ssl_cert_file={}", certificate_file.display()));
            settings.push(format!("ssl_key_file={}", key_file.display()));
        }
        if running_as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(folder.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the PostgreSQL folder failed");
        }
        let out = command(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "switchyard",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = Self {
            folder,
            bin,
            port: free_port(),
            server: None,
            databases: 0,
            settings,
        };
        server.resume();
        server
    }

    /// Starts the server again (after [`ThrowawayPostgres::stop`]).
    pub(crate) fn resume(&mut self) {
        let data = self.folder.path().join("data");
        let log = std::fs::File::create(self.folder.path().join("server.log")).unwrap();
        let child = command(&self.bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.folder.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ])
            .args(
                self.settings
                    .iter()
                    .flat_map(|setting| ["-c", setting.as_str()]),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "switchyard",
                ])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start: {}",
                std::fs::read_to_string(self.folder.path().join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown: clients are disconnected).
    pub(crate) fn stop(&mut self) {
        self.signal("-INT");
    }

    /// Sends `signal` to the server and waits for it to end.
    fn signal(&mut self, signal: &str) {
        if let Some(mut child) = self.server.take() {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A new empty database's URL.
    pub(crate) fn new_database(&mut self) -> String {
        self.databases += 1;
        let name = format!("switchyard_{}", self.databases);
        let admin = format!("postgres://switchyard@127.0.0.1:{}/postgres", self.port);
        self.psql(&admin, &format!("CREATE DATABASE {name}"));
        format!("postgres://switchyard@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` on the database at `url` with psql and returns its unaligned output.
    pub(crate) fn psql(&self, url: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        // Immediate shutdown: the folder goes next.
        self.signal("-QUIT");
    }
}
