//! No generated secret value in anything `multicloud` prints unless `--show-secrets` asks
//! for it: `up --json`, `outputs` (JSON and text), `state show --json`, `down --json`. Run
//! against a moto server this test owns, reached as a real AWS endpoint is (the AWS
//! environment variables, no `--local`), so that the test can read the value the run
//! generated.

use multicloud_aws::testing::{MotoServer, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use serde_json::Value;

use crate::support::{NET_SPEC, Run, Scratch, code, events};

/// Runs `multicloud <args> --cloud aws` against `endpoint` with moto's test credentials.
fn aws(scratch: &Scratch, endpoint: &str, args: &[&str]) -> Run {
    let mut cmd = scratch.command(args);
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
