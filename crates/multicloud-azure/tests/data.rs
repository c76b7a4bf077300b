//! PostgreSQL flexible server with private access and Azure Managed Redis on the emulator:
//! the administrator password is generated into Key Vault and only there (not in the
//! server's body, outputs or state); the Redis access key is copied from `listKeys` into
//! Key Vault, never state.

mod support;

use std::time::Duration;

use multicloud_core::StackSpec;
use multicloud_core::provider::CloudProvider;
use multicloud_core::spec::{Postgres, Redis};
use support::{TestResult, World, config, spec_in};

fn spec() -> StackSpec {
    spec_in("data", "t5")
        .database(Postgres::new("16"))
        .cache(Redis::new("7.4"))
        .build_unchecked()
}

/// Every file of the state directory, as text.
fn state_text(dir: &std::path::Path) -> String {
    let mut all = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                all.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    all
}

#[tokio::test]
async fn database_and_cache_with_their_secrets_only_in_key_vault() -> TestResult {
    let world = World::start(config(Duration::from_millis(300)), |b| b).await?;
    let stack = world.stack(spec());
    let out = stack.up().await?;
    let rg = format!(
        "/subscriptions/{}/resourceGroups/data-t5-rg",
        world.emu.subscription()
    );
    let secrets = world.provider.secrets();

    let db = out.database.ok_or("no database output")?;
    assert_eq!(db.host, "data-t5-pg.postgres.database.azure.com");
    assert_eq!(
        (db.port, db.database.as_str(), db.username.as_str()),
        (5432, "app", "app_admin")
    );
    assert_eq!(db.password_secret, "data-t5-kv/database-admin-password");
    let password = secrets.get_secret(&db.password_secret).await?;
    assert!(password.len() >= 16);
    let server_id = format!("{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/data-t5-pg");
    let server = world.emu.resource(&server_id).ok_or("no server")?;
    assert_eq!(server["sku"]["name"], "Standard_B1ms", "the default SKU");
    assert_eq!(server["sku"]["tier"], "Burstable");
    assert_eq!(
        server["properties"]["network"]["publicNetworkAccess"],
        "Disabled"
    );
    assert!(
        server["properties"]
            .get("administratorLoginPassword")
            .is_none()
    );
    assert!(
        world
            .emu
            .resource(&format!("{server_id}/databases/app"))
            .is_some()
    );

    let cache = out.cache.ok_or("no cache output")?;
    assert_eq!(cache.host, "data-t5-redis.westeurope.redis.azure.net");
    assert_eq!(cache.port, 10000);
    let redis_id = format!("{rg}/providers/Microsoft.Cache/redisEnterprise/data-t5-redis");
    let redis = world.emu.resource(&redis_id).ok_or("no redis")?;
    assert_eq!(redis["sku"]["name"], "Balanced_B0");
    assert_eq!(redis["tags"]["multicloud:stack"], "data");
    let key = secrets.get_secret("data-t5-kv/cache-access-key").await?;
    let listed = world
        .provider
        .arm()
        .send(
            azure_core::http::Method::Post,
            world.provider.arm().url(
                &format!("{redis_id}/databases/default/listKeys"),
                multicloud_azure::arm::api_versions::REDIS_ENTERPRISE,
            )?,
            None,
        )
        .await?
        .json::<serde_json::Value>()?;
    assert_eq!(listed["primaryKey"], key.expose());

    let state = state_text(world.dir.path());
    assert!(state.contains("data-t5-pg"), "the state is where we looked");
    assert!(
        !state.contains(password.expose()),
        "the password is not in state"
    );
    assert!(
        !state.contains(key.expose()),
        "the access key is not in state"
    );

    stack.down().await?;
    assert!(world.emu.resource(&server_id).is_none() && world.emu.resource(&redis_id).is_none());
    Ok(())
}
