//! The decision logic (seeded, deterministic), the plan's checks, where resets cut and the
//! shapes of the answers.

use super::answers::{self, AwsProtocol};
use super::conn::cut_at;
use super::wire::{Request, Response};
use super::*;

fn decisions(plan: &FaultPlan, n: usize) -> Vec<Decision> {
    let mut decider = plan.decider();
    (0..n).map(|_| decider.next_decision()).collect()
}

/// The first answers of seed 42 with 30 % mixed AWS faults.
const PINNED_42: [Option<Fault>; 12] = [
    None,
    None,
    None,
    Some(Fault::Throttle),
    None,
    Some(Fault::Unavailable),
    Some(Fault::Throttle),
    None,
    None,
    Some(Fault::Unavailable),
    None,
    None,
];

#[test]
fn the_same_seed_gives_the_same_decisions() {
    let plan = FaultPlan::mixed(Profile::Aws, 42, 0.3).latency(0.1, Duration::from_millis(5));
    let a = decisions(&plan, 200);
    assert_eq!(a, decisions(&plan, 200));
    let other = FaultPlan::mixed(Profile::Aws, 43, 0.3).latency(0.1, Duration::from_millis(5));
    assert_ne!(a, decisions(&other, 200));
    // The first decisions of seed 42, pinned: a change of the RNG or of the draw order
    // shows here.
    let answers: Vec<Option<Fault>> = a.iter().take(12).map(|d| d.answer).collect();
    assert_eq!(answers, PINNED_42);
}

#[test]
fn rates_are_followed_over_many_decisions() {
    let plan = FaultPlan::new(Profile::Kubernetes, 7)
        .rate(Fault::Throttle, 0.10)
        .rate(Fault::Conflict, 0.05)
        .rate(Fault::Reset, 0.02)
        .latency(0.20, Duration::from_millis(1));
    let all = decisions(&plan, 20_000);
    let share = |pred: &dyn Fn(&Decision) -> bool| {
        #[allow(clippy::cast_precision_loss)]
        let s = all.iter().filter(|d| pred(d)).count() as f64 / all.len() as f64;
        s
    };
    let near = |got: f64, want: f64| (got - want).abs() < 0.01;
    assert!(near(share(&|d| d.answer == Some(Fault::Throttle)), 0.10));
    assert!(near(share(&|d| d.answer == Some(Fault::Conflict)), 0.05));
    assert!(near(share(&|d| d.answer == Some(Fault::Reset)), 0.02));
    assert!(near(share(&|d| d.answer.is_none()), 0.83));
    assert!(near(share(&|d| d.latency.is_some()), 0.20));
    assert!(all.iter().all(|d| (0.0..1.0).contains(&d.cut)));
}

#[test]
fn no_rates_no_faults() {
    let all = decisions(&FaultPlan::new(Profile::Azure, 1), 1000);
    assert!(
        all.iter()
            .all(|d| d.answer.is_none() && d.latency.is_none())
    );
}

#[test]
fn mixed_spreads_the_rate_over_the_profiles_faults() {
    let plan = FaultPlan::mixed(Profile::Aws, 1, 0.10);
    for fault in [
        Fault::Throttle,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Reset,
    ] {
        assert!((plan.rate_of(fault) - 0.025).abs() < 1e-12, "{fault}");
    }
    assert_eq!(plan.rate_of(Fault::Latency), 0.0);
    assert_eq!(plan.rate_of(Fault::Conflict), 0.0);
    let tcp = FaultPlan::mixed(Profile::Tcp, 1, 0.10);
    assert!((tcp.rate_of(Fault::Reset) - 0.10).abs() < 1e-12);
    assert!(tcp.validate().is_ok());
}

#[test]
fn invalid_plans_are_refused() {
    let too_much = FaultPlan::new(Profile::Aws, 1)
        .rate(Fault::Throttle, 0.7)
        .rate(Fault::ServerError, 0.4);
    assert!(matches!(too_much.validate(), Err(FaultError::Plan(_))));
    let negative = FaultPlan::new(Profile::Aws, 1).rate(Fault::Throttle, -0.1);
    assert!(negative.validate().is_err());
    let no_conflict_on_aws = FaultPlan::new(Profile::Aws, 1).rate(Fault::Conflict, 0.1);
    assert!(no_conflict_on_aws.validate().is_err());
    let no_answers_over_tcp = FaultPlan::new(Profile::Tcp, 1).rate(Fault::Throttle, 0.1);
    assert!(no_answers_over_tcp.validate().is_err());
    // Latency does not count towards the exclusive total.
    let fine = FaultPlan::mixed(Profile::Azure, 1, 1.0).latency(1.0, Duration::ZERO);
    assert!(fine.validate().is_ok());
}

