//! A spec that does not load: every error with its field path, the YAML line and column
//! of a parse error, exit code 3, and nothing created, not even the state directory.

use crate::support::{NET_SPEC, Scratch, code};

/// Parses, but breaks six rules: four cloud-neutral ones, the region Azure refuses, and a
/// registry name each cloud refuses its own way.
const INVALID: &str = "\
name: Shop_1
environment: dev
region: us-east-1
network:
  cidr: 10.0.0.0/8
  zones: 2
  public_subnets: [10.0.0.0/24, 10.0.1.0/24]
  private_subnets: [10.0.16.0/20, 192.168.0.0/20]
registries:
  - name: A
secrets:
  - name: db_password
    generated: {length: 2}
";

#[test]
fn an_invalid_spec_prints_every_error_and_creates_nothing() {
    let scratch = Scratch::with_spec(INVALID);
    for command in [&["plan"][..], &["up"], &["down", "--local"], &["outputs"]] {
        let args: Vec<&str> = command.iter().copied().chain(["--cloud", "both"]).collect();
        let run = scratch.run(&args).expect(code::INVALID_SPEC);
        // Each error with its line and column, then its field path.
        for (line, path) in [
            (1, "spec.name:"),
            (8, "spec.network.private_subnets[1]:"),
            (12, "spec.secrets[0].name:"),
            (13, "spec.secrets[0].source.generated.length:"),
            (10, "spec.registries[0].name:"),
            (3, "spec.region:"),
        ] {
            let found = run.stderr.lines().any(|l| {
                l.trim_start().starts_with(&format!("stack.yaml:{line}:")) && l.contains(path)
            });
            assert!(found, "{path} at line {line} missing:\n{}", run.stderr);
        }
        assert!(run.stderr.contains("(aws naming rules)"), "{}", run.stderr);
        assert!(
            run.stderr.contains("(azure naming rules)"),
            "{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    assert!(!scratch.state().exists(), "an invalid spec wrote state");
}

/// Issue 18 §2's example: a cluster without a network and a pool name AKS refuses are
/// reported together, neither hiding the other.
#[test]
fn a_missing_network_and_a_bad_aks_pool_name_are_reported_together() {
    let scratch = Scratch::with_spec(
        "name: shop\nenvironment: dev\naws: {region: us-east-1}\nazure: {location: westeurope}\n\
         cluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: General_Pool, size: small, min: 1, max: 3}\n",
    );
    let run = scratch
        .run(&["plan", "--cloud", "both"])
        .expect(code::INVALID_SPEC);
    assert!(run.stderr.contains("2 error(s)"), "{}", run.stderr);
    for (line, path) in [
        (1, "spec.network:"),
        (8, "spec.cluster.node_pools[0].name:"),
    ] {
        let found = run.stderr.lines().any(|l| {
            l.trim_start().starts_with(&format!("stack.yaml:{line}:")) && l.contains(path)
        });
        assert!(found, "{path} at line {line} missing:\n{}", run.stderr);
    }
    assert!(
        run.stderr.contains("(azure naming rules)"),
        "{}",
        run.stderr
    );
    assert!(!scratch.state().exists());
}

#[test]
fn malformed_yaml_points_at_its_line_and_column() {
    let scratch = Scratch::with_spec("name: shop\nenvironment: dev\nregistries: {name: [web\n");
    let run = scratch.run(&["up", "--local"]).expect(code::INVALID_SPEC);
    let located = run
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("stack.yaml:"))
        .unwrap_or_else(|| panic!("no located error:\n{}", run.stderr));
    let mut parts = located.trim_start().split(':').skip(1);
    let line: usize = parts.next().and_then(|l| l.parse().ok()).expect("a line");
    let column: usize = parts.next().and_then(|c| c.parse().ok()).expect("a column");
    assert!(line >= 3 && column > 0, "{located}");
    assert!(!scratch.state().exists());
}

#[test]
fn bad_arguments_and_a_missing_file_are_usage_errors() {
    let scratch = Scratch::with_spec(NET_SPEC);
    scratch.run(&["plan", "--no-such-flag"]).expect(code::USAGE);
    scratch.run(&["plan", "--cloud", "gcp"]).expect(code::USAGE);
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_multicloud"))
        .current_dir(scratch.path())
        .args(["plan", "-f", "absent.yaml"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(code::USAGE));
    let help = scratch.run(&["--help"]).expect(code::OK);
    for line in ["Exit codes:", "  3 ", "  5 ", "  6 "] {
        assert!(help.stdout.contains(line), "{line}:\n{}", help.stdout);
    }
}

#[test]
fn local_runs_keep_state_in_a_directory() {
    let scratch = Scratch::with_spec(NET_SPEC);
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_multicloud"))
        .current_dir(scratch.path())
        .args(["plan", "--local", "--state", "s3://bucket/prefix"])
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(code::USAGE));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--local keeps state"));
}
