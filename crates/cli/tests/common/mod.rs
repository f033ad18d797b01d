//! The harness the CLI tests share: the real `switchyard` binary, run as a
//! user would, with its data directory, home directory and `PATH` all
//! pointed at temporary folders.

// Each test file uses a different part of the harness.
#![allow(dead_code)]

pub(crate) mod upstream;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// One user's machine: a data directory, a home and an empty `PATH`.
pub(crate) struct Cli {
    pub(crate) data_dir: tempfile::TempDir,
    pub(crate) home: tempfile::TempDir,
    /// The only directory on the `PATH` the binary sees.
    pub(crate) bin: tempfile::TempDir,
    /// Variables every run gets (a shared database, its key).
    pub(crate) env: Vec<(String, String)>,
}

impl Cli {
    pub(crate) fn new() -> Self {
        Self {
            data_dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            bin: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// A machine whose runs all get `env`.
    pub(crate) fn with_env(env: &[(&str, &str)]) -> Self {
        let mut cli = Self::new();
        cli.env = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        cli
    }

    /// A path in the home directory.
    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.home.path().join(relative)
    }

    /// Writes `text` to a file in the home directory.
    pub(crate) fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    /// Runs the binary with `args`; whatever the outcome.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(args)
            .env("HOME", self.home.path())
            .env("PATH", self.bin.path())
            .env_remove("SWITCHYARD_PROVIDER_API_KEY")
            .env_remove("SWITCHYARD_HOST")
            .env_remove("SWITCHYARD_PORT")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .output()
            .unwrap()
    }

    /// Runs the binary and asserts it succeeded.
    pub(crate) fn ok(&self, args: &[&str]) -> Output {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Runs the binary with `--json` and parses what it printed.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_slice(&self.ok(&all).stdout).unwrap()
    }

    /// Runs the binary, asserts it failed, and returns what it said.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Puts a program called `name` on the `PATH` the binary sees.
    pub(crate) fn install_program(&self, name: &str) {
        let path = self.bin.path().join(name);
        fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

/// A loopback port free right now.
pub(crate) fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// `switchyard serve` running on a free loopback port, stopped when dropped.
pub(crate) struct Server {
    child: std::process::Child,
    /// `http(s)://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// The one-time sign-in link printed at start, if no password was set.
    pub(crate) signin_link: Option<String>,
}

impl Server {
    /// Starts `serve` on `cli`'s data directory with `extra` arguments and
    /// waits until it printed its dashboard address.
    pub(crate) fn start(cli: &Cli, extra: &[&str]) -> Self {
        Self::start_on(cli, free_port(), extra)
    }

    /// [`Self::start`] on `port` (a server started again where clients
    /// already point).
    pub(crate) fn start_on(cli: &Cli, port: u16, extra: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("--data-dir")
            .arg(cli.data_dir.path())
            .args(["serve", "--port", &port.to_string()])
            .args(extra)
            .env("HOME", cli.home.path())
            .env("PATH", cli.bin.path())
            .env("SWITCHYARD_LOG", "warn")
            .env_remove("SWITCHYARD_HOST")
            .env_remove("SWITCHYARD_PORT")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .envs(cli.env.iter().map(|(name, value)| (name, value)))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let link_in = |line: &str| {
            let at = line.find("/dashboard/signin?token=")?;
            let start = line[..at].rfind("http")?;
            let end = line[at..]
                .find(char::is_whitespace)
                .map_or(line.len(), |end| at + end);
            Some(line[start..end].to_owned())
        };
        let mut base = None;
        let mut signin_link = None;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while base.is_none() && std::time::Instant::now() < deadline {
            if let Ok(line) = received.recv_timeout(std::time::Duration::from_millis(200))
                && let Some(url) = line.strip_prefix("dashboard: ")
            {
                base = Some(
                    url.trim_end_matches('/')
                        .trim_end_matches("/dashboard")
                        .to_owned(),
                );
            }
        }
        // The link, if any, is printed right after the address.
        if let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(2)) {
            signin_link = link_in(&line);
        }
        let base = base.expect("serve printed no dashboard address within 30 s");
        Self {
            child,
            base,
            signin_link,
        }
    }
}

impl Server {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
