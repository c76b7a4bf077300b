//! Exit codes and the command line's error type.

use std::process::ExitCode;

use multicloud_core::Error;

/// The exit codes, as `--help` and the README list them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    ok
  1    error: a cloud, state or stand-in failure, or a refusal (foreign resources, another cloud's state)
  2    usage: bad arguments (a --target or --replace the plan does not have), or a spec file that cannot be read
  3    invalid spec: malformed YAML or a spec breaking the rules (every error is printed; nothing is created)
  4    failed resources: some resources (or swept resources) failed; the ones that completed are recorded;
       `status`: an app not running, or not reaching the stack's database or cache
  5    locked: another run holds the stack's state lock
  6    cancelled: Ctrl-C; running operations finished and are recorded
  130  interrupted: a second Ctrl-C stopped at once (operations in flight may be unrecorded)";

/// How a run ended; the process exit code of each is in [`EXIT_CODES_HELP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything done.
    Ok,
    /// A run was cancelled by Ctrl-C and stopped cleanly.
    Cancelled,
    /// Any other failure.
    Error,
    /// Some resources failed.
    Failed,
    /// The state is locked by another run.
    Locked,
    /// The spec is invalid.
    InvalidSpec,
    /// Bad arguments.
    Usage,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Error => 1,
            Self::Usage => 2,
            Self::InvalidSpec => 3,
            Self::Failed => 4,
            Self::Locked => 5,
            Self::Cancelled => 6,
        }
    }

    /// The code of a second Ctrl-C, which stops the process at once.
    pub const INTERRUPTED: i32 = 130;

    /// The exit of a run that several clouds ran: the most telling one (declaration order:
    /// usage over an invalid spec over locked over failed resources over any other error
    /// over cancelled over ok).
    pub fn worst(self, other: Self) -> Self {
        self.max(other)
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The arguments do not make sense together, or the spec file cannot be read.
    #[error("{0}")]
    Usage(String),
    /// The spec does not load: every problem, already formatted.
    #[error("{0}")]
    InvalidSpec(String),
    /// The engine's error.
    #[error(transparent)]
    Engine(#[from] Error),
    /// A sweep could not delete everything it found.
    #[error("{0} resource(s) could not be swept")]
    SweepFailed(usize),
    /// A local stand-in, a provider or a state store could not be set up.
    #[error("{0}")]
    Setup(String),
    /// Ctrl-C while the command could not stop cleanly on its own (before any change).
    #[error("cancelled")]
    Cancelled,
    /// Writing to stdout failed.
    #[error("writing the output failed: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// The exit of this error.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Usage(_) => Exit::Usage,
            Self::InvalidSpec(_) => Exit::InvalidSpec,
            Self::Engine(e) => engine_exit(e),
            Self::SweepFailed(_) => Exit::Failed,
            Self::Setup(_) | Self::Output(_) => Exit::Error,
            Self::Cancelled => Exit::Cancelled,
        }
    }

    /// A setup error from anything displayable, with what was being set up.
    pub fn setup(what: &str, e: impl std::fmt::Display) -> Self {
        Self::Setup(format!("{what}: {e}"))
    }
}

/// The exit of an engine error.
fn engine_exit(e: &Error) -> Exit {
    match e {
        Error::Spec(_) | Error::Yaml { .. } => Exit::InvalidSpec,
        Error::PlanOption { .. } => Exit::Usage,
        Error::Locked { .. } => Exit::Locked,
        Error::Apply { .. } => Exit::Failed,
        Error::Cancelled { .. } => Exit::Cancelled,
        _ => Exit::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_exit_of_two_clouds_wins_and_codes_are_distinct() {
        assert_eq!(Exit::Ok.worst(Exit::Failed), Exit::Failed);
        assert_eq!(Exit::Locked.worst(Exit::Failed), Exit::Locked);
        assert_eq!(Exit::Cancelled.worst(Exit::Ok), Exit::Cancelled);
        assert_eq!(Exit::Error.worst(Exit::Cancelled), Exit::Error);
        let all = [
            Exit::Ok,
            Exit::Cancelled,
            Exit::Error,
            Exit::Failed,
            Exit::Locked,
            Exit::InvalidSpec,
            Exit::Usage,
        ];
        let mut codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        for code in codes {
            assert!(EXIT_CODES_HELP.contains(&format!("\n  {code} ")), "{code}");
        }
    }
}
