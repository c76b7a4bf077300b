//! `plan`, `up`, `outputs`, `state` and `down` with `--local`: moto and the Azure emulator,
//! started and stopped by each run.

use multicloud_core::state::{LocalStateStore, LockInfo, StateKey, StateStore};
use serde_json::Value;

use crate::support::{LocalSession, NET_SPEC, Scratch, code, events};

/// Where a `multicloud local` session writes where its stand-ins listen.
mod session {
    pub fn path(state: &std::path::Path) -> std::path::PathBuf {
        state.join("local-session.json")
    }
}

#[test]
fn plan_json_on_moto_lists_every_resource_to_create() {
    let scratch = Scratch::with_spec(NET_SPEC);
    let run = scratch
        .run(&["plan", "--local", "--cloud", "aws", "--json"])
        .expect(code::OK);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1, "one plan per cloud");
    let plan = &lines[0];
    assert_eq!(plan["cloud"], "aws");
    assert_eq!(plan["key"]["stack"], "netreg");
    assert_eq!(plan["key"]["scope"]["cloud"], "aws");
    let actions = plan["actions"].as_array().expect("actions");
    assert!(actions.iter().all(|a| a["action"] == "create"), "{plan}");
    assert_eq!(
        plan["summary"]["create"].as_u64(),
        Some(actions.len() as u64)
    );
    for id in ["vpc/main", "registry/web", "secret/api-token"] {
        assert!(
            actions.iter().any(|a| a["id"] == id),
            "{id} not planned: {plan}"
        );
    }
    assert!(!scratch.state().exists(), "plan wrote state");
}

