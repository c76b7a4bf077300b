//! An app's connections to the stack's own data services (`connect: [database, cache]`):
//! the variables they set come from [`crate::connect`], their values from the service's
//! outputs and the cloud's secret store when the app is deployed.

use serde::{Deserialize, Serialize};

use super::types::App;
use crate::connect::{CACHE_VARS, DATABASE_VARS};

/// A data service of the stack an app connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// The stack's PostgreSQL database (`spec.database`).
    Database,
    /// The stack's Redis cache (`spec.cache`).
    Cache,
}

impl Connection {
    /// `database` or `cache`: the spec field it needs and the name of its resources.
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Database => "database",
            Connection::Cache => "cache",
        }
    }

    /// The environment variables it sets in the app.
    pub fn vars(self) -> &'static [&'static str] {
        match self {
            Connection::Database => DATABASE_VARS,
            Connection::Cache => CACHE_VARS,
        }
    }
}

impl std::fmt::Display for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl App {
    /// Connects the app to the stack's database: it gets `DATABASE_URL`, `PGHOST`, `PGPORT`,
    /// `PGUSER`, `PGPASSWORD`, `PGDATABASE` and `PGSSLMODE`, the password being the
    /// database's real master password, read from the cloud's secret store.
    #[must_use]
    pub fn connect_database(self) -> Self {
        self.connect(Connection::Database)
    }

    /// Connects the app to the stack's cache: it gets `REDIS_URL`, `REDIS_HOST`, `REDIS_PORT`,
    /// `REDIS_TLS` and, when the cache has an access key, `REDIS_PASSWORD`.
    #[must_use]
    pub fn connect_cache(self) -> Self {
        self.connect(Connection::Cache)
    }

    /// Connects the app to `service` (once).
    #[must_use]
    pub fn connect(mut self, service: Connection) -> Self {
        if !self.connect.contains(&service) {
            self.connect.push(service);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{App, Cluster, Network, NodePool, Postgres, Rule, StackSpec};

    fn spec(app: App, database: bool) -> StackSpec {
        let mut b = StackSpec::builder("shop")
            .environment("dev")
            .region("us-east-1")
            .network(Network::default())
            .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 1, 2)))
            .app(app);
        if database {
            b = b.database(Postgres::new("16"));
        }
        b.build_unchecked()
    }

    fn errors(spec: &StackSpec) -> Vec<(String, Rule)> {
        match spec.validate() {
            Ok(()) => Vec::new(),
            Err(e) => e
                .errors()
                .iter()
                .map(|e| (e.path.clone(), e.rule))
                .collect(),
        }
    }

    #[test]
    fn a_connection_needs_its_service_and_its_variables_free() {
        let app = App::new("api").connect_database().connect_cache();
        assert_eq!(
            errors(&spec(app.clone(), true)),
            [(
                "spec.apps[0].connect[1]".to_string(),
                Rule::UnknownReference
            )]
        );
        assert_eq!(
            errors(&spec(app, false)).len(),
            2,
            "both missing, reported at once"
        );
        let clash = App::new("api").env("PGHOST", "x").connect_database();
        assert_eq!(
            errors(&spec(clash, true)),
            [("spec.apps[0].connect[0]".to_string(), Rule::Duplicate)]
        );
        let fine = App::new("api").connect_database().connect_database();
        assert_eq!(fine.connect.len(), 1, "connect once");
        assert!(errors(&spec(fine, true)).is_empty());
    }

    #[test]
    fn connections_read_as_people_write_them_in_yaml() {
        let connect: Vec<super::Connection> =
            serde_yaml_ng::from_str("[database, cache]").expect("yaml");
        assert_eq!(
            connect,
            [super::Connection::Database, super::Connection::Cache]
        );
        assert!(serde_yaml_ng::from_str::<Vec<super::Connection>>("[queue]").is_err());
    }
}
