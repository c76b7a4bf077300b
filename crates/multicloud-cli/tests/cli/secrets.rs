//! No generated secret value in anything `multicloud` prints unless `--show-secrets` asks
//! for it: `up --json`, `outputs` (JSON and text), `state show --json`, `down --json`. Run
//! against a moto server this test owns, reached as a real AWS endpoint is (the AWS
//! environment variables, no `--local`), so that the test can read the value the run
//! generated. And state in S3 (`--state s3://…`) through the same environment.

use multicloud_aws::testing::{MotoServer, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use serde_json::Value;

use crate::support::{NET_SPEC, Run, Scratch, code, events};

/// Runs `multicloud <args> --cloud aws` against `endpoint` with moto's test credentials.
fn aws(scratch: &Scratch, endpoint: &str, args: &[&str]) -> Run {
    aws_at(scratch, endpoint, args, scratch.state().as_os_str())
}

/// [`aws`] with state at `state`.
fn aws_at(scratch: &Scratch, endpoint: &str, args: &[&str], state: &std::ffi::OsStr) -> Run {
    let mut cmd = scratch.command_at(args, state);
    cmd.args(["--cloud", "aws"])
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", scratch.path().join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.path().join("no-aws-credentials"),
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    Run::from(cmd.output().expect("run multicloud"), args)
}

#[test]
fn no_generated_secret_value_is_printed_unless_asked_for() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let moto = runtime.block_on(MotoServer::start()).expect("moto");
    let endpoint = moto.endpoint();
    let scratch = Scratch::with_spec(NET_SPEC);

    let up = aws(&scratch, &endpoint, &["up", "--json"]).expect(code::OK);
    assert_eq!(events(&up.json_lines(), "finished")[0]["failed"], 0);
    let outputs = aws(&scratch, &endpoint, &["outputs", "--json"]).expect(code::OK);
    let doc: Value = serde_json::from_str(outputs.stdout.trim()).expect("JSON");
    let name = doc["aws"]["secrets"]["api-token"]["name"]
        .as_str()
        .expect("the secret's name in Secrets Manager")
        .to_owned();
    let sm = aws_sdk_secretsmanager::Client::new(&runtime.block_on(moto.sdk_config("us-east-1")));
    let value = runtime
        .block_on(sm.get_secret_value().secret_id(&name).send())
        .expect("the generated secret")
        .secret_string()
        .expect("a string value")
        .to_owned();
    assert_eq!(value.chars().count(), 32, "the spec's length");

    let text = aws(&scratch, &endpoint, &["outputs"]).expect(code::OK);
    assert!(text.stdout.contains("[REDACTED]"), "{}", text.stdout);
    let show = aws(&scratch, &endpoint, &["state", "show", "--json"]).expect(code::OK);
    for run in [&up, &outputs, &text, &show] {
        assert!(
            !run.stdout.contains(&value),
            "the value leaked:\n{}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(&value),
            "the value leaked:\n{}",
            run.stderr
        );
    }

    let shown = aws(
        &scratch,
        &endpoint,
        &["outputs", "--json", "--show-secrets"],
    )
    .expect(code::OK);
    let doc: Value = serde_json::from_str(shown.stdout.trim()).expect("JSON");
    assert_eq!(doc["aws"]["secret_values"]["api-token"], value.as_str());

    let down = aws(&scratch, &endpoint, &["down", "--json"]).expect(code::OK);
    assert!(!down.stdout.contains(&value));
    let swept = aws(&scratch, &endpoint, &["sweep", "--dry-run", "--json"]).expect(code::OK);
    assert!(
        events(&swept.json_lines(), "swept").is_empty(),
        "{}",
        swept.stdout
    );
}

#[test]
fn state_in_s3_through_the_aws_environment() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let moto = runtime.block_on(MotoServer::start()).expect("moto");
    let endpoint = moto.endpoint();
    let s3 = aws_sdk_s3::Client::from_conf(runtime.block_on(moto.s3_config("us-east-1")));
    runtime
        .block_on(s3.create_bucket().bucket("cli-state").send())
        .expect("bucket");
    let scratch = Scratch::with_spec(NET_SPEC);
    let state = std::ffi::OsStr::new("s3://cli-state/team");

    aws_at(&scratch, &endpoint, &["up"], state).expect(code::OK);
    let listed = aws_at(&scratch, &endpoint, &["state", "list", "--json"], state).expect(code::OK);
    let lines = listed.json_lines();
    assert_eq!(lines.len(), 1, "{}", listed.stdout);
    assert_eq!(lines[0]["key"]["scope"]["cloud"], "aws");
    assert!(lines[0]["serial"].as_u64().is_some_and(|s| s > 0));
    let objects = runtime
        .block_on(
            s3.list_objects_v2()
                .bucket("cli-state")
                .prefix("team/")
                .send(),
        )
        .expect("list");
    assert!(
        objects
            .contents()
            .iter()
            .any(|o| o.key().is_some_and(|k| k.ends_with("state.json"))),
        "{objects:?}"
    );
    assert!(!scratch.state().exists(), "nothing written locally");

    aws_at(&scratch, &endpoint, &["down"], state).expect(code::OK);
    let listed = aws_at(&scratch, &endpoint, &["state", "list", "--json"], state).expect(code::OK);
    assert!(listed.stdout.trim().is_empty(), "{}", listed.stdout);
}
