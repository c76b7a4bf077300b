//! Running the `multicloud` binary in a scratch directory, and the spec the tests deploy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A network, a registry and a generated secret: fast on every stand-in (no cluster).
pub const NET_SPEC: &str = "\
name: netreg
environment: cli
region: us-east-1
azure:
  location: westeurope
network:
  cidr: 10.0.0.0/16
registries:
  - name: web
secrets:
  - name: api-token
    generated: {length: 32}
";

/// The exit codes `multicloud --help` documents.
pub mod code {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const INVALID_SPEC: i32 = 3;
    pub const FAILED: i32 = 4;
    pub const LOCKED: i32 = 5;
    pub const CANCELLED: i32 = 6;
    pub const INTERRUPTED: i32 = 130;
}

/// A scratch directory with a spec file in it; state goes to `<dir>/state`.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A directory holding `spec` as `stack.yaml`.
    pub fn with_spec(spec: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("stack.yaml"), spec).expect("write the spec");
        Self { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The state directory the commands use.
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `multicloud <args> -f stack.yaml --state <dir>/state`, run in the directory.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_at(args, self.state().as_os_str())
    }

    /// `multicloud <args> -f stack.yaml --state <state>`, run in the directory.
    pub fn command_at(&self, args: &[&str], state: &std::ffi::OsStr) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_multicloud"));
        cmd.current_dir(self.path())
            .args(args)
            .args(["-f", "stack.yaml", "--state"])
            .arg(state)
            .stdin(Stdio::null())
            .env_remove("MULTICLOUD_LOG");
        cmd
    }

    /// Runs `multicloud <args>` to its end.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("run multicloud");
        Run::from(output, args)
    }
}

/// A finished run.
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// `output` of a run of `args`.
    pub fn from(output: Output, args: &[&str]) -> Self {
        let run = Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        eprintln!(
            "$ multicloud {} -> {}\n{}{}",
            args.join(" "),
            run.code,
            run.stdout,
            run.stderr
        );
        run
    }

    /// Asserts the exit code.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Every stdout line as JSON (each must be one).
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// The lines of `lines` whose `event` is `event`.
pub fn events<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}

/// A `multicloud local` session the test runs; interrupted (Ctrl-C) when dropped.
pub struct LocalSession {
    child: Option<std::process::Child>,
    /// Its `local_ready` line.
    pub ready: Value,
}

impl LocalSession {
    /// Starts `multicloud local --json <args>` in `scratch` and waits until it is ready.
    pub fn start(scratch: &Scratch, args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = scratch
            .command(&[&["local", "--json"], args].concat())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn multicloud local");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("the ready line");
        let ready: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("not the ready line ({e}): {first:?}"));
        assert_eq!(ready["event"], "local_ready", "{ready}");
        Self {
            child: Some(child),
            ready,
        }
    }

    /// Ctrl-C: the session stops its stand-ins and ends; its exit code.
    pub fn stop(mut self) -> i32 {
        self.interrupt().unwrap_or(-1)
    }

    fn interrupt(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        child.wait().ok()?.code()
    }
}

impl Drop for LocalSession {
    fn drop(&mut self) {
        self.interrupt();
    }
}
