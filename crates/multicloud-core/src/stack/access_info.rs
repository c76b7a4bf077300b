//! What a user needs of a stack after `up`, one call each: [`Stack::database_url`],
//! [`Stack::cache_url`], [`Stack::registry_login`], [`Stack::kubeconfig`] and
//! [`Stack::write_kubeconfig`]. They read the recorded state (no plan, no lock) and the
//! cloud's secret store, registry and cluster credentials through the provider; secrets come
//! back as [`SecretString`]s and are never written to state.

use std::path::Path;

use super::Stack;
use crate::access::ClusterAccess;
use crate::engine::{Error, StackPart};
use crate::kubeconfig::Kubeconfig;
use crate::outputs::{CacheOutputs, DatabaseOutputs, Outputs, SecretOutputs};
use crate::provider::RegistryCredentials;
use crate::resource::{ResourceId, ResourceKind};
use crate::secret::SecretString;
use crate::spec::Connection;
use crate::state::StackState;

impl RegistryCredentials {
    /// The arguments of `docker login` with these credentials:
    /// `["login", server, "--username", username, "--password-stdin"]`. The password goes to
    /// the command's standard input ([`RegistryCredentials::password`]), never on its
    /// command line.
    pub fn docker_login_args(&self) -> [&str; 5] {
        [
            "login",
            &self.server,
            "--username",
            &self.username,
            "--password-stdin",
        ]
    }
}

impl Stack {
    /// The recorded state, or [`Error::NotUp`] when there is none.
    async fn recorded(&self) -> Result<StackState, Error> {
        let key = self.key().await?;
        match self.load_state(&key, false).await? {
            Some(state) if !state.resources.is_empty() => Ok(state),
            _ => Err(Error::NotUp { key }),
        }
    }

    /// [`Error::NoSuchPart`] for `part`.
    fn no_such(&self, part: StackPart) -> Error {
        Error::NoSuchPart {
            key: self.known_key(),
            part,
        }
    }

