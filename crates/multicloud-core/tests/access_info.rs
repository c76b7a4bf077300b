//! The outputs a user needs, one call each, on the memory cloud: `database_url`,
//! `cache_url`, `registry_login`, `kubeconfig` / `write_kubeconfig`; the typed errors before
//! `up` and for parts a stack does not have; the provider seam that says where a data
//! service's credential is (`CloudProvider::data_service`), through an `Arc` too.

use std::sync::Arc;

use multicloud_core::expand::ServiceAnchor;
use multicloud_core::outputs::DatabaseOutputs;
use multicloud_core::prelude::*;
use multicloud_core::provider::{ClusterOps, KindTable, Registry, SecretBackend};
use multicloud_core::resource::{ResourceGraph, ResourceId};
use multicloud_core::spec::{Connection, NamingRules};
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, memory_stack};

fn provider() -> InMemoryProvider {
    InMemoryProvider::new(MemoryCloud::new(Latencies::zero()))
}

/// `stack` with its state in `dir`.
fn stack_in(dir: &tempfile::TempDir, provider: InMemoryProvider) -> Stack {
    memory_stack(multicloud_core::testing::example_spec(), provider)
        .state(LocalStateStore::new(dir.path()))
}

#[tokio::test]
async fn before_up_every_call_says_the_stack_is_not_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack_in(&dir, provider());
    let not_up = |e: Error| assert!(matches!(e, Error::NotUp { .. }), "{e:?}");
    not_up(stack.database_url().await.expect_err("not up"));
    not_up(stack.cache_url().await.expect_err("not up"));
    not_up(stack.registry_login("shop-api").await.expect_err("not up"));
    not_up(stack.kubeconfig().await.expect_err("not up"));
    let path = dir.path().join("kubeconfig");
    not_up(stack.write_kubeconfig(&path).await.expect_err("not up"));
    assert!(!path.exists(), "nothing written");
    let e = stack.database_url().await.expect_err("not up");
    assert!(
        e.to_string()
            .contains("shop/pr-1234 (memory local) is not up"),
        "{e}"
    );
}

#[tokio::test]
async fn after_up_each_output_is_one_call_and_shows_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = provider();
    let stack = stack_in(&dir, memory.clone());
    let out = stack.up().await.expect("up");

    let db: &DatabaseOutputs = out.database.as_ref().expect("database");
    let password = memory
        .get_secret(&db.password_secret)
        .await
        .expect("password");
    let url = stack.database_url().await.expect("database url");
    assert_eq!(
        url.expose(),
        format!(
            "postgresql://{}:{}@{}:5432/{}?sslmode=require",
            db.username,
            password.expose(),
            db.host,
            db.database
        )
    );
    assert!(!format!("{url:?} {url}").contains(password.expose()));

    let cache = out.cache.as_ref().expect("cache");
    let cache_url = stack.cache_url().await.expect("cache url");
    assert_eq!(
        cache_url.expose(),
        format!("redis://{}:{}", cache.host, cache.port),
        "the memory cache has no key and no TLS"
    );

    let login = stack.registry_login("shop-api").await.expect("login");
    let registry = &out.registries["shop-api"];
    assert_eq!(login.server, registry.url);
    assert_eq!(login.username, "memory");
    assert_eq!(
        login.docker_login_args(),
        [
            "login",
            registry.url.as_str(),
            "--username",
            "memory",
            "--password-stdin"
        ]
    );
    assert!(!login.docker_login_args().contains(&login.password.expose()));
    assert!(!format!("{login:?}").contains(login.password.expose()));
}

