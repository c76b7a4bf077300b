//! The emulator through the real client stack (bearer policy, emulator transport): shapes and
//! status codes against the example files, the three LRO patterns with non-zero durations
//! driven by the engine, ARM semantics (404 parents, 409 conflicts, cascade), and a create
//! that converges through the core's RetryPolicy and Poller under 10 % injected 429/503.

mod examples;
mod support;

use std::time::Duration;

use azure_core::http::Method;
use examples::{example, keys};
use multicloud_azure::arm::lro::{self, LroHandle, LroMethod, LroTracker, Started};
use multicloud_azure::arm::{ArmClient, api_versions};
use multicloud_azure::emulator::{
    Emulator, EmulatorArmClient, EmulatorConfig, LroPattern, Outcome,
};
use multicloud_azure::error::{ArmError, Op, classify};
use multicloud_core::provider::Outputs;
use multicloud_core::retry::{Poller, RetryPolicy};
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};
use support::call;

const AKS: &str = "Microsoft.ContainerService/managedClusters";

fn codes(example: &Value) -> Vec<u16> {
    keys(&example["responses"])
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect()
}

async fn start(config: EmulatorConfig) -> (Emulator, ArmClient, String) {
    let emu = Emulator::start(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let arm = emu.arm_client().unwrap_or_else(|e| panic!("{e}"));
    let sub = format!("/subscriptions/{}", emu.subscription());
    (emu, arm, sub)
}

fn fast_poller() -> Poller {
    Poller {
        interval: Duration::from_millis(100),
        max_interval: Duration::from_millis(500),
    }
}

/// Creates resource group `rg` in `eastus` under subscription path `sub`.
async fn put_rg(arm: &ArmClient, sub: &str) {
    let rg = json!({"location": "eastus"});
    let made = call(
        arm,
        Method::Put,
        &format!("{sub}/resourcegroups/rg"),
        api_versions::RESOURCES,
        Some(rg),
    )
    .await;
    assert!(matches!(made.status, 200 | 201), "{}", made.status);
}

/// Polls the operation on `key` to its end through the core's Poller.
async fn wait(
    arm: &ArmClient,
    tracker: &LroTracker,
    key: &str,
    fallback: LroHandle,
) -> Result<(), ProviderError> {
    fast_poller()
        .await_condition(
            Duration::from_secs(60),
            &RetryPolicy::default(),
            || async {
                let step = tracker
                    .poll(arm, key, fallback.clone())
                    .await
                    .map_err(|e| classify(e, Op::Read, key))?;
                step.into_readiness(|_| Ok(Outputs::new()))
            },
            |_| {},
        )
        .await
        .map(|_| ())
}

#[tokio::test]
async fn resource_groups_are_shaped_like_the_examples() {
    let (emu, arm, sub) = start(
        EmulatorConfig::default()
            .duration("Microsoft.Resources/resourceGroups", Duration::from_secs(1)),
    )
    .await;
    let create = example("Microsoft.Resources/2025-04-01/CreateResourceGroup.json");
    let rg = format!("{sub}/resourcegroups/my-resource-group");
    let first = call(
        &arm,
        Method::Put,
        &rg,
        api_versions::RESOURCES,
        Some(create["parameters"]["parameters"].clone()),
    )
    .await;
    let again = call(
        &arm,
        Method::Put,
        &rg,
        api_versions::RESOURCES,
        Some(json!({"location": "eastus"})),
    )
    .await;
    assert_eq!((first.status, again.status), (201, 200));
    assert_eq!(codes(&create), vec![200, 201]);
    let ours = first.json_value().unwrap_or_default();
    assert_eq!(
        keys(&ours)
            .iter()
            .filter(|k| *k != "type" && *k != "tags")
            .collect::<Vec<_>>(),
        keys(&create["responses"]["201"]["body"])
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        ours["properties"],
        create["responses"]["201"]["body"]["properties"]
    );
    let get = example("Microsoft.Resources/2025-04-01/ResourceGroups_Get.json");
    let got = call(&arm, Method::Get, &rg, api_versions::RESOURCES, None).await;
    assert_eq!(got.status, 200);
    for k in keys(&get["responses"]["200"]["body"]) {
        assert!(
            ours.get(&k).is_some() || got.json_value().unwrap_or_default().get(&k).is_some(),
            "{k}"
        );
    }
    // Delete: 202 + location at the example's own api-version (2018-08-01).
    let delete = example("Microsoft.Resources/2025-04-01/ForceDeleteVMsInResourceGroup.json");
    let del = call(&arm, Method::Delete, &rg, api_versions::RESOURCES, None).await;
    assert!(codes(&delete).contains(&del.status) && del.status == 202);
    let location = del.location.clone().unwrap_or_default();
    let want = delete["responses"]["202"]["headers"]["location"]
        .as_str()
        .unwrap_or_default();
    assert!(
        location.contains("/operationresults/") && location.ends_with("?api-version=2018-08-01"),
        "{location} vs {want}"
    );
    let started = lro::begin(LroMethod::Delete, &rg, del).unwrap_or_else(|e| panic!("{e}"));
    let tracker = LroTracker::new();
    tracker.track(&rg, &started);
    wait(
        &arm,
        &tracker,
        &rg,
        LroHandle::resource(LroMethod::Delete, &rg),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        call(&arm, Method::Get, &rg, api_versions::RESOURCES, None)
            .await
            .status,
        404
    );
    assert!(emu.requests().0 >= 6);
}

/// Creates and deletes one AKS cluster with `put`/`delete` patterns, checking the answers'
/// codes and headers and that provisioningState moves from Creating to Succeeded.
async fn lifecycle(put: LroPattern, delete: LroPattern) {
    let config = EmulatorConfig::default()
        .duration(AKS, Duration::from_millis(1500))
        .patterns(AKS, put, delete);
    let (emu, arm, sub) = start(config).await;
    put_rg(&arm, &sub).await;
    let id = format!("{sub}/resourceGroups/rg/providers/{AKS}/c1");
    let url = arm
        .url(&id, api_versions::CONTAINER_SERVICE)
        .unwrap_or_else(|e| panic!("{e}"));
    let first = arm
        .send(
            Method::Put,
            url.clone(),
            Some(&json!({"location": "eastus", "properties": {}})),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match put {
        LroPattern::AsyncOperation => {
            assert_eq!(first.status, 201);
            assert_eq!(
                first.json_value().unwrap_or_default()["properties"]["provisioningState"],
                "Creating"
            );
            assert!(first.azure_async_operation.is_some() && first.location.is_none());
            assert_eq!(
                emu.resource(&id)
                    .map(|r| r["properties"]["provisioningState"].clone()),
                Some(json!("Creating"))
            );
        }
        LroPattern::Location => assert!(
            first.status == 202
                && first.location.is_some()
                && first.azure_async_operation.is_none()
        ),
        LroPattern::Both => assert!(
            first.status == 202
                && first.location.is_some()
                && first.azure_async_operation.is_some()
        ),
    }
    assert_eq!(first.retry_after, Some(Duration::from_secs(1)));
    let poll_url = first
        .azure_async_operation
        .clone()
        .or(first.location.clone())
        .unwrap_or_default();
    assert!(
        poll_url.ends_with("api-version=2025-06-01-preview"),
        "its own api-version: {poll_url}"
    );
    // A second PUT while the first runs: 409 AnotherOperationInProgress, retryable.
    let busy = arm
        .send(
            Method::Put,
            url.clone(),
            Some(&json!({"location": "eastus"})),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (busy.status, busy.error_code.as_deref()),
        (409, Some("AnotherOperationInProgress"))
    );
    let tracker = LroTracker::new();
    tracker.track(
        url.as_str(),
        &lro::begin(LroMethod::Put, url.as_str(), first).unwrap_or_else(|e| panic!("{e}")),
    );
    let t0 = std::time::Instant::now();
    wait(
        &arm,
        &tracker,
        url.as_str(),
        LroHandle::resource(LroMethod::Put, url.as_str()),
    )
    .await
    .unwrap_or_else(|e| panic!("{put:?}: {e}"));
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    let got = call(
        &arm,
        Method::Get,
        &id,
        api_versions::CONTAINER_SERVICE,
        None,
    )
    .await;
    assert_eq!(
        got.json_value().unwrap_or_default()["properties"]["provisioningState"],
        "Succeeded"
    );

    let started = lro::start(&arm, LroMethod::Delete, url.clone(), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Started::Pending(handle) = started.clone() else {
        panic!("a delete with a duration is pending")
    };
    assert_eq!(
        emu.resource(&id)
            .map(|r| r["properties"]["provisioningState"].clone()),
        Some(json!("Deleting"))
    );
    tracker.track(url.as_str(), &started);
    wait(&arm, &tracker, url.as_str(), handle)
        .await
        .unwrap_or_else(|e| panic!("{delete:?}: {e}"));
    assert_eq!(
        call(
            &arm,
            Method::Get,
            &id,
            api_versions::CONTAINER_SERVICE,
            None
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn the_three_lro_patterns_create_and_delete_with_durations() {
    lifecycle(LroPattern::AsyncOperation, LroPattern::Location).await;
    lifecycle(LroPattern::Location, LroPattern::Both).await;
    lifecycle(LroPattern::Both, LroPattern::AsyncOperation).await;
}

#[tokio::test]
async fn failures_cancellation_missing_parents_and_verbatim_polling() {
    let (emu, arm, sub) =
        start(EmulatorConfig::default().duration(AKS, Duration::from_millis(300))).await;
    let id = format!("{sub}/resourceGroups/rg/providers/{AKS}/c1");
    let missing = call(
        &arm,
        Method::Put,
        &id,
        api_versions::CONTAINER_SERVICE,
        Some(json!({"location": "eastus"})),
    )
    .await;
    assert_eq!(
        (missing.status, missing.error_code.as_deref()),
        (404, Some("ResourceGroupNotFound"))
    );
    put_rg(&arm, &sub).await;
    let pool = format!("{id}/agentPools/pool1");
    let orphan = call(
        &arm,
        Method::Put,
        &pool,
        api_versions::CONTAINER_SERVICE,
        Some(json!({"properties": {}})),
    )
    .await;
    assert_eq!(orphan.error_code.as_deref(), Some("ParentResourceNotFound"));
    let e = orphan
        .error_for_status()
        .err()
        .unwrap_or_else(|| panic!("404"));
    assert_eq!(
        classify(e, Op::Create, "PUT pool").kind(),
        ErrorKind::EventualConsistency
    );
    let bad = call(
        &arm,
        Method::Put,
        &format!("{id}x/agentPools/way-too-long-pool"),
        api_versions::CONTAINER_SERVICE,
        Some(json!({})),
    )
    .await;
    assert_eq!(bad.status, 404, "parent first");

    emu.fail_next(
        AKS,
        Outcome::Fail {
            code: "InvalidParameter".into(),
            message: "The value of parameter vmSize is invalid.".into(),
        },
    );
    let url = arm
        .url(&id, api_versions::CONTAINER_SERVICE)
        .unwrap_or_else(|e| panic!("{e}"));
    let started = lro::start(
        &arm,
        LroMethod::Put,
        url.clone(),
        Some(&json!({"location": "eastus"})),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let Started::Pending(handle) = started else {
        panic!("pending")
    };
    // The polling URL with another api-version than its own is refused: only verbatim works.
    let mut tampered = handle.clone();
    tampered.poll_url = tampered
        .poll_url
        .replace("2025-06-01-preview", api_versions::CONTAINER_SERVICE);
    let e = lro::poll(&arm, &tampered).await.err();
    assert_eq!(
        e.as_ref().and_then(ArmError::code),
        Some("InvalidApiVersionParameter")
    );
    let tracker = LroTracker::new();
    let e = wait(&arm, &tracker, url.as_str(), handle)
        .await
        .err()
        .unwrap_or_else(|| panic!("fails"));
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::Failed, Some("InvalidParameter"))
    );
    assert!(
        e.message()
            .contains("The value of parameter vmSize is invalid.")
    );
    assert_eq!(
        emu.resource(&id)
            .map(|r| r["properties"]["provisioningState"].clone()),
        Some(json!("Failed"))
    );

    // Cancel a running update: the engine reports Canceled.
    let config_slow = arm
        .send(
            Method::Put,
            url.clone(),
            Some(&json!({"location": "eastus"})),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started =
        lro::begin(LroMethod::Put, url.as_str(), config_slow).unwrap_or_else(|e| panic!("{e}"));
    assert!(emu.cancel(&id));
    let Started::Pending(handle) = started else {
        panic!("pending")
    };
    let e = lro::poll(&arm, &handle).await.err();
    assert!(
        matches!(&e, Some(ArmError::OperationFailed { status, .. }) if status == "Canceled"),
        "{e:?}"
    );

    // Deleting what is not there is 204; deleting the group cascades.
    assert_eq!(
        call(
            &arm,
            Method::Delete,
            &format!("{id}nope"),
            api_versions::CONTAINER_SERVICE,
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(
            &arm,
            Method::Delete,
            &format!("{sub}/resourcegroups/rg"),
            api_versions::RESOURCES,
            None
        )
        .await
        .status,
        200
    );
    assert!(emu.resource(&id).is_none());
    // No token: 401 AuthenticationFailed, ARM-shaped.
    let raw = reqwest_free_unauthenticated(&emu).await;
    assert_eq!(raw, 401);
}

/// A request without a token, through the emulator transport directly.
async fn reqwest_free_unauthenticated(emu: &Emulator) -> u16 {
    use azure_core::http::HttpClient;
    let url = azure_core::http::Url::parse(
        "https://management.azure.com/subscriptions/s/resourcegroups/x?api-version=2025-04-01",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let request = azure_core::http::Request::new(url, Method::Get);
    let response = emu
        .transport()
        .execute_request(&request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    u16::from(response.status())
}

/// Starts a PUT of `{"location": "eastus"}` to `url`, each error classified as a create's
/// (`what` names the call) and retried by `retry` as the core does; panics if it gives up.
async fn put_retried(
    arm: &ArmClient,
    retry: &RetryPolicy,
    url: &azure_core::http::Url,
    what: &str,
) -> Started {
    retry
        .run(
            || async {
                lro::start(
                    arm,
                    LroMethod::Put,
                    url.clone(),
                    Some(&json!({"location": "eastus"})),
                )
                .await
                .map_err(|e| classify(e, Op::Create, what))
            },
            |_, _, _| {},
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn ten_percent_injected_faults_and_a_create_still_converges_through_the_core() {
    let config = EmulatorConfig {
        fault_rate: 0.10,
        seed: 42,
        ..EmulatorConfig::default()
    }
    .duration(AKS, Duration::from_millis(800));
    let (emu, arm, sub) = start(config).await;
    let retry = RetryPolicy {
        max_attempts: 10,
        base: Duration::from_millis(50),
        cap: Duration::from_millis(500),
    };
    let rg = format!("{sub}/resourcegroups/rg");
    let rg_url = arm
        .url(&rg, api_versions::RESOURCES)
        .unwrap_or_else(|e| panic!("{e}"));
    put_retried(&arm, &retry, &rg_url, "PUT rg").await;
    let tracker = LroTracker::new();
    for i in 0..6 {
        let url = arm
            .url(
                &format!("{rg}/providers/{AKS}/c{i}"),
                api_versions::CONTAINER_SERVICE,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        // create: one mutating call, retried by the core's RetryPolicy (a retried PUT that
        // already landed meets 409 AnotherOperationInProgress, also retried).
        let started = put_retried(&arm, &retry, &url, "PUT cluster").await;
        tracker.track(url.as_str(), &started);
        // ready: the engine's Poller, one poll per check, retrying 429/503 with Retry-After.
        wait(
            &arm,
            &tracker,
            url.as_str(),
            LroHandle::resource(LroMethod::Put, url.as_str()),
        )
        .await
        .unwrap_or_else(|e| panic!("c{i}: {e}"));
    }
    let (requests, faults) = emu.requests();
    assert!(faults > 0, "{faults} faults in {requests} requests");
    for i in 0..6 {
        let r = emu
            .resource(&format!("{rg}/providers/{AKS}/c{i}"))
            .unwrap_or_default();
        assert_eq!(r["properties"]["provisioningState"], "Succeeded");
    }
    eprintln!(
        "10% faults: {faults} of {requests} requests injected; {} API calls",
        arm.calls().total()
    );
}
