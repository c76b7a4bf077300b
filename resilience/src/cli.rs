//! Running the `multicloud` command line: one command at a time (stdout and stderr kept in
//! files), killed with SIGKILL after a delay, or a `multicloud local` session of one cloud.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// The suite's error: anything that stops a scenario from running at all.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long a `multicloud local` session may take to start (the control plane's first
/// start builds it).
const SESSION_START: Duration = Duration::from_secs(600);

/// The number of the next command (in its log files' names), across every [`Mc`].
static COMMANDS: AtomicUsize = AtomicUsize::new(0);

/// The `multicloud` binary beside this one.
pub fn binary() -> Result<PathBuf, Error> {
    let bin = std::env::current_exe()?.with_file_name("multicloud");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!("{} is missing: build the workspace first", bin.display()).into())
    }
}

/// How one command ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Whether this suite killed it.
    pub killed: bool,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
    /// Its process id.
    pub pid: u32,
}

impl Outcome {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Its stdout's JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// The command line on one cloud of a `multicloud local` session.
#[derive(Debug)]
pub struct Mc {
    bin: PathBuf,
    /// The session's state directory.
    pub state: PathBuf,
    /// `aws` or `azure`.
    pub cloud: &'static str,
    logs: PathBuf,
    env: Vec<(String, String)>,
}

impl Mc {
    /// The command line of the session in `state`, logging into `logs`.
    pub fn new(bin: &Path, state: &Path, cloud: &'static str, logs: &Path) -> Self {
        Self {
            bin: bin.to_path_buf(),
            state: state.to_path_buf(),
            cloud,
            logs: logs.to_path_buf(),
            env: Vec::new(),
        }
    }

    /// Sets an environment variable of every later command.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// Spawns `multicloud ARGS --cloud C --local --state S -f SPEC --json`.
    pub fn spawn(&self, spec: &Path, args: &[&str]) -> Result<Running, Error> {
        let n = COMMANDS.fetch_add(1, Ordering::Relaxed);
        let base = self
            .logs
            .join(format!("{}-{n:04}-{}", self.cloud, args.join("-")));
        let out = base.with_extension("out");
        let err = base.with_extension("err");
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .args(["--cloud", self.cloud, "--local", "--json", "--state"])
            .arg(&self.state)
            .arg("-f")
            .arg(spec)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(&err)?)
            .kill_on_drop(true);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let child = command.spawn()?;
        let pid = child.id().unwrap_or_default();
        Ok(Running {
            child,
            out,
            err,
            pid,
            started: Instant::now(),
        })
    }

    /// Runs a command to its end.
    pub async fn run(&self, spec: &Path, args: &[&str]) -> Result<Outcome, Error> {
        self.spawn(spec, args)?.finish(None).await
    }

    /// Runs a command, killed with SIGKILL after `delay` if it still runs.
    pub async fn run_killed(
        &self,
        spec: &Path,
        args: &[&str],
        delay: Duration,
    ) -> Result<Outcome, Error> {
        self.spawn(spec, args)?.finish(Some(delay)).await
    }
}

/// A command that runs.
#[derive(Debug)]
pub struct Running {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    /// Its process id.
    pub pid: u32,
    started: Instant,
}

impl Running {
    /// Waits for its end; with `kill_after`, SIGKILL once that long has passed.
    pub async fn finish(mut self, kill_after: Option<Duration>) -> Result<Outcome, Error> {
        let mut killed = false;
        let status = match kill_after {
            None => self.child.wait().await?,
            Some(delay) => match tokio::time::timeout(delay, self.child.wait()).await {
                Ok(status) => status?,
                Err(_) => {
                    // tokio's kill is SIGKILL: no destructor, no lock release.
                    self.child.start_kill()?;
                    killed = true;
                    self.child.wait().await?
                }
            },
        };
        Ok(Outcome {
            code: status.code(),
            killed,
            stdout: std::fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.err).unwrap_or_default(),
            elapsed: self.started.elapsed(),
            pid: self.pid,
        })
    }
}

/// A `multicloud local` session of one cloud; stopped (Ctrl-C) by [`Session::stop`] or on
/// drop (SIGKILL: its stand-ins die with it).
#[derive(Debug)]
pub struct Session {
    child: Child,
    /// Its state directory.
    pub state: tempfile::TempDir,
}

impl Session {
    /// Starts `multicloud local --cloud CLOUD [--apps]` and waits for its session file.
    pub async fn start(bin: &Path, cloud: &str, apps: bool) -> Result<Self, Error> {
        let state = tempfile::tempdir()?;
        let log = std::fs::File::create(state.path().join("local.log"))?;
        let mut command = Command::new(bin);
        command
            .args(["local", "--cloud", cloud, "--state"])
            .arg(state.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if apps {
            command.arg("--apps");
        }
        let mut child = command.spawn()?;
        let file = state.path().join("local-session.json");
        let started = Instant::now();
        while !file.exists() {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(state.path().join("local.log"))?;
                return Err(format!("multicloud local exited ({status}): {log}").into());
            }
            if started.elapsed() > SESSION_START {
                return Err(format!("multicloud local --cloud {cloud} did not start").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(Self { child, state })
    }

    /// The session file (where its stand-ins listen).
    pub fn file(&self) -> Result<serde_json::Value, Error> {
        let text = std::fs::read_to_string(self.state.path().join("local-session.json"))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Ctrl-C, then waits for the stand-ins to stop.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(pid) = self.child.id() {
            Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .await?;
            if tokio::time::timeout(Duration::from_secs(60), self.child.wait())
                .await
                .is_err()
            {
                self.child.start_kill()?;
                self.child.wait().await?;
            }
        }
        Ok(())
    }
}
