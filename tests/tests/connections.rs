//! An app connected to its stack's own database and cache (`connect: [database, cache]`), on
//! both clouds' stand-ins with the app on the real local control plane: the Secrets
//! `shop-database` / `shop-cache` hold exactly what the cloud holds (the master password in
//! Secrets Manager / what the emulator's server was created with, the cache's AUTH token /
//! access key, the endpoints), the Deployment takes them with `envFrom`, and a rotated
//! credential is synced again and rolls the pods in the next `up`. The outputs a user needs
//! come one call each (`Stack::database_url`, `cache_url`, `registry_login`, `kubeconfig`)
//! and equal what the cloud holds; a client built from the kubeconfig reaches the plane.

#[path = "emulated/mod.rs"]
mod emulated;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig as KubeKubeconfig};
use multicloud_aws::AwsProvider;
use multicloud_aws::testing::MotoServer;
use multicloud_core::kubeconfig::Kubeconfig;
use multicloud_core::plan::Action;
use multicloud_core::prelude::*;
use multicloud_core::provider::Outputs;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_k8s::KubernetesWorkloads;
use multicloud_k8s::testing::ControlPlane;

const NAMESPACE: &str = "shop";
/// The stack's registry (spec name).
const REGISTRY: &str = "shop-api";

fn spec(environment: &str, region: &str, pool: NodePool) -> StackSpec {
    StackSpec::builder("shop")
        .environment(environment)
        .region(region)
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(pool))
        .database(Postgres::new("16"))
        .cache(Redis::new("7.1"))
        .registry(RegistrySpec::new(REGISTRY))
        .app(
            App::new("api")
                .image("nginx:1.27")
                .port(8080)
                .connect_database()
                .connect_cache(),
        )
        .build()
        .expect("valid spec")
}

/// The data of Secret `name` in the app namespace, as text.
async fn secret_data(client: &Client, name: &str) -> BTreeMap<String, String> {
    let secret = Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("secret {name}: {e}"));
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v.0).expect("utf-8")))
        .collect()
}

/// The Deployment `api`: the Secrets it takes with `envFrom`, and its pod template's
/// secret-versions annotation.
async fn deployment(client: &Client) -> (Vec<String>, String) {
    let d = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .get("api")
        .await
        .expect("deployment");
    let template = d.spec.template;
    let container = &template.spec.expect("pod spec").containers[0];
    let from = container
        .env_from
        .iter()
        .flatten()
        .filter_map(|e| e.secret_ref.as_ref().map(|s| s.name.clone()))
        .collect();
    let versions = template
        .metadata
        .and_then(|m| m.annotations)
        .and_then(|a| a.get("multicloud.dev/secret-versions").cloned())
        .expect("secret versions");
    (from, versions)
}

/// What both clouds' connections hold, checked against the stack's outputs and the
/// credentials `password` and `key` the cloud holds.
async fn assert_connected(client: &Client, out: &StackOutputs, password: &str, key: &str) {
    let db = out.database.as_ref().expect("database outputs");
    let database = secret_data(client, "shop-database").await;
    assert_eq!(database["PGHOST"], db.host);
    assert_eq!(database["PGPORT"], db.port.to_string());
    assert_eq!(database["PGUSER"], db.username);
    assert_eq!(database["PGDATABASE"], db.database);
    assert_eq!(database["PGPASSWORD"], password);
    assert_eq!(database["PGSSLMODE"], "require");
    assert_eq!(
        database["DATABASE_URL"],
        format!(
            "postgresql://{}:{password}@{}:{}/{}?sslmode=require",
            db.username, db.host, db.port, db.database
        )
    );
    let cache = out.cache.as_ref().expect("cache outputs");
    let redis = secret_data(client, "shop-cache").await;
    assert!(cache.tls, "both clouds' caches take TLS only");
    assert_eq!(
        redis["REDIS_URL"],
        format!("rediss://:{key}@{}:{}", cache.host, cache.port)
    );
    assert_eq!(redis["REDIS_PASSWORD"], key);
    assert_eq!(redis["REDIS_TLS"], "true");
    let (from, _) = deployment(client).await;
    assert_eq!(from, ["shop-database", "shop-cache"]);
}

