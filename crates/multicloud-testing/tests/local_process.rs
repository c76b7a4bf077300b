//! `LocalProcess` with real processes: wait-ready, log capture, stop on drop, the keep
//! switch, port retries, and a process dying with its parent test process killed by SIGKILL.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use multicloud_testing::{Error, LocalProcess, WaitFor, free_port, start_on_free_port};

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Polls `condition` for up to `secs` seconds.
fn eventually(secs: u64, condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

fn sh(name: &str, script: &str) -> multicloud_testing::Builder {
    LocalProcess::builder(name, "sh")
        .args(["-c", script])
        .keep(false)
}

/// `python3 -m http.server` on `port`.
fn python_http_server(name: &str, port: u16) -> multicloud_testing::Builder {
    LocalProcess::builder(name, "python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .keep(false)
}

#[tokio::test]
async fn waits_for_an_http_server_and_stops_it_on_drop() {
    let port = free_port().expect("port");
    let server = python_http_server("http", port)
        .wait_for(WaitFor::http_status(port, "/", 200))
        .start()
        .await
        .expect("ready");
    let response = multicloud_testing::http::call(port, "GET", "/", Duration::from_secs(5))
        .await
        .expect("answers");
    assert_eq!(response.status, 200);
    let (pid, dir) = (server.pid(), server.dir().to_owned());
    assert!(server.log_path().starts_with(&dir));
    assert!(alive(pid));
    drop(server);
    assert!(!alive(pid), "stopped on drop");
    assert!(!dir.exists(), "its directory is removed");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn waits_for_a_port_a_log_line_and_a_custom_check() {
    let port = free_port().expect("port");
    let tcp = python_http_server("tcp", port)
        .wait_for(WaitFor::Port(port))
        .start()
        .await
        .expect("port ready");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    );
    drop(tcp);

    let started = Instant::now();
    let logged = sh(
        "logger",
        "sleep 0.5; echo 'line 1'; echo 'READY now'; exec sleep 300",
    )
    .wait_for(WaitFor::log_line("READY now"))
    .start()
    .await
    .expect("log line seen");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(logged.log_tail(1), "READY now");
    assert_eq!(logged.log_tail(20), "line 1\nREADY now");

    let probes = Arc::new(AtomicUsize::new(0));
    let counted = probes.clone();
    let custom = sh("custom", "exec sleep 300")
        .wait_for(WaitFor::custom("the third probe", move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move { n >= 2 }
        }))
        .start()
        .await
        .expect("custom check passes");
    assert_eq!(probes.load(Ordering::SeqCst), 3);
    drop(custom);
}

#[tokio::test]
async fn an_early_exit_is_an_error_quoting_the_log_which_is_kept() {
    let error = sh("failing", "echo boom; exit 3")
        .wait_for(WaitFor::log_line("never"))
        .start()
        .await
        .expect_err("it exits");
    let Error::NotReady {
        name,
        reason,
        log,
        log_tail,
    } = &error
    else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(name, "failing");
    assert!(
        reason.contains("exited") && reason.contains('3'),
        "{reason}"
    );
    assert_eq!(log_tail, "boom");
    assert!(log.is_file(), "the log is retained for inspection");
    assert!(error.to_string().contains("boom"));
    std::fs::remove_dir_all(log.parent().expect("dir")).expect("clean up");
}

#[tokio::test]
async fn a_timeout_stops_the_process() {
    let error = sh("silent", "echo $$ >pid; echo starting; exec sleep 300")
        .wait_for(WaitFor::log_line("never"))
        .ready_timeout(Duration::from_millis(500))
        .start()
        .await
        .expect_err("times out");
    let (reason, log, log_tail) = error.into_not_ready().expect("not ready");
    assert!(reason.contains("\"never\" in the log"), "{reason}");
    assert_eq!(log_tail, "starting");
    let dir = log.parent().expect("dir").to_owned();
    let pid: u32 = std::fs::read_to_string(dir.join("pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(!alive(pid), "stopped");
    // Neither the drop nor the watchdog removed the log.
    std::thread::sleep(Duration::from_secs(1));
    assert!(log.is_file());
    std::fs::remove_dir_all(dir).expect("clean up");
}

#[tokio::test]
async fn a_taken_port_is_retried_on_another_one() {
    let attempts = AtomicUsize::new(0);
    let first_dir = std::sync::Mutex::new(None);
    let server = start_on_free_port(3, "Address already in use", |port| {
        let script = if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            format!("echo 'port {port}: Address already in use'; exit 1")
        } else {
            format!("echo 'listening on {port}'; exec sleep 300")
        };
        let dir = LocalProcess::fresh_dir("retried")?;
        first_dir.lock().expect("lock").get_or_insert(dir.clone());
        Ok(sh("retried", &script)
            .dir(dir, true)
            .wait_for(WaitFor::log_line("listening")))
    })
    .await
    .expect("second attempt works");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let first_dir = first_dir
        .lock()
        .expect("lock")
        .clone()
        .expect("a first dir");
    assert!(
        !first_dir.exists(),
        "the failed attempt's directory is gone"
    );
    let port = server.port();
    assert_eq!(server.process().log_tail(1), format!("listening on {port}"));
    assert!(server.log_path().ends_with("retried.log"));
    assert_eq!(server.pid(), Some(server.process().pid()));
    assert_eq!(server.url("/x"), format!("http://127.0.0.1:{port}/x"));
}

#[test]
fn a_kept_process_outlives_its_handle_and_says_how_to_stop_it() {
    let kept = sh("kept", "exec sleep 300")
        .keep(true)
        .spawn()
        .expect("spawned");
    assert!(kept.is_kept());
    let (pid, dir) = (kept.pid(), kept.dir().to_owned());
    let hint = kept.stop_hint();
    assert_eq!(hint, format!("kill {pid}"));
    drop(kept);
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(pid), "kept running after drop");
    assert!(dir.exists(), "its directory stays");
    let status = std::process::Command::new("sh")
        .args(["-c", &hint])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(eventually(10, || !alive(pid)), "the hint stops it");
    std::fs::remove_dir_all(dir).expect("clean up");
}

/// Set in the helper run of [`a_child_dies_with_its_parent_killed_by_sigkill`]: where the
/// helper writes its child's pid and directory.
const HELPER_ENV: &str = "MULTICLOUD_TESTING_DIE_WITH_PARENT_REPORT";

/// Runs this test binary again as a helper that starts a process and hangs; SIGKILLs the
/// helper and checks that its process dies and the process's directory goes.
#[test]
fn a_child_dies_with_its_parent_killed_by_sigkill() {
    if let Some(report) = std::env::var_os(HELPER_ENV) {
        helper(Path::new(&report));
    }
    let scratch = tempfile::tempdir().expect("temp dir");
    let report = scratch.path().join("report");
    let mut parent = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "a_child_dies_with_its_parent_killed_by_sigkill",
            "--exact",
            "--nocapture",
        ])
        .env(HELPER_ENV, &report)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("helper starts");
    assert!(eventually(30, || report.is_file()), "the helper reports");
    let text = std::fs::read_to_string(&report).expect("report");
    let (pid, dir) = text.split_once('\n').expect("pid and dir");
    let (pid, dir): (u32, PathBuf) = (pid.parse().expect("pid"), PathBuf::from(dir));
    assert!(alive(pid), "the grandchild runs while the helper lives");
    assert!(dir.is_dir());

    parent.kill().expect("SIGKILL the helper");
    parent.wait().expect("reaped");
    assert!(
        eventually(10, || !alive(pid)),
        "the grandchild died with it"
    );
    assert!(eventually(15, || !dir.exists()), "its directory is removed");
}

fn helper(report: &Path) -> ! {
    let process = sh("orphan", "exec sleep 300").spawn().expect("spawned");
    let text = format!("{}\n{}", process.pid(), process.dir().display());
    let tmp = report.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write report");
    std::fs::rename(&tmp, report).expect("publish report");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