#[tokio::test]
async fn a_kubeconfig_has_the_cluster_and_a_new_token_each_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = provider().with_token_lifetime(std::time::Duration::from_secs(900));
    let stack = stack_in(&dir, memory.clone());
    let out = stack.up().await.expect("up");
    let cluster = out.cluster.expect("cluster");
    let issued = memory.tokens_issued();

    let first = stack.kubeconfig().await.expect("kubeconfig");
    assert_eq!(first.server(), cluster.endpoint);
    assert_eq!(first.ca_data(), cluster.ca_data);
    assert!(first.expires_at().is_some(), "the token's expiry is told");
    let yaml = first.to_yaml();
    let doc: serde_json::Value = serde_yaml_ng::from_str(yaml.expose()).expect("YAML");
    assert_eq!(doc["clusters"][0]["cluster"]["server"], cluster.endpoint);
    assert_eq!(
        doc["clusters"][0]["cluster"]["certificate-authority-data"],
        cluster.ca_data
    );
    let token = doc["users"][0]["user"]["token"].as_str().expect("a token");
    assert_eq!(Some(token), first.credentials().token().map(|t| t.expose()));
    assert!(!format!("{first:?} {yaml:?} {yaml}").contains(token));

    let path = dir.path().join("kubeconfig");
    let written = stack.write_kubeconfig(&path).await.expect("written");
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text, written.to_yaml().expose());
    assert_ne!(
        written.credentials().token(),
        first.credentials().token(),
        "a new token each call"
    );
    assert_eq!(memory.tokens_issued(), issued + 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn parts_a_stack_does_not_have_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = StackSpec::builder("bare")
        .environment("dev")
        .secret(SecretSpec::generated("api-token", 16))
        .build()
        .expect("valid spec");
    let stack = Stack::new(spec, provider()).state(LocalStateStore::new(dir.path()));
    stack.up().await.expect("up");
    let part = |e: Error| match e {
        Error::NoSuchPart { part, .. } => part,
        other => panic!("expected NoSuchPart, got {other:?}"),
    };
    assert_eq!(
        part(stack.database_url().await.expect_err("none")),
        StackPart::Database
    );
    assert_eq!(
        part(stack.cache_url().await.expect_err("none")),
        StackPart::Cache
    );
    assert_eq!(
        part(stack.kubeconfig().await.expect_err("none")),
        StackPart::Cluster
    );
    let e = stack.registry_login("nope").await.expect_err("none");
    assert_eq!(
        e.to_string(),
        "stack bare/dev (memory local) has no registry `nope` (not in its spec, or not made by `up` yet)"
    );
    assert_eq!(part(e), StackPart::Registry("nope".into()));
}

/// The memory cloud whose cache's credential is the `secret` node of the given name (the
/// spec secret `api-token` below): what a provider with a keyed cache declares through
/// `data_service`.
struct KeyedCache(InMemoryProvider, &'static str);

impl CloudProvider for KeyedCache {
    fn name(&self) -> &str {
        "memory+key"
    }
    fn kind_table(&self) -> &KindTable {
        self.0.kind_table()
    }
    fn naming_rules(&self) -> &dyn NamingRules {
        self.0.naming_rules()
    }
    fn expand(
        &self,
        spec: &StackSpec,
    ) -> Result<ResourceGraph, multicloud_core::expand::ExpandError> {
        self.0.expand(spec)
    }
    fn data_service(&self, spec: &StackSpec, service: Connection) -> Option<ServiceAnchor> {
        let anchor = ServiceAnchor::neutral(spec, service)?;
        Some(match service {
            Connection::Cache => {
                anchor.with_credential(ResourceId::new(ResourceKind::SECRET, self.1))
            }
            Connection::Database => anchor,
        })
    }
    fn cluster(&self) -> &dyn ClusterOps {
        self.0.cluster()
    }
    fn registry(&self) -> &dyn Registry {
        self.0.registry()
    }
    fn secrets(&self) -> &dyn SecretBackend {
        self.0.secrets()
    }
}

#[tokio::test]
async fn the_cache_url_carries_the_credential_the_provider_declares_and_follows_a_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = provider();
    // Through an `Arc<dyn CloudProvider>`: the forwarding impl keeps the provider's answer.
    let shared: Arc<dyn CloudProvider> = Arc::new(KeyedCache(memory.clone(), "api-token"));
    let stack = Stack::new(multicloud_core::testing::example_spec(), shared)
        .workloads(memory.workloads())
        .state(LocalStateStore::new(dir.path()));
    let out = stack.up().await.expect("up");
    let secret = &out.secrets["api-token"];
    let key = memory.get_secret(&secret.name).await.expect("key");
    let cache = out.cache.as_ref().expect("cache");
    let url = stack.cache_url().await.expect("cache url");
    assert_eq!(
        url.expose(),
        format!("redis://:{}@{}:{}", key.expose(), cache.host, cache.port)
    );
    assert!(!format!("{url:?}").contains(key.expose()));

    // A new password in the secret store is the one the next call returns.
    let db = out.database.as_ref().expect("database");
    let rotated = SecretString::new("rotated-0123456789");
    memory
        .put_secret(&db.password_secret, &rotated)
        .await
        .expect("rotate");
    let url = stack.database_url().await.expect("database url");
    assert!(url.expose().contains(":rotated-0123456789@"));
}

#[tokio::test]
async fn a_declared_credential_that_is_not_recorded_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = provider();
    let stack = Stack::new(
        multicloud_core::testing::example_spec(),
        KeyedCache(memory.clone(), "cache-key"),
    )
    .workloads(memory.workloads())
    .state(LocalStateStore::new(dir.path()));
    stack.up().await.expect("up");
    match stack.cache_url().await {
        Err(Error::NoSuchPart { part, .. }) => {
            assert_eq!(part, StackPart::Credential(Connection::Cache));
            assert_eq!(part.to_string(), "cache credential secret");
        }
        other => panic!("expected NoSuchPart, got {other:?}"),
    }
}