#[test]
fn a_reset_cuts_within_the_body_never_at_its_end() {
    let response = |head: usize, body: usize| Response {
        bytes: vec![b'x'; head + body],
        body_start: head,
        closes: false,
    };
    let r = response(100, 50);
    assert_eq!(cut_at(&r, 0.0), 100);
    assert_eq!(cut_at(&r, 0.5), 125);
    assert_eq!(cut_at(&r, 0.999_999), 149);
    let empty = response(100, 0);
    assert_eq!(cut_at(&empty, 0.5), 50);
    assert_eq!(cut_at(&empty, 0.999_999), 99);
}

#[test]
fn tcp_resets_come_past_the_skip() {
    let plan = FaultPlan::new(Profile::Tcp, 1).reset_window(1000, 100);
    let inner = Inner {
        upstream: SocketAddr::from(([127, 0, 0, 1], 1)),
        decider: Mutex::new(plan.decider()),
        plan,
        stats: Stats::default(),
    };
    assert_eq!(inner.reset_offset(0.0), 1000);
    assert_eq!(inner.reset_offset(0.5), 1050);
}

const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/{}/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abc";

fn aws_request(service: &str, extra: &[(&str, &str)]) -> Request {
    let auth = SIGNED.replace("{}", service);
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    Request::new("POST", "/", &headers, b"")
}

#[test]
fn aws_requests_are_told_apart_by_their_signature() {
    let form = [(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    )];
    assert_eq!(
        answers::aws_protocol(&aws_request("ec2", &form)),
        AwsProtocol::Ec2
    );
    assert_eq!(
        answers::aws_protocol(&aws_request("iam", &form)),
        AwsProtocol::Query
    );
    assert_eq!(
        answers::aws_protocol(&aws_request("secretsmanager", &[])),
        AwsProtocol::Json
    );
    assert_eq!(
        answers::aws_protocol(&aws_request("eks", &[])),
        AwsProtocol::Json
    );
    assert_eq!(
        answers::aws_protocol(&aws_request("s3", &[])),
        AwsProtocol::S3
    );
    let presigned = Request::new(
        "GET",
        "/b/k?X-Amz-Credential=AKID%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=1",
        &[],
        b"",
    );
    assert_eq!(answers::aws_service(&presigned).as_deref(), Some("s3"));
}

fn rendered(profile: Profile, fault: Fault, request: &Request) -> String {
    let answer = answers::answer(profile, fault, request, 2);
    String::from_utf8(answer.map(|a| a.to_bytes(false)).unwrap_or_default()).unwrap_or_default()
}

#[test]
fn answers_have_each_services_shape() {
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let ec2 = rendered(Profile::Aws, Fault::Throttle, &aws_request("ec2", &form));
    assert!(ec2.starts_with("HTTP/1.1 400 "), "{ec2}");
    assert!(ec2.contains("<Code>RequestLimitExceeded</Code>"), "{ec2}");
    let sm = rendered(
        Profile::Aws,
        Fault::Throttle,
        &aws_request(
            "secretsmanager",
            &[("Content-Type", "application/x-amz-json-1.1")],
        ),
    );
    assert!(
        sm.contains("Content-Type: application/x-amz-json-1.1"),
        "{sm}"
    );
    assert!(sm.contains(r#""__type":"ThrottlingException""#), "{sm}");
    let s3 = rendered(Profile::Aws, Fault::Unavailable, &aws_request("s3", &[]));
    assert!(s3.starts_with("HTTP/1.1 503 ") && s3.contains("<Code>SlowDown</Code>"));

    let arm = Request::new(
        "GET",
        "/subscriptions/s",
        &[("x-emulator-host", "management.azure.com")],
        b"",
    );
    let throttled = rendered(Profile::Azure, Fault::Throttle, &arm);
    assert!(throttled.starts_with("HTTP/1.1 429 "), "{throttled}");
    assert!(throttled.contains("Retry-After: 2\r\n"), "{throttled}");
    assert!(throttled.contains(r#"{"error":{"code":"TooManyRequests""#));
    let vault = Request::new(
        "GET",
        "/secrets/x",
        &[("x-emulator-host", "kv.vault.azure.net")],
        b"",
    );
    assert!(rendered(Profile::Azure, Fault::Throttle, &vault).contains(r#""code":"Throttled""#));
    assert_eq!(
        answers::answer(Profile::Azure, Fault::Conflict, &arm, 1),
        None
    );

    let cm = Request::new("PUT", "/api/v1/namespaces/shop/configmaps/web", &[], b"{}");
    let conflict = rendered(Profile::Kubernetes, Fault::Conflict, &cm);
    assert!(conflict.starts_with("HTTP/1.1 409 "), "{conflict}");
    let body = conflict.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(body.contains(r#""kind":"Status""#) && body.contains(r#""reason":"Conflict""#));
    assert!(body.contains(r#"configmaps \"web\""#), "{body}");
    assert!(
        body.contains(r#""details":{"name":"web","kind":"configmaps"}"#),
        "{body}"
    );
    assert!(answers::answer(Profile::Tcp, Fault::Throttle, &cm, 1).is_none());
}