/// Before `up`, every output call says the stack is not up.
async fn assert_not_up(stack: &Stack) {
    for result in [stack.database_url().await, stack.cache_url().await] {
        assert!(matches!(result, Err(Error::NotUp { .. })), "{result:?}");
    }
    let login = stack.registry_login(REGISTRY).await;
    assert!(matches!(login, Err(Error::NotUp { .. })), "{login:?}");
    let kubeconfig = stack.kubeconfig().await;
    assert!(
        matches!(kubeconfig, Err(Error::NotUp { .. })),
        "{kubeconfig:?}"
    );
}

/// The outputs a user needs, one call each, against what the cloud holds: the database URL
/// with the master password `password`, the cache URL with its key `key`, and `docker
/// login` credentials equal to the provider's pull credentials; none shows a secret in
/// `Debug` or `Display`.
async fn assert_one_call_outputs(stack: &Stack, out: &StackOutputs, password: &str, key: &str) {
    let db = out.database.as_ref().expect("database outputs");
    let url = stack.database_url().await.expect("database url");
    assert_eq!(
        url.expose(),
        format!(
            "postgresql://{}:{password}@{}:{}/{}?sslmode=require",
            db.username, db.host, db.port, db.database
        )
    );
    let cache = out.cache.as_ref().expect("cache outputs");
    let cache_url = stack.cache_url().await.expect("cache url");
    assert_eq!(
        cache_url.expose(),
        format!("rediss://:{key}@{}:{}", cache.host, cache.port)
    );
    let login = stack
        .registry_login(REGISTRY)
        .await
        .expect("registry login");
    let registry = Outputs::of(&out.registries[REGISTRY]).expect("registry outputs");
    let pulled = stack
        .provider()
        .registry()
        .pull_credentials(&registry)
        .await
        .expect("pull credentials");
    assert_eq!(
        (&login.server, &login.username, login.password.expose()),
        (&pulled.server, &pulled.username, pulled.password.expose())
    );
    assert!(!login.password.is_empty());
    assert_eq!(login.docker_login_args()[1], pulled.server);
    for shown in [
        format!("{url:?} {url}"),
        format!("{cache_url:?} {cache_url}"),
        format!("{login:?}"),
    ] {
        for secret in [password, key, login.password.expose()] {
            assert!(!shown.contains(secret), "a secret shows in {shown}");
        }
    }
    let missing = stack.registry_login("nope").await;
    assert!(
        matches!(missing, Err(Error::NoSuchPart { part: StackPart::Registry(ref n), .. }) if n == "nope"),
        "{missing:?}"
    );
}

/// `kubeconfig` reaches the plane at `endpoint`: it parses (kube's own parser) with that
/// server and the stack's CA, a client built from it lists the namespaces (the app's among
/// them), and `write_kubeconfig` writes it with mode 0600. Returns the kubeconfig.
async fn assert_kubeconfig_reaches(
    stack: &Stack,
    endpoint: &str,
    dir: &std::path::Path,
) -> Kubeconfig {
    let kubeconfig = stack.kubeconfig().await.expect("kubeconfig");
    assert_eq!(kubeconfig.server(), endpoint);
    let yaml = kubeconfig.to_yaml();
    let parsed = KubeKubeconfig::from_yaml(yaml.expose()).expect("a kubeconfig");
    let cluster = parsed.clusters[0].cluster.as_ref().expect("cluster");
    assert_eq!(cluster.server.as_deref(), Some(endpoint));
    assert_eq!(
        cluster.certificate_authority_data.as_deref(),
        Some(kubeconfig.ca_data())
    );
    let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .expect("client config");
    let client = Client::try_from(config).expect("client");
    let namespaces = Api::<Namespace>::all(client)
        .list(&ListParams::default())
        .await
        .expect("namespaces listed with the kubeconfig");
    assert!(
        namespaces
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some(NAMESPACE)),
        "the app's namespace is listed"
    );
    let path = dir.join("kubeconfig");
    stack.write_kubeconfig(&path).await.expect("written");
    let text = std::fs::read_to_string(&path).expect("read back");
    KubeKubeconfig::from_yaml(&text).expect("the file is a kubeconfig");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    kubeconfig
}

