//! LoadBalancer apps on the real local control plane: the kit's load-balancer controller plays
//! the cloud (a loopback address each, the cleanup finalizer while the Service lives, removed
//! at deletion or when the Service stops being a LoadBalancer), so no test patches anything by
//! hand; and without it, the wait says what it waits for.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::ResourceExt;
use kube::api::Api;
use multicloud_core::events::Event;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::spec::{App, Expose};
use multicloud_core::{ApplyOptions, Error};
use multicloud_k8s::KubernetesWorkloads;
use multicloud_k8s::testing::{ControlPlane, LOAD_BALANCER_FINALIZER, PlaneOptions, ingress_ips};
use support::{Env, builder, client, web_app};

fn has_finalizer(service: &Service) -> bool {
    service
        .finalizers()
        .iter()
        .any(|f| f == LOAD_BALANCER_FINALIZER)
}

/// The Service `name` once `done` holds for it (10 s at most).
async fn until(services: &Api<Service>, name: &str, done: impl Fn(&Service) -> bool) -> Service {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = services.get(name).await.expect("service");
        if done(&live) || Instant::now() > deadline {
            return live;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn two_apps(api: Expose) -> multicloud_core::spec::StackSpec {
    let api = App::new("api")
        .image_from_registry("web", "v1")
        .port(9090)
        .expose(api);
    builder("lbs", web_app().expose(Expose::LoadBalancer))
        .app(api)
        .build()
        .expect("a valid spec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_apps_come_up_with_loopback_addresses_and_leave_nothing() {
    let env = Env::new();
    let c = client().await;
    let services: Api<Service> = Api::namespaced(c.clone(), "lbs");
    let stack = env.stack(two_apps(Expose::LoadBalancer));
    let out = tokio::time::timeout(Duration::from_secs(120), stack.up())
        .await
        .expect("up does not hang")
        .expect("up");
    let hosts: Vec<String> = ["web", "api"]
        .iter()
        .map(|app| out.services[*app].host.clone().expect("an address"))
        .collect();
    assert!(hosts.iter().all(|h| h.starts_with("127.0.0.")), "{hosts:?}");
    assert_ne!(hosts[0], hosts[1], "one address per service");
    for (app, host) in ["web", "api"].iter().zip(&hosts) {
        let live = services.get(app).await.expect("service");
        assert!(has_finalizer(&live), "{app}: {:?}", live.finalizers());
        assert_eq!(&ingress_ips(&live), std::slice::from_ref(host), "{app}");
    }

    // `api` stops being a LoadBalancer: the controller takes its finalizer and address off;
    // `web` keeps its address.
    let stack = env.stack(two_apps(Expose::ClusterIp));
    let out = stack.up().await.expect("up with api as ClusterIP");
    assert_eq!(out.services["web"].host.as_ref(), Some(&hosts[0]));
    let api = until(&services, "api", |s| {
        !has_finalizer(s) && ingress_ips(s).is_empty()
    })
    .await;
    assert!(!has_finalizer(&api), "{:?}", api.finalizers());
    assert_eq!(ingress_ips(&api), Vec::<String>::new());
    let web = services.get("web").await.expect("web");
    assert!(has_finalizer(&web));
    assert_eq!(ingress_ips(&web), [hosts[0].clone()]);

    // `down` waits for the controller's cleanup and leaves nothing.
    tokio::time::timeout(Duration::from_secs(120), stack.down())
        .await
        .expect("down does not hang")
        .expect("down");
    for app in ["web", "api"] {
        assert!(services.get_opt(app).await.expect("get").is_none(), "{app}");
    }
    let ns = Api::<Namespace>::all(c).get_opt("lbs").await.expect("get");
    assert!(ns.is_none(), "the namespace is gone: {ns:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cloud_the_wait_says_it_waits_for_the_address() {
    let plane = ControlPlane::start_with(PlaneOptions::default().without_load_balancers())
        .await
        .expect("a plane without the load-balancer controller");
    let env = Env::new();
    let spec = builder("lbwait", web_app().expose(Expose::LoadBalancer))
        .build()
        .expect("a valid spec");
    let mut options = ApplyOptions::default();
    options
        .timeouts
        .insert(ResourceKind::SERVICE, Duration::from_secs(5));
    let stack = env
        .stack_on(spec, KubernetesWorkloads::new(), &plane)
        .options(options);
    let mut events = stack.events();
    let err = stack.up().await.expect_err("no address ever comes");
    let waiting = "service lbwait/web: waiting for the load balancer's address";
    let Error::Apply { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(
        failures[0].id,
        ResourceId::new(ResourceKind::SERVICE, "web")
    );
    assert!(failures[0].error.message().contains(waiting), "{err}");
    // The events said it while waiting.
    let mut progress = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
        if let Event::ResourceProgress { id, status } = ev
            && id.kind_name() == "service"
        {
            progress.push(status);
        }
    }
    assert!(!progress.is_empty(), "no progress event for the service");
    assert!(progress.iter().all(|s| s == waiting), "{progress:?}");

    stack.down().await.expect("down");
    let services: Api<Service> = Api::namespaced(plane.client().await.expect("client"), "lbwait");
    assert!(services.get_opt("web").await.expect("get").is_none());
}
