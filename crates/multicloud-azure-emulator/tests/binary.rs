//! The `multicloud-azure-emulator` binary, as a program in another process uses it: it
//! prints its base URL, answers real HTTP on it (ARM paths, `nextLink`s back to itself),
//! refuses calls without a token, and exits cleanly on SIGTERM.

mod support;

use std::process::Stdio;
use std::time::Duration;

use azure_core::http::Method;
use serde_json::json;
use support::send;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn the_binary_serves_arm_over_real_http_until_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_multicloud-azure-emulator"))
        .args(["--port", "0", "--page-size", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .unwrap_or_else(|e| panic!("no base URL printed: {e}"))
    .unwrap_or_else(|e| panic!("{e}"));
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    // Plain HTTP from outside the process (azure_core's reqwest client, no emulator
    // transport): create two groups and list them one per page.
    let http = azure_core::http::new_http_client(None);
    let sub = "/subscriptions/00000000-0000-0000-0000-000000000000";
    for rg in ["rg-a", "rg-b"] {
        let url = format!("{base}{sub}/resourcegroups/{rg}?api-version=2025-04-01");
        let r = send(
            http.as_ref(),
            Method::Put,
            &url,
            Some(&json!({"location": "westeurope"})),
            true,
        )
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["name"], rg);
    }
    let url = format!("{base}{sub}/resourcegroups?api-version=2025-04-01");
    let first = send(http.as_ref(), Method::Get, &url, None, true).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["value"][0]["name"], "rg-a");
    let next = first.json()["nextLink"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        next.starts_with(&format!("{base}{sub}/resourcegroups?")),
        "{next}"
    );
    let second = send(http.as_ref(), Method::Get, &next, None, true).await;
    assert_eq!(second.json()["value"][0]["name"], "rg-b");
    assert!(second.json().get("nextLink").is_none());
    let anonymous = send(http.as_ref(), Method::Get, &url, None, false).await;
    assert_eq!(
        (anonymous.status, anonymous.error_code.as_deref()),
        (401, Some("AuthenticationFailed"))
    );

    // SIGTERM: a clean exit.
    let pid = child.id().unwrap_or_else(|| panic!("no pid"));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap_or_else(|e| panic!("still running after SIGTERM: {e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn the_binary_refuses_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_multicloud-azure-emulator"))
        .args(["--port", "not-a-port"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid port") && err.contains("usage:"),
        "{err}"
    );
}
