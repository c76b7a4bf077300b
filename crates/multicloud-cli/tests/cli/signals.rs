//! Ctrl-C: the first cancels cleanly (running operations finish and are recorded, exit
//! "cancelled", the next `up` goes on); a second stops at once (exit 130).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::support::{NET_SPEC, Run, Scratch, code, events};

const AZURE: [&str; 3] = ["--local", "--cloud", "azure"];

/// A run of `up --json` being read line by line.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    lines: Vec<String>,
}

/// Starts `up --json` on the emulator and returns once the key vault is being created
/// (it takes a paced second; the secret waits for it).
fn up_until_the_vault_starts(scratch: &Scratch) -> Running {
    let mut child = scratch
        .command(&["up", "--json", AZURE[0], AZURE[1], AZURE[2]])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn multicloud");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut run = Running {
        child,
        stdout,
        lines: Vec::new(),
    };
    loop {
        let mut line = String::new();
        let read = run.stdout.read_line(&mut line).expect("read a line");
        assert!(
            read > 0,
            "the run ended before the vault started:\n{}",
            run.lines.join("")
        );
        let started = line.contains("\"resource_started\"") && line.contains("key_vault/main");
        run.lines.push(line);
        if started {
            return run;
        }
    }
}

impl Running {
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(status.success());
    }

    /// Reads the rest of stdout and waits for the end.
    fn finish(mut self) -> Run {
        let mut rest = String::new();
        self.stdout
            .read_to_string(&mut rest)
            .expect("read the rest");
        let output = self.child.wait_with_output().expect("wait");
        let mut run = Run::from(output, &["up --json (interrupted)"]);
        run.stdout = self.lines.concat() + &rest;
        run
    }
}

#[test]
fn ctrl_c_finishes_what_runs_records_it_and_says_cancelled() {
    let scratch = Scratch::with_spec(NET_SPEC);
    let running = up_until_the_vault_starts(&scratch);
    running.interrupt();
    let run = running.finish().expect(code::CANCELLED);
    assert!(run.stderr.contains("cancelled"), "{}", run.stderr);
    let lines = run.json_lines();
    let vault_done = events(&lines, "resource_succeeded")
        .iter()
        .any(|e| e["id"] == "key_vault/main");
    assert!(
        vault_done,
        "the running vault create finished:\n{}",
        run.stdout
    );
    let started = |id: &str| {
        events(&lines, "resource_started")
            .iter()
            .any(|e| e["id"] == id)
    };
    assert!(
        !started("secret/api-token"),
        "nothing new starts once cancelled"
    );

    let show = scratch
        .run(&["state", "show", "--json", AZURE[0], AZURE[1], AZURE[2]])
        .expect(code::OK);
    let state: Value = serde_json::from_str(show.stdout.trim()).expect("state JSON");
    let recorded: Vec<&str> = state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(recorded.contains(&"key_vault/main"), "{recorded:?}");
    assert!(!recorded.contains(&"secret/api-token"), "{recorded:?}");

    let again = scratch
        .run(&["up", "--json", AZURE[0], AZURE[1], AZURE[2]])
        .expect(code::OK);
    let created: Vec<String> = events(&again.json_lines(), "resource_succeeded")
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        created.iter().any(|id| id == "secret/api-token"),
        "{created:?}"
    );
}

#[test]
fn a_second_ctrl_c_stops_at_once() {
    let scratch = Scratch::with_spec(NET_SPEC);
    let running = up_until_the_vault_starts(&scratch);
    running.interrupt();
    std::thread::sleep(std::time::Duration::from_millis(100));
    running.interrupt();
    let run = running.finish().expect(code::INTERRUPTED);
    assert!(run.stderr.contains("stopped at once"), "{}", run.stderr);
}
