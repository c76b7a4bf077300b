//! The command line's arguments (clap derive).

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Plan, deploy and tear down a stack described in YAML, on AWS, Azure or both.
#[derive(Debug, Parser)]
#[command(
    name = "multicloud",
    version,
    about = "Plan, deploy and tear down a stack described in YAML, on AWS, Azure or both",
    long_about = None,
    after_help = EXIT_CODES_HELP,
)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
}

/// Options every command takes.
#[derive(Debug, ClapArgs)]
pub struct Global {
    /// The stack spec (YAML).
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "stack.yaml"
    )]
    pub file: PathBuf,
    /// Which cloud: `both` runs the same spec on AWS and Azure at once.
    #[arg(long, value_enum, global = true, default_value = "aws")]
    pub cloud: CloudChoice,
    /// Where state lives: a directory, `s3://BUCKET/PREFIX`, or an Azure Blob container URL
    /// (`https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`; key from
    /// AZURE_STORAGE_KEY, else an Entra token from the AZURE_* variables or the CLI).
    #[arg(
        long,
        global = true,
        value_name = "DIR|s3://BUCKET/PREFIX|BLOB-URL",
        default_value = ".multicloud"
    )]
    pub state: String,
    /// Run against local stand-ins: moto for AWS, the ARM + Key Vault emulator for Azure, a
    /// local Kubernetes control plane for the apps. Those of a running `multicloud local`
    /// with the same --state; else the command starts them, empty, and stops them when it
    /// ends (a later command finds nothing an earlier one made). State stays in a local
    /// directory.
    #[arg(long, global = true)]
    pub local: bool,
    /// Machine-readable output: one JSON object per line.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Which clouds a command runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CloudChoice {
    /// AWS (credentials and region from the AWS default chain; the spec's region wins).
    Aws,
    /// Azure (AZURE_SUBSCRIPTION_ID, credentials from the AZURE_* variables or the CLI).
    Azure,
    /// Both at once: one combined progress view, outputs side by side.
    Both,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what `up` (or `down`) would do, without changing anything.
    Plan(PlanArgs),
    /// Create, adopt and update whatever the spec needs; prints the outputs.
    Up(UpArgs),
    /// Delete everything the stack owns and its state.
    Down,
    /// Read every recorded resource and record what changed outside multicloud: what
    /// vanished is dropped from state, drift is noted (the next plan shows it field by
    /// field, `up` repairs it).
    Refresh,
    /// The stack's recorded outputs (no cloud call unless --show-secrets).
    Outputs(OutputsArgs),
    /// How the apps run on the stack's cluster (replicas available, Service address) and
    /// whether the Secrets they read point at the stack's own database and cache; exits 4
    /// when one is not running or points elsewhere.
    Status,
    /// Find (and delete) what carries the stack's ownership tags, whatever state says.
    Sweep(SweepArgs),
    /// The plan's dependency graph, coloured by action (Graphviz DOT, or Mermaid).
    Graph(GraphArgs),
    /// Inspect and repair the state store.
    State(StateArgs),
    /// Start the local stand-ins of --cloud and keep them running until Ctrl-C: commands
    /// with --local and the same --state directory then all work on them, so that `up`,
    /// `outputs`, `down` and `sweep` see one cloud in turn (no spec needed).
    Local(LocalArgs),
}

/// `local`'s options.
#[derive(Debug, ClapArgs)]
pub struct LocalArgs {
    /// Also a local Kubernetes control plane per cloud, for specs with apps (its first
    /// start builds it: minutes; then ~6 s).
    #[arg(long)]
    pub apps: bool,
}

/// Which resources `plan` and `up` work on.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct Selection {
    /// Only this resource (`registry/web`) and what it depends on.
    #[arg(long, value_name = "ID")]
    pub target: Option<String>,
    /// Replace this resource (delete, then create again) and what depends on it; repeatable.
    #[arg(long, value_name = "ID")]
    pub replace: Vec<String>,
}

/// `up`'s options.
#[derive(Debug, ClapArgs)]
pub struct UpArgs {
    /// Which resources.
    #[command(flatten)]
    pub selection: Selection,
}

/// `plan`'s options.
#[derive(Debug, ClapArgs)]
pub struct PlanArgs {
    /// Which resources.
    #[command(flatten)]
    pub selection: Selection,
    /// Plan `down` instead of `up`.
    #[arg(long, conflicts_with_all = ["target", "replace"])]
    pub destroy: bool,
    /// Print the plan as Graphviz DOT.
    #[arg(long, conflicts_with = "mermaid")]
    pub dot: bool,
    /// Print the plan as a Mermaid flowchart.
    #[arg(long)]
    pub mermaid: bool,
}

/// `outputs`' options.
#[derive(Debug, ClapArgs)]
pub struct OutputsArgs {
    /// Read and print secret values (connection URLs, the spec's secrets) instead of
    /// `[REDACTED]`.
    #[arg(long)]
    pub show_secrets: bool,
}

/// `sweep`'s options.
#[derive(Debug, ClapArgs)]
pub struct SweepArgs {
    /// Only list what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
    /// Instead of this stack: every stack whose `expires-at` tag has passed, and their
    /// state records (what a scheduled CI job runs).
    #[arg(long, conflicts_with = "every_environment")]
    pub expired: bool,
    /// Every environment of the stack, not only the spec's.
    #[arg(long)]
    pub every_environment: bool,
}

/// `graph`'s options.
#[derive(Debug, ClapArgs)]
pub struct GraphArgs {
    /// A Mermaid flowchart instead of DOT.
    #[arg(long)]
    pub mermaid: bool,
    /// The graph of `down`'s plan.
    #[arg(long)]
    pub destroy: bool,
}

/// `state`'s subcommands.
#[derive(Debug, ClapArgs)]
pub struct StateArgs {
    /// What to do with the state.
    #[command(subcommand)]
    pub command: StateCommand,
}

/// The `state` subcommands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Every stack the store holds state or a lock for (no spec needed).
    List,
    /// The recorded resources of the spec's stack.
    Show,
    /// Break the state lock of the spec's stack (after a crashed run).
    Unlock,
    /// Move the spec's stack's state to another store, under both locks.
    Migrate {
        /// The destination: a directory, `s3://BUCKET/PREFIX` or a Blob container URL.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX|BLOB-URL")]
        to: String,
    },
}

impl CloudChoice {
    /// The clouds this choice runs on.
    pub fn clouds(self) -> &'static [Cloud] {
        match self {
            Self::Aws => &[Cloud::Aws],
            Self::Azure => &[Cloud::Azure],
            Self::Both => &[Cloud::Aws, Cloud::Azure],
        }
    }
}

/// One cloud (serialized as its name, a key of `outputs --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// AWS.
    Aws,
    /// Azure.
    Azure,
}

impl Cloud {
    /// The provider's name (`aws`, `azure`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Azure => "azure",
        }
    }
}

impl std::fmt::Display for Cloud {
    /// The name, padded as asked (`{cloud:<5}` lines up both clouds' lines).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_arguments_are_consistent_and_help_lists_exit_codes() {
        Args::command().debug_assert();
        let help = Args::command().render_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        let parsed = Args::try_parse_from([
            "multicloud",
            "plan",
            "--json",
            "-f",
            "s.yaml",
            "--cloud",
            "both",
        ])
        .expect("parses");
        assert!(parsed.global.json);
        assert_eq!(parsed.global.cloud.clouds(), &[Cloud::Aws, Cloud::Azure]);
        assert!(Args::try_parse_from(["multicloud", "plan", "--dot", "--mermaid"]).is_err());
    }
}