/// A plan right after an apply changes nothing (the connection's version is stable).
async fn assert_replan_is_noop(stack: &Stack) {
    let replan = stack.plan().await.expect("re-plan");
    assert!(
        replan.actions.iter().all(|a| a.action == Action::NoOp),
        "{replan}"
    );
}

/// Puts a new version of secret `name`; the next plan updates the connection and the
/// Deployment, the apply writes the new value and rolls the pods, and a plan after is a no-op.
async fn rotate_and_check(stack: &Stack, client: &Client, name: &str) {
    let (_, before) = deployment(client).await;
    let rotated = SecretString::new("rotated-Pa55word-0123456789");
    stack
        .provider()
        .secrets()
        .put_secret(name, &rotated)
        .await
        .expect("new version");
    let plan = stack.plan().await.expect("plan after rotation");
    for id in [
        ResourceId::new(ResourceKind::CONNECTION, "shop.database"),
        ResourceId::new(ResourceKind::DEPLOYMENT, "api"),
    ] {
        assert_eq!(
            plan.action(&id).map(|a| a.action),
            Some(Action::Update),
            "{id}: {plan}"
        );
    }
    stack.apply(&plan).await.expect("re-sync");
    assert_eq!(
        secret_data(client, "shop-database").await["PGPASSWORD"],
        rotated.expose()
    );
    let (_, after) = deployment(client).await;
    assert_ne!(before, after, "the pod template changed: the pods roll");
    assert_replan_is_noop(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_app_gets_the_master_password_and_auth_token_the_stack_created() {
    let moto = MotoServer::start().await.expect("moto");
    let plane = ControlPlane::start().await.expect("control plane");
    let provider = Arc::new(AwsProvider::from_sdk_config(
        &moto.sdk_config("us-east-1").await,
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let pool = NodePool::new("general", "t3.medium", 1, 3);
    let stack = Stack::new(spec("conn", "us-east-1", pool), provider.clone())
        .workloads(KubernetesWorkloads::new())
        .cluster_access(plane.credentials())
        .state(LocalStateStore::new(dir.path()));
    assert_not_up(&stack).await;
    let out = stack.up().await.expect("up");
    let client = plane.client().await.expect("client");

    // What Secrets Manager holds under the references the database and cache were created
    // with (the instance names its secret by ARN; the cache's token is the stack secret).
    let db = out.database.as_ref().expect("database");
    let secrets = provider.secrets();
    let password = secrets
        .get_secret(&db.password_secret)
        .await
        .expect("password");
    let token_name = "shop/conn/cache-auth-token";
    let token = secrets.get_secret(token_name).await.expect("auth token");
    let rds = aws_sdk_rds::Client::new(&moto.sdk_config("us-east-1").await);
    let live = rds
        .describe_db_instances()
        .db_instance_identifier(db.id.rsplit(':').next().expect("name"))
        .send()
        .await
        .expect("describe");
    let endpoint = live.db_instances()[0].endpoint().expect("endpoint");
    assert_eq!(endpoint.address(), Some(db.host.as_str()));
    assert_connected(&client, &out, password.expose(), token.expose()).await;
    assert_replan_is_noop(&stack).await;
    assert_one_call_outputs(&stack, &out, password.expose(), token.expose()).await;
    // The stack is pointed at the plane: its kubeconfig is the plane's (admin certificate).
    assert_kubeconfig_reaches(&stack, &plane.credentials().endpoint, dir.path()).await;
    // Without that override: the endpoint and CA EKS recorded, and an EKS token made in
    // process, new each call, valid 15 minutes.
    let plain = Stack::new(
        spec(
            "conn",
            "us-east-1",
            NodePool::new("general", "t3.medium", 1, 3),
        ),
        provider.clone(),
    )
    .state(LocalStateStore::new(dir.path()));
    let cluster = out.cluster.as_ref().expect("cluster outputs");
    let (first, second) = (
        plain.kubeconfig().await.expect("kubeconfig"),
        plain.kubeconfig().await.expect("kubeconfig"),
    );
    assert_eq!(
        (first.server(), first.ca_data()),
        (cluster.endpoint.as_str(), cluster.ca_data.as_str())
    );
    let token = first.credentials().token().expect("a bearer token");
    assert!(token.expose().starts_with("k8s-aws-v1."), "an EKS token");
    assert!(!format!("{first:?}").contains(token.expose()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let left = first.expires_at().expect("an expiry").timestamp() - now as i64;
    assert!((600..=900).contains(&left), "{left} s left");
    let back =
        multicloud_k8s::credentials_from_kubeconfig(first.to_yaml().expose()).expect("parses");
    assert_eq!(back.token(), Some(token), "the YAML carries the token");
    assert!(second.expires_at() >= first.expires_at());

    rotate_and_check(&stack, &client, &db.password_secret).await;
    // The rotated password is the one the next call returns.
    let rotated = stack.database_url().await.expect("database url");
    assert!(rotated.expose().contains(":rotated-Pa55word-0123456789@"));
    // No `down` here: moto leaves a deleted replication group `deleting` forever (see the
    // sweeper's tests); the Azure test below takes its stack down.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_app_gets_the_admin_password_and_access_key_the_stack_created() {
    let plane = ControlPlane::start().await.expect("control plane");
    let (emu, provider) = emulated::emulator_for(&plane).await;
    let bearer = plane.bearer_credentials();
    let dir = tempfile::tempdir().expect("tempdir");
    let pool = NodePool::new("general", "Standard_D4s_v5", 1, 3);
    let stack = Stack::new(spec("conn", "westeurope", pool), provider.clone())
        .workloads(KubernetesWorkloads::new())
        .state(LocalStateStore::new(dir.path()))
        .options(emulated::fast_options());
    assert_not_up(&stack).await;
    let out = stack.up().await.expect("up");
    let client = plane.client().await.expect("client");

    // The password the emulator's flexible server was created with (ARM never shows it),
    // and the access key its Redis database lists.
    let db = out.database.as_ref().expect("database");
    let password = emu.admin_password(&db.id).expect("server password");
    let cache = out.cache.as_ref().expect("cache");
    let keys = provider
        .arm()
        .post_action(
            &format!("{}/databases/default", cache.id),
            "listKeys",
            multicloud_azure::arm::api_versions::REDIS_ENTERPRISE,
        )
        .await
        .expect("listKeys");
    let key = keys["primaryKey"].as_str().expect("primary key");
    assert_connected(&client, &out, &password, key).await;
    assert_replan_is_noop(&stack).await;
    assert_one_call_outputs(&stack, &out, &password, key).await;
    // Through the provider's AKS user credential (the emulator hands out the plane's token).
    let kubeconfig = assert_kubeconfig_reaches(&stack, &bearer.endpoint, dir.path()).await;
    let token = kubeconfig.credentials().token().expect("a bearer token");
    assert_eq!(Some(token), bearer.token());
    assert!(!format!("{kubeconfig:?}").contains(token.expose()));
    // (A new version put into Key Vault without our tags reads as a foreign secret: left to
    // the provider's ownership check; the rotation path is the same code as on AWS.)
    stack.down().await.expect("down");
    let after = stack.database_url().await;
    assert!(matches!(after, Err(Error::NotUp { .. })), "{after:?}");
}