/// `up --json`, `outputs --json`, `state list`, `down`, `sweep --dry-run`, `state list` on
/// `cloud`'s stand-in, kept by a `multicloud local` session so that every command sees what
/// the previous one did.
fn up_outputs_down(cloud: &str) {
    let scratch = Scratch::with_spec(NET_SPEC);
    let session = LocalSession::start(&scratch, &["--cloud", cloud]);
    assert!(
        session.ready["session"][cloud].is_object(),
        "{}",
        session.ready
    );
    assert!(session::path(&scratch.state()).exists());
    let local = ["--local", "--cloud", cloud];
    let with = |cmd: &[&'static str]| -> Vec<&str> { cmd.iter().copied().chain(local).collect() };

    let up = scratch.run(&with(&["up", "--json"])).expect(code::OK);
    let lines = up.json_lines();
    let finished = events(&lines, "finished");
    assert_eq!(finished.len(), 1, "{}", up.stdout);
    assert_eq!(finished[0]["failed"], 0);
    assert_eq!(finished[0]["cloud"], cloud);
    let succeeded = events(&lines, "resource_succeeded").len() as u64;
    assert_eq!(finished[0]["succeeded"].as_u64(), Some(succeeded));
    assert!(succeeded >= 3, "{}", up.stdout);
    assert_eq!(events(&lines, "outputs").len(), 1);

    let outputs = scratch.run(&with(&["outputs", "--json"])).expect(code::OK);
    let doc: Value = serde_json::from_str(outputs.stdout.trim()).expect("one JSON document");
    let ours = &doc[cloud];
    assert!(
        ours["registries"]["web"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("web")),
        "{doc}"
    );
    assert_eq!(ours["secret_values"]["api-token"], "[REDACTED]");
    assert!(ours["secrets"]["api-token"]["id"].is_string(), "{doc}");

    let listed = scratch.run(&["state", "list", "--json"]).expect(code::OK);
    assert_eq!(listed.json_lines().len(), 1, "{}", listed.stdout);
    let found = scratch
        .run(&with(&["sweep", "--dry-run", "--json"]))
        .expect(code::OK);
    assert!(
        events(&found.json_lines(), "swept").len() >= 3,
        "{}",
        found.stdout
    );

    scratch.run(&with(&["down"])).expect(code::OK);
    let left = scratch
        .run(&with(&["sweep", "--dry-run", "--json"]))
        .expect(code::OK);
    assert!(
        events(&left.json_lines(), "swept").is_empty(),
        "{}",
        left.stdout
    );
    let listed = scratch.run(&["state", "list", "--json"]).expect(code::OK);
    assert!(
        listed.stdout.trim().is_empty(),
        "state left: {}",
        listed.stdout
    );

    assert_eq!(session.stop(), code::OK);
    assert!(
        !session::path(&scratch.state()).exists(),
        "the session file is removed"
    );
}

#[test]
fn up_outputs_down_on_moto() {
    up_outputs_down("aws");
}

#[test]
fn up_outputs_down_on_the_azure_emulator() {
    up_outputs_down("azure");
}

#[test]
fn a_locked_state_exits_with_locked_and_changes_nothing() {
    let scratch = Scratch::with_spec(NET_SPEC);
    let local = ["--local", "--cloud", "azure"];
    let plan = scratch
        .run(&["plan", "--json", local[0], local[1], local[2]])
        .expect(code::OK);
    let key: StateKey =
        serde_json::from_value(plan.json_lines()[0]["key"].clone()).expect("the plan's key");
    let store = LocalStateStore::new(scratch.state());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let lock = runtime
        .block_on(store.lock(&key, LockInfo::for_current_process("test holds it")))
        .expect("the test takes the lock");

    let up = scratch
        .run(&["up", local[0], local[1], local[2]])
        .expect(code::LOCKED);
    assert!(up.stderr.contains("locked"), "{}", up.stderr);
    assert!(
        up.stderr.contains("test holds it") || up.stderr.contains("pid"),
        "{}",
        up.stderr
    );
    let listed = scratch.run(&["state", "list", "--json"]).expect(code::OK);
    let listing = &listed.json_lines()[0];
    assert!(listing["serial"].is_null(), "nothing recorded: {listing}");
    assert!(listing["lock"]["pid"].is_number(), "{listing}");

    runtime.block_on(lock.release()).expect("release");
}

#[test]
fn both_clouds_at_once_in_one_session() {
    let scratch = Scratch::with_spec(NET_SPEC);
    let session = LocalSession::start(&scratch, &["--cloud", "both"]);
    let both = ["--local", "--cloud", "both"];

    // Not a terminal: one line per event, each naming its cloud, both clouds interleaved.
    let up = scratch
        .run(&["up", both[0], both[1], both[2]])
        .expect(code::OK);
    let log: Vec<&str> = up.stdout.lines().filter(|l| l.starts_with('[')).collect();
    for cloud in ["aws", "azure"] {
        let finished = format!("] {cloud:<5} finished: ");
        assert!(log.iter().any(|l| l.contains(&finished)), "{}", up.stdout);
    }
    let header = up
        .stdout
        .lines()
        .find(|l| l.starts_with("output"))
        .expect("the outputs table");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["output", "aws", "azure"]
    );

    let outputs = scratch
        .run(&["outputs", "--json", both[0], both[1], both[2]])
        .expect(code::OK);
    let doc: Value = serde_json::from_str(outputs.stdout.trim()).expect("JSON");
    let url = |cloud: &str| {
        doc[cloud]["registries"]["web"]["url"]
            .as_str()
            .map(str::to_owned)
    };
    assert!(url("aws").is_some_and(|u| u.contains(".dkr.ecr.")), "{doc}");
    assert!(
        url("azure").is_some_and(|u| u.contains(".azurecr.io/")),
        "{doc}"
    );

    scratch
        .run(&["down", both[0], both[1], both[2]])
        .expect(code::OK);
    assert_eq!(session.stop(), code::OK);
}

