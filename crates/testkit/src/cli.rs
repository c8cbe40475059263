//! The `centralbridge` binary as a user runs it: a child process with a private HOME (so the
//! default config and data directories are inside a temp dir) and none of the caller's
//! `CENTRALBRIDGE_*` variables.

use std::ffi::OsString;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A private HOME for one test's runs of the binary, with the variables and leading arguments
/// (e.g. `--database`) every run gets.
pub struct Cli {
    bin: PathBuf,
    dir: tempfile::TempDir,
    envs: Vec<(OsString, OsString)>,
    lead: Vec<OsString>,
}

impl Cli {
    /// `bin` is the binary under test (`env!("CARGO_BIN_EXE_centralbridge")`).
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Cli {
            bin: bin.into(),
            dir: tempfile::tempdir().expect("tempdir"),
            envs: Vec::new(),
            lead: Vec::new(),
        }
    }

    /// The private HOME.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the private HOME.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// Writes `text` to a file in the private HOME and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.file(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    /// Every run gets `name=value`.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((name.into(), value.into()));
        self
    }

    /// Every run gets `--database <target>` first.
    pub fn database(mut self, target: impl Into<OsString>) -> Self {
        self.lead.push("--database".into());
        self.lead.push(target.into());
        self
    }

    /// The command for `args`, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("CENTRALBRIDGE_") || n == "RUST_LOG" {
                cmd.env_remove(&name);
            }
        }
        cmd.env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("COLUMNS", "200")
            .stdin(Stdio::null());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.args(&self.lead).args(args);
        cmd
    }

    /// Runs `args` to the end, on this thread.
    pub fn run_blocking(&self, args: &[&str]) -> Ran {
        Ran(self.command(args).output().expect("run the binary"))
    }

    /// Runs `args` to the end off the async runtime's workers, so emulators in this process keep
    /// answering.
    pub async fn run(&self, args: &[&str]) -> Ran {
        self.run_env(args, &[]).await
    }

    /// [`Cli::run`] with extra variables for this run only.
    pub async fn run_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Ran {
        let mut cmd = self.command(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Ran(
            tokio::task::spawn_blocking(move || cmd.output().expect("run the binary"))
                .await
                .expect("the run's thread"),
        )
    }
}

/// What one run printed and how it exited.
pub struct Ran(pub Output);

impl Ran {
    /// The exit code (-1 when killed by a signal).
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    /// The run's standard output, lossily decoded as UTF-8.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    /// The run's standard error, lossily decoded as UTF-8.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Standard output then standard error.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// Standard output as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.0.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.all()))
    }

    /// Fails the test, showing both streams, unless the run exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

impl Deref for Ran {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.0
    }
}