    /// The outputs recorded for `id`, or [`Error::NoSuchPart`] naming `part`.
    fn recorded_part<'s>(
        &self,
        state: &'s StackState,
        id: &ResourceId,
        part: StackPart,
    ) -> Result<&'s Outputs, Error> {
        state
            .resources
            .get(id)
            .map(|r| &r.outputs)
            .ok_or_else(|| self.no_such(part))
    }

    /// The resource of data service `service` and the secret node of its credential, if it
    /// has one, as the provider declares them ([`Error::NoSuchPart`] when the spec has no
    /// such service).
    fn data_service(
        &self,
        service: Connection,
        part: StackPart,
    ) -> Result<(ResourceId, Option<ResourceId>), Error> {
        self.provider
            .data_service(&self.spec, service)
            .map(|a| (a.resource, a.credential))
            .ok_or_else(|| self.no_such(part))
    }

    /// The stack's PostgreSQL URL with the database's real password
    /// (`postgresql://user:password@host:port/database?sslmode=require`, what
    /// `connect_database()` gives apps as `DATABASE_URL`). The password is read from the
    /// cloud's secret store (Secrets Manager, Key Vault) at the reference the database's
    /// outputs record, so a rotated password is the one returned; it is never in state.
    ///
    /// Fails with [`Error::NotUp`] before `up`, [`Error::NoSuchPart`] when the stack has no
    /// database.
    ///
    /// ```no_run
    /// # async fn run(stack: multicloud_core::Stack) -> Result<(), multicloud_core::Error> {
    /// let url = stack.database_url().await?;
    /// println!("{url}"); // [REDACTED]: pass `url.expose()` to the client that needs it
    /// # Ok(()) }
    /// ```
    pub async fn database_url(&self) -> Result<SecretString, Error> {
        let state = self.recorded().await?;
        let (id, _) = self.data_service(Connection::Database, StackPart::Database)?;
        let db: DatabaseOutputs = self
            .recorded_part(&state, &id, StackPart::Database)?
            .read(&id)?;
        let password = self
            .provider
            .secrets()
            .get_secret(&db.password_secret)
            .await?;
        Ok(db.url(&password))
    }

    /// The stack's Redis URL with the cache's credential (`rediss://:key@host:port` when it
    /// takes TLS only; what `connect_cache()` gives apps as `REDIS_URL`). The credential is
    /// the secret the provider says holds it
    /// ([`CloudProvider::data_service`](crate::provider::CloudProvider::data_service): the
    /// AUTH token on AWS, the access key on Azure), read from the cloud's secret store; a
    /// cache without one gives a URL without a key.
    ///
    /// Fails with [`Error::NotUp`] before `up`, [`Error::NoSuchPart`] when the stack has no
    /// cache (or its credential secret is not recorded).
    ///
    /// ```no_run
    /// # async fn run(stack: multicloud_core::Stack) -> Result<(), multicloud_core::Error> {
    /// let url = stack.cache_url().await?;
    /// assert!(url.expose().starts_with("redis"));
    /// # Ok(()) }
    /// ```
    pub async fn cache_url(&self) -> Result<SecretString, Error> {
        let state = self.recorded().await?;
        let (id, credential) = self.data_service(Connection::Cache, StackPart::Cache)?;
        let cache: CacheOutputs = self
            .recorded_part(&state, &id, StackPart::Cache)?
            .read(&id)?;
        let key = match credential {
            Some(id) => {
                let part = StackPart::Credential(Connection::Cache);
                let secret: SecretOutputs = self.recorded_part(&state, &id, part)?.read(&id)?;
                Some(self.provider.secrets().get_secret(&secret.name).await?)
            }
            None => None,
        };
        Ok(cache.url(key.as_ref()))
    }

    /// `docker login`-ready credentials for the stack's registry `name` (its name in the
    /// spec): the registry server, a user name and a password or token from the provider's
    /// pull credentials (ECR `GetAuthorizationToken`: valid 12 hours; ACR: see
    /// [`RegistryCredentials::expires_at`]).
    ///
    /// Fails with [`Error::NotUp`] before `up`, [`Error::NoSuchPart`] when the stack has no
    /// registry `name`.
    ///
    /// ```no_run
    /// # async fn run(stack: multicloud_core::Stack) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::io::Write as _;
    /// let login = stack.registry_login("shop-api").await?;
    /// let mut docker = std::process::Command::new("docker")
    ///     .args(login.docker_login_args())
    ///     .stdin(std::process::Stdio::piped())
    ///     .spawn()?;
    /// docker.stdin.take().ok_or("no stdin")?.write_all(login.password.expose().as_bytes())?;
    /// docker.wait()?;
    /// # Ok(()) }
    /// ```
    pub async fn registry_login(&self, name: &str) -> Result<RegistryCredentials, Error> {
        let state = self.recorded().await?;
        let id = ResourceId::new(ResourceKind::REGISTRY, name);
        let part = StackPart::Registry(name.to_string());
        let outputs = self.recorded_part(&state, &id, part)?;
        Ok(self.provider.registry().pull_credentials(outputs).await?)
    }

    /// A kubeconfig for the stack's cluster, with a fresh credential each call: the
    /// endpoint and CA the cluster records and a token (or client certificate) from the
    /// provider's cluster credentials (an EKS token made in process, the AKS user
    /// credential), or from [`Stack::cluster_access`] when the stack was pointed elsewhere.
    ///
    /// A token expires ([`Kubeconfig::expires_at`]; an EKS token after 15 minutes): a
    /// long-lived program calls `kubeconfig()` again before then and builds a new client
    /// from it (`multicloud_k8s::client_for(kubeconfig.credentials())` gives a
    /// `kube::Client`).
    ///
    /// Fails with [`Error::NotUp`] before `up`, [`Error::NoSuchPart`] when the stack has no
    /// cluster.
    ///
    /// ```no_run
    /// # async fn run(stack: multicloud_core::Stack) -> Result<(), multicloud_core::Error> {
    /// let kubeconfig = stack.kubeconfig().await?;
    /// println!("{} until {:?}", kubeconfig.server(), kubeconfig.expires_at());
    /// let yaml = kubeconfig.to_yaml(); // a SecretString: it holds the token
    /// # Ok(()) }
    /// ```
    pub async fn kubeconfig(&self) -> Result<Kubeconfig, Error> {
        let state = self.recorded().await?;
        let outputs = state
            .resources
            .values()
            .find(|r| r.kind == ResourceKind::CLUSTER)
            .map(|r| &r.outputs)
            .ok_or_else(|| self.no_such(StackPart::Cluster))?;
        // A run's access, made for this call: nothing cached, so the credential is new.
        let access = ClusterAccess::new(self.cluster_access.clone(), std::time::Duration::ZERO);
        access.set_cluster(outputs);
        let credentials = access.credentials(self.provider.cluster()).await?;
        Ok(Kubeconfig::new(credentials))
    }

    /// Writes [`Stack::kubeconfig`] to `path` with mode `0600` and returns it (for its
    /// [`Kubeconfig::expires_at`]).
    ///
    /// ```no_run
    /// # async fn run(stack: multicloud_core::Stack) -> Result<(), multicloud_core::Error> {
    /// stack.write_kubeconfig("kubeconfig").await?; // KUBECONFIG=kubeconfig kubectl get pods -A
    /// # Ok(()) }
    /// ```
    pub async fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<Kubeconfig, Error> {
        let kubeconfig = self.kubeconfig().await?;
        let path = path.as_ref();
        kubeconfig.write(path).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(kubeconfig)
    }
}
