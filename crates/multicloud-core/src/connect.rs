//! How an app reaches the stack's data services: the environment variables a connection
//! gives it, built from the service's outputs and its credential (read from the cloud's
//! secret store by whoever calls this, never kept in state).
//!
//! | service | variables |
//! |---|---|
//! | database | `DATABASE_URL` (`postgresql://…?sslmode=require`), `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE` |
//! | cache | `REDIS_URL` (`rediss://` when the cache takes TLS only), `REDIS_HOST`, `REDIS_PORT`, `REDIS_TLS`, and `REDIS_PASSWORD` when it has a key |

use std::collections::BTreeMap;

use crate::outputs::{CacheOutputs, DatabaseOutputs};
use crate::secret::SecretString;

/// The variables a database connection sets.
pub const DATABASE_VARS: &[&str] = &[
    "DATABASE_URL",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
];

/// The variables a cache connection sets (`REDIS_PASSWORD` only with a key).
pub const CACHE_VARS: &[&str] = &[
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_TLS",
    "REDIS_PASSWORD",
];

/// The SSL mode of database URLs: both clouds' managed PostgreSQL take TLS.
pub const SSL_MODE: &str = "require";

/// Environment variables, each value secret-bearing (redacted in `Debug`).
pub type ConnectionEnv = BTreeMap<String, SecretString>;

/// `s` percent-encoded for the user-info or path of a URL (everything but RFC 3986's
/// unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl DatabaseOutputs {
    /// `postgresql://user:password@host:port/database?sslmode=require`, user, password and
    /// database percent-encoded.
    pub fn url(&self, password: &SecretString) -> SecretString {
        SecretString::new(format!(
            "postgresql://{}:{}@{}:{}/{}?sslmode={SSL_MODE}",
            encode(&self.username),
            encode(password.expose()),
            self.host,
            self.port,
            encode(&self.database),
        ))
    }

    /// The variables of [`DATABASE_VARS`] for this database and its `password`.
    pub fn env(&self, password: &SecretString) -> ConnectionEnv {
        let plain = |v: &str| SecretString::new(v.to_string());
        BTreeMap::from([
            ("DATABASE_URL".to_string(), self.url(password)),
            ("PGHOST".to_string(), plain(&self.host)),
            ("PGPORT".to_string(), plain(&self.port.to_string())),
            ("PGUSER".to_string(), plain(&self.username)),
            ("PGPASSWORD".to_string(), password.clone()),
            ("PGDATABASE".to_string(), plain(&self.database)),
            ("PGSSLMODE".to_string(), plain(SSL_MODE)),
        ])
    }
}

impl CacheOutputs {
    /// `redis://host:port`, or `rediss://` when the cache takes TLS only, with `:key@` when it
    /// has a key (Redis `AUTH` of the default user).
    pub fn url(&self, key: Option<&SecretString>) -> SecretString {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let auth = key.map_or_else(String::new, |k| format!(":{}@", encode(k.expose())));
        SecretString::new(format!("{scheme}://{auth}{}:{}", self.host, self.port))
    }

    /// The variables of [`CACHE_VARS`] for this cache and its `key`, if it has one.
    pub fn env(&self, key: Option<&SecretString>) -> ConnectionEnv {
        let plain = |v: &str| SecretString::new(v.to_string());
        let mut env = BTreeMap::from([
            ("REDIS_URL".to_string(), self.url(key)),
            ("REDIS_HOST".to_string(), plain(&self.host)),
            ("REDIS_PORT".to_string(), plain(&self.port.to_string())),
            ("REDIS_TLS".to_string(), plain(&self.tls.to_string())),
        ]);
        if let Some(key) = key {
            env.insert("REDIS_PASSWORD".to_string(), key.clone());
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> DatabaseOutputs {
        DatabaseOutputs {
            id: "db".into(),
            host: "pg.internal".into(),
            port: 5432,
            database: "app db".into(),
            username: "app_admin".into(),
            password_secret: "ref".into(),
        }
    }

    #[test]
    fn a_database_url_encodes_what_a_url_cannot_hold() {
        let password = SecretString::new("p@ss/w:rd".to_string());
        assert_eq!(
            db().url(&password).expose(),
            "postgresql://app_admin:p%40ss%2Fw%3Ard@pg.internal:5432/app%20db?sslmode=require"
        );
        let env = db().env(&password);
        let names: Vec<&str> = env.keys().map(String::as_str).collect();
        let mut want = DATABASE_VARS.to_vec();
        want.sort_unstable();
        assert_eq!(names, want);
        assert_eq!(env["PGPASSWORD"].expose(), "p@ss/w:rd");
        assert_eq!(env["PGPORT"].expose(), "5432");
        assert!(!format!("{env:?}").contains("p@ss"), "values are redacted");
    }

    #[test]
    fn a_cache_url_says_tls_and_key_when_the_cache_has_them() {
        let mut cache = CacheOutputs {
            id: "c".into(),
            host: "redis.internal".into(),
            port: 10000,
            tls: true,
        };
        let key = SecretString::new("k+y=".to_string());
        assert_eq!(
            cache.url(Some(&key)).expose(),
            "rediss://:k%2By%3D@redis.internal:10000"
        );
        assert_eq!(cache.env(Some(&key)).len(), CACHE_VARS.len());
        cache.tls = false;
        assert_eq!(cache.url(None).expose(), "redis://redis.internal:10000");
        let env = cache.env(None);
        assert!(!env.contains_key("REDIS_PASSWORD"));
        assert_eq!(env["REDIS_TLS"].expose(), "false");
    }
}
