//! Ephemeral environments on the memory cloud: up then down leaves nothing; so do a panic
//! while holding one, a drop, and a dropped `up`; a kept one stays and is removed as its
//! message says; the reaper removes expired ones with their state; a namespace holding
//! someone else's object is left behind without stopping the teardown; 20 environments up
//! and down at once leave nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use multicloud_core::down::Fate;
use multicloud_core::ephemeral::{DEFAULT_TTL, Teardown, reap_expired_before};
use multicloud_core::events::Event;
use multicloud_core::prelude::*;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::sweep::{SweepFilter, Sweeper};
use multicloud_core::tags::TAG_EXPIRES_AT;
use multicloud_core::testing::{
    InMemoryProvider, Latencies, MemoryCloud, MemorySweeper, Op, example_spec,
};
use multicloud_core::{EphemeralEnv, ephemeral::EphemeralEnvBuilder};

/// A memory cloud, its provider and sweeper, and a state directory: one world per test.
struct World {
    cloud: Arc<MemoryCloud>,
    provider: InMemoryProvider,
    dir: tempfile::TempDir,
}

impl World {
    fn new(latencies: Latencies) -> Self {
        let cloud = MemoryCloud::new(latencies);
        Self {
            provider: InMemoryProvider::new(cloud.clone()),
            cloud,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    fn instant() -> Self {
        Self::new(Latencies::zero())
    }
    fn store(&self) -> LocalStateStore {
        LocalStateStore::new(self.dir.path())
    }
    /// An environment of the README's example (with its app) in this world, not kept
    /// whatever the process environment says.
    fn env(&self) -> EphemeralEnvBuilder {
        EphemeralEnv::builder(example_spec(), self.provider.clone())
            .workloads(self.provider.workloads())
            .state(self.store())
            .keep(false)
    }
    /// A plain stack of `spec` in this world (to remove what a kept environment left).
    fn stack(&self, spec: StackSpec) -> Stack {
        Stack::new(spec, self.provider.clone())
            .workloads(self.provider.workloads())
            .state(self.store())
    }
    fn sweeper(&self) -> MemorySweeper {
        MemorySweeper::new(self.cloud.clone())
    }
    /// Asserts nothing of `environment` is left: in the cloud's inventory, for its sweeper,
    /// and in the state store.
    async fn assert_nothing_left(&self, environment: &str) {
        let owned = self.cloud.owned_by("shop", environment);
        assert!(owned.is_empty(), "left in the cloud: {owned:#?}");
        let found = self
            .sweeper()
            .find(&SweepFilter::stack("shop", environment))
            .await
            .expect("find");
        assert!(found.is_empty(), "the sweeper finds {found:#?}");
        let states = self.store().list().await.expect("list");
        assert!(
            states.iter().all(|l| l.key.environment != environment),
            "state left: {states:?}"
        );
    }
}

#[tokio::test]
async fn up_then_down_leaves_nothing() {
    let world = World::instant();
    let mut spec = example_spec();
    spec.ttl = None;
    let env = EphemeralEnv::builder(spec, world.provider.clone())
        .workloads(world.provider.workloads())
        .state(world.store())
        .keep(false)
        .up()
        .await
        .expect("up");
    let environment = env.environment().to_string();
    assert!(environment.starts_with("pr-1234-"), "{environment}");
    assert_eq!(env.spec().ttl, Some(DEFAULT_TTL), "the default TTL");
    let owned = world.cloud.owned_by("shop", &environment);
    assert!(owned.len() > 20, "the whole stack: {}", owned.len());
    assert!(owned.iter().all(|r| r.tags.contains_key(TAG_EXPIRES_AT)));
    assert!(env.outputs().cluster.is_some());
    let url = env.database_url().await.expect("database url");
    assert!(url.expose().starts_with("postgresql://"), "a real URL");
    let kubeconfig = env.kubeconfig().await.expect("kubeconfig");
    assert_eq!(
        kubeconfig.server(),
        env.outputs().cluster.as_ref().expect("cluster").endpoint
    );

    let teardown = env.down().await.expect("down");
    let report = teardown.report().expect("torn down, not kept");
    assert!(report.is_complete(), "{report}");
    world.assert_nothing_left(&environment).await;
    assert!(world.cloud.resources().is_empty());
}

#[tokio::test]
async fn two_environments_of_one_spec_never_collide() {
    let world = World::instant();
    let (a, b) = tokio::join!(world.env().up(), world.env().up());
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_ne!(a.environment(), b.environment());
    let (ea, eb) = (a.environment().to_string(), b.environment().to_string());
    drop(a);
    world.assert_nothing_left(&ea).await;
    assert!(
        !world.cloud.owned_by("shop", &eb).is_empty(),
        "b is still up"
    );
    b.down().await.expect("down b");
    world.assert_nothing_left(&eb).await;
}

#[tokio::test]
async fn a_test_task_that_panics_holding_the_env_leaves_nothing() {
    let world = World::instant();
    let env = world.env().up().await.expect("up");
    let environment = env.environment().to_string();
    let test = tokio::spawn(async move {
        let _env = env;
        panic!("the test failed");
    });
    assert!(test.await.expect_err("it panicked").is_panic());
    world.assert_nothing_left(&environment).await;
}

#[tokio::test]
async fn a_test_thread_that_panics_holding_the_env_leaves_nothing() {
    let world = World::instant();
    let env = world.env().up().await.expect("up");
    let environment = env.environment().to_string();
    let test = std::thread::spawn(move || {
        let _env = env;
        panic!("the test failed");
    });
    assert!(test.join().is_err(), "it panicked");
    world.assert_nothing_left(&environment).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_env_tears_down_on_a_multi_thread_runtime_too() {
    let world = World::instant();
    let env = world.env().up().await.expect("up");
    let environment = env.environment().to_string();
    drop(env);
    world.assert_nothing_left(&environment).await;
}

#[tokio::test]
async fn a_dropped_up_is_cancelled_and_torn_down() {
    // Slow enough that the timeout lands in the middle of `up`.
    let world = World::new(Latencies::realistic(Duration::from_millis(40)));
    let up = world.env().suffix("cut1").up();
    let cut = tokio::time::timeout(Duration::from_millis(150), up).await;
    assert!(cut.is_err(), "up was cut short");
    assert!(world.cloud.count(Op::Create) > 0, "up had started creating");
    world.assert_nothing_left("pr-1234-cut1").await;
    assert!(world.cloud.resources().is_empty());
}

#[tokio::test]
async fn a_failed_up_tears_down_what_it_made() {
    let world = World::instant();
    world
        .cloud
        .fail(ResourceId::single(ResourceKind::DATABASE), Op::Create, 1);
    let err = world
        .env()
        .suffix("fail1")
        .up()
        .await
        .expect_err("up fails");
    assert!(err.to_string().contains("database"), "{err}");
    world.assert_nothing_left("pr-1234-fail1").await;
}

#[tokio::test]
async fn a_kept_env_stays_and_goes_as_its_message_says() {
    let world = World::instant();
    let env = world.env().keep(true).up().await.expect("up");
    assert!(env.is_kept());
    let environment = env.environment().to_string();
    let spec = env.spec().clone();
    drop(env);
    assert!(
        !world.cloud.owned_by("shop", &environment).is_empty(),
        "kept"
    );

    // `down` of a kept environment keeps it too, and says how to remove it.
    let again = EphemeralEnv::builder(example_spec(), world.provider.clone())
        .workloads(world.provider.workloads())
        .state(world.store())
        .keep(true)
        .suffix("kept2")
        .up()
        .await
        .expect("up");
    let Teardown::Kept(kept) = again.down().await.expect("down") else {
        panic!("kept")
    };
    let message = kept.to_string();
    for needle in [
        "shop/pr-1234-kept2",
        "SweepFilter::stack(\"shop\", \"pr-1234-kept2\")",
        "Stack::down",
    ] {
        assert!(message.contains(needle), "{needle} in {message}");
    }

    // As the message says: `Stack::down` of its spec with its environment, same store.
    let report = world.stack(spec).down().await.expect("down");
    assert!(report.is_complete());
    world.assert_nothing_left(&environment).await;
    let mut second = example_spec();
    second.environment = "pr-1234-kept2".into();
    world.stack(second).down().await.expect("down");
    assert!(world.cloud.resources().is_empty());
}

#[tokio::test]
async fn the_reaper_removes_expired_environments_and_their_state() {
    let world = World::instant();
    // Two runners killed outright (kept: nothing tore them down): one expires in an hour,
    // the other in five.
    let short = world
        .env()
        .keep(true)
        .ttl(Duration::from_secs(3600))
        .up()
        .await
        .expect("up");
    let long = world
        .env()
        .keep(true)
        .ttl(Duration::from_secs(5 * 3600))
        .up()
        .await
        .expect("up");
    let (short_env, long_env) = (
        short.environment().to_string(),
        long.environment().to_string(),
    );
    let long_spec = long.spec().clone();
    drop((short, long));

    // Three hours later, the reaper runs.
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    let store = world.store();
    let report = reap_expired_before(later, world.provider.name(), &world.sweeper(), &store)
        .await
        .expect("reap");
    assert!(report.is_clean(), "{report:?}");
    let removed: Vec<&str> = report
        .states_removed
        .iter()
        .map(|k| k.environment.as_str())
        .collect();
    assert_eq!(removed, [short_env.as_str()]);
    assert!(
        report
            .sweep
            .deleted
            .iter()
            .all(|r| r.tags.get("multicloud:env") == Some(&short_env)),
        "only the expired one"
    );
    assert!(!report.sweep.deleted.is_empty());
    world.assert_nothing_left(&short_env).await;
    assert!(
        !world.cloud.owned_by("shop", &long_env).is_empty(),
        "not expired yet"
    );

    // The one not yet expired is left whole: it still comes down as usual.
    world.stack(long_spec).down().await.expect("down");
    world.assert_nothing_left(&long_env).await;
}

#[tokio::test]
async fn a_namespace_holding_someone_elses_object_is_left_behind_and_the_rest_goes() {
    let world = World::instant();
    let env = world.env().up().await.expect("up");
    let environment = env.environment().to_string();
    world
        .cloud
        .put_foreign_object("shop", &environment, "shop", "configmap/theirs");
    let mut events = env.stack().events();

    let teardown = env.down().await.expect("down completes");
    let report = teardown.report().expect("torn down").clone();
    assert_eq!(report.left_behind.len(), 1, "{report}");
    let left = &report.left_behind[0];
    assert_eq!(left.id, ResourceId::new(ResourceKind::NAMESPACE, "shop"));
    assert_eq!(left.fate, Fate::GoneWithCluster);
    assert!(left.reason.contains("configmap/theirs"), "{}", left.reason);
    assert_eq!(report.remaining().count(), 0);
    // The cluster, database and network went; the namespace went with the cluster.
    world.assert_nothing_left(&environment).await;
    assert!(world.cloud.foreign_objects().is_empty());

    let mut seen = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.next()).await {
        seen.push(e);
    }
    assert!(
        seen.iter().any(
            |e| matches!(e, Event::ResourceLeftBehind { id, remains: false, .. } if id == &left.id)
        ),
        "{seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::ResourceFailed { .. })),
        "{seen:#?}"
    );
}

#[tokio::test]
async fn a_namespace_left_behind_by_an_up_remains_and_says_so() {
    let world = World::instant();
    let env = world.env().up().await.expect("up");
    let environment = env.environment().to_string();
    world
        .cloud
        .put_foreign_object("shop", &environment, "shop", "configmap/theirs");
    // The app leaves the spec: `up` deletes its objects but the cluster stays.
    let mut without_app = env.spec().clone();
    without_app.apps.clear();
    let stack = world.stack(without_app);
    let mut events = stack.events();
    stack.up().await.expect("up without the app");
    let mut remains = None;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.next()).await {
        if let Event::ResourceLeftBehind { id, remains: r, .. } = e {
            remains = Some((id, r));
        }
    }
    assert_eq!(
        remains,
        Some((ResourceId::new(ResourceKind::NAMESPACE, "shop"), true)),
        "the namespace remains: the cluster stays"
    );
    assert!(
        world
            .cloud
            .resources()
            .iter()
            .any(|r| r.kind == ResourceKind::NAMESPACE),
        "still in the cluster"
    );
    drop(env);
    world.assert_nothing_left(&environment).await;
}

/// Peak resident memory of this process (`VmHWM`), where the system says.
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_environments_up_and_down_at_once_leave_nothing() {
    let world = Arc::new(World::new(Latencies::realistic(Duration::from_millis(5))));
    let started = Instant::now();
    let runs = (0..20).map(|_| {
        let world = world.clone();
        tokio::spawn(async move {
            let env = world.env().up().await.expect("up");
            let environment = env.environment().to_string();
            let url = env.database_url().await.expect("database url");
            assert!(url.expose().contains(&environment));
            env.down().await.expect("down");
            environment
        })
    });
    let environments: Vec<String> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.expect("run"))
        .collect();
    let elapsed = started.elapsed();
    let distinct: std::collections::BTreeSet<&String> = environments.iter().collect();
    assert_eq!(distinct.len(), 20, "unique environments: {environments:?}");
    let leaks = world
        .sweeper()
        .find(&SweepFilter::all())
        .await
        .expect("find");
    assert!(leaks.is_empty(), "0 leaks: {leaks:#?}");
    assert!(world.cloud.resources().is_empty());
    assert!(world.store().list().await.expect("list").is_empty());
    eprintln!(
        "20 environments up and down concurrently: {elapsed:.2?}, {} creations, peak memory {}",
        world.cloud.creations().len(),
        peak_memory().unwrap_or_else(|| "unknown".into())
    );
}