#[test]
fn graph_state_unlock_and_migrate() {
    let scratch = Scratch::with_spec(NET_SPEC);
    let azure = ["--local", "--cloud", "azure"];
    let graph = scratch
        .run(&["graph", "--mermaid", azure[0], azure[1], azure[2]])
        .expect(code::OK);
    assert!(graph.stdout.starts_with("flowchart LR"), "{}", graph.stdout);
    assert!(graph.stdout.contains("registry_web"), "{}", graph.stdout);

    scratch
        .run(&["up", azure[0], azure[1], azure[2]])
        .expect(code::OK);
    let unlock = scratch
        .run(&["state", "unlock", azure[0], azure[1], azure[2]])
        .expect(code::OK);
    assert!(
        unlock.stdout.contains("was not locked"),
        "{}",
        unlock.stdout
    );

    let elsewhere = scratch.path().join("moved");
    let to = elsewhere.to_str().expect("a UTF-8 path");
    let migrate = scratch
        .run(&["state", "migrate", "--to", to, azure[0], azure[1], azure[2]])
        .expect(code::OK);
    assert!(
        migrate.stdout.contains("moved the state of netreg/cli"),
        "{}",
        migrate.stdout
    );
    let here = scratch.run(&["state", "list", "--json"]).expect(code::OK);
    assert!(here.stdout.trim().is_empty(), "{}", here.stdout);
    let there = std::process::Command::new(env!("CARGO_BIN_EXE_multicloud"))
        .args(["state", "list", "--json", "--state", to])
        .output()
        .expect("run");
    let listed = String::from_utf8_lossy(&there.stdout);
    let listing: Value = serde_json::from_str(listed.trim()).expect("one stack");
    assert_eq!(listing["key"]["stack"], "netreg");
    assert!(
        listing["serial"].as_u64().is_some_and(|s| s > 0),
        "{listing}"
    );
}

/// The ids of a `plan --json` line's actions, each with its action.
fn planned(run: &crate::support::Run) -> Vec<(String, String)> {
    run.json_lines()[0]["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap_or_default().to_owned(),
                a["action"].to_string(),
            )
        })
        .collect()
}

#[test]
fn target_replace_and_refresh() {
    let scratch = Scratch::with_spec(NET_SPEC);
    let azure = ["--local", "--cloud", "azure"];
    let run = |args: &[&'static str], code: i32| {
        let args: Vec<&str> = args.iter().copied().chain(azure).collect();
        scratch.run(&args).expect(code)
    };
    let session = LocalSession::start(&scratch, &["--cloud", "azure"]);
    run(&["refresh"], code::ERROR);
    run(&["up"], code::OK);

    let target = run(&["plan", "--json", "--target", "registry/web"], code::OK);
    let ids: Vec<String> = planned(&target).into_iter().map(|(id, _)| id).collect();
    assert!(ids.contains(&"registry/web".to_owned()), "{ids:?}");
    assert!(
        !ids.contains(&"virtual_network/main".to_owned()),
        "not a dependency: {ids:?}"
    );
    run(&["plan", "--target", "registry/nope"], code::USAGE);

    let replace = run(&["plan", "--json", "--replace", "registry/web"], code::OK);
    let web = planned(&replace)
        .into_iter()
        .find(|(id, _)| id == "registry/web");
    assert_eq!(web.map(|(_, a)| a), Some("\"replace\"".to_owned()));

    let unchanged = run(&["refresh", "--json"], code::OK);
    assert!(unchanged.stdout.trim().is_empty(), "{}", unchanged.stdout);
    assert_eq!(session.stop(), code::OK);

    // Without the session a command's emulator starts empty: what it reads has vanished,
    // and is dropped from state.
    let recorded = || -> Vec<String> {
        let show = run(&["state", "show", "--json"], code::OK);
        let state: Value = serde_json::from_str(show.stdout.trim()).expect("state");
        let ids = state["resources"].as_array().expect("resources").iter();
        ids.filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect()
    };
    let before = recorded();
    let vanished = run(&["refresh", "--json"], code::OK);
    let lines = vanished.json_lines();
    assert!(lines.len() >= 3, "{}", vanished.stdout);
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == "vanished" && l["cloud"] == "azure")
    );
    let gone: Vec<&str> = lines.iter().filter_map(|l| l["id"].as_str()).collect();
    let kept: Vec<String> = before
        .into_iter()
        .filter(|id| !gone.contains(&id.as_str()))
        .collect();
    assert_eq!(
        recorded(),
        kept,
        "what vanished is dropped from state, nothing else"
    );
}
