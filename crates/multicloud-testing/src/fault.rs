//! A fault-injection proxy for the stand-ins: [`FaultProxy`] listens on a free port of
//! 127.0.0.1, forwards to the stand-in (moto, the Azure emulator, the Kubernetes API
//! server) and answers a seeded share of the requests with the service's real throttling
//! and error responses, adds latency, and resets connections mid-response.
//!
//! - A [`FaultPlan`] names the [`Profile`] (whose answers: AWS, Azure, Kubernetes, or
//!   [`Profile::Tcp`] for bytes only), a seed, and a rate per [`Fault`].
//! - Each request gets one decision from the plan's seeded RNG ([`Decider`]): which answer
//!   fault, if any (they are exclusive: rates add up to at most 1), and, independently,
//!   whether to add the latency. The sequence of decisions is the seed's; which request
//!   gets which decision follows the order requests arrive in, which concurrent clients
//!   make nondeterministic.
//! - An answer fault (throttling, 500, 503, 409) is written instead of forwarding: the
//!   stand-in never sees the request, as with a real throttle. A [`Fault::Reset`] forwards
//!   the request (the stand-in does the work) and cuts the response within its body with a
//!   TCP reset, so the client cannot know whether the request took effect.
//! - [`FaultProxy::stats`] counts requests, connections and each fault injected: the
//!   failed attempts a client had to repeat are [`FaultStats::failed_attempts`].
//! - Dropping the proxy stops it and ends its connections.
//!
//! **TLS (the Kubernetes API server).** The proxy does not terminate TLS (that would need
//! its own certificate authority trusted by the client and the client's credentials to
//! reach the upstream). In front of an HTTPS server, use [`Profile::Tcp`]: decisions are
//! per connection, with latency before the connection is relayed and resets after a
//! seeded number of response bytes past the TLS handshake ([`FaultPlan::reset_window`]);
//! Kubernetes' 429, 500 and 409 answers are for a plain-HTTP upstream (an API server
//! stand-in, or a recorded-response server in tests).
//!
//! ```no_run
//! # async fn run(moto: std::net::SocketAddr) -> Result<(), multicloud_testing::fault::FaultError> {
//! use multicloud_testing::fault::{FaultPlan, FaultProxy, Profile};
//!
//! let proxy = FaultProxy::start(moto, FaultPlan::mixed(Profile::Aws, 7, 0.10)).await?;
//! println!("point the SDK at {}", proxy.endpoint());
//! // ... run the stack ...
//! println!("{}", proxy.stats());
//! # Ok(()) }
//! ```

mod answers;
mod conn;
mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Whose answers the proxy gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Profile {
    /// AWS (moto), in the protocol of the service the request is signed for: EC2 400
    /// `RequestLimitExceeded`, query 400 `Throttling`, JSON 400 `ThrottlingException`, S3
    /// 503 `SlowDown`; 500 `InternalError`/`InternalFailure`; 503 `Unavailable`/
    /// `ServiceUnavailable`/`ServiceUnavailableException`.
    Aws,
    /// Azure (ARM and Key Vault): 429 with `Retry-After` and `{"error":{"code":
    /// "TooManyRequests"}}` (Key Vault: `Throttled`), 500 `InternalServerError`, 503
    /// `ServiceUnavailable` with `Retry-After`.
    Azure,
    /// The Kubernetes API server over plain HTTP: `Status` objects, 429 `TooManyRequests`
    /// with `Retry-After`, 500 `InternalError`, 503 `ServiceUnavailable`, 409 `Conflict`.
    Kubernetes,
    /// Bytes only (for TLS): latency and resets, decided per connection.
    Tcp,
}

impl Profile {
    /// The faults this profile can inject.
    pub fn faults(self) -> &'static [Fault] {
        match self {
            Self::Aws | Self::Azure => &[
                Fault::Throttle,
                Fault::ServerError,
                Fault::Unavailable,
                Fault::Reset,
                Fault::Latency,
            ],
            Self::Kubernetes => &[
                Fault::Throttle,
                Fault::ServerError,
                Fault::Unavailable,
                Fault::Conflict,
                Fault::Reset,
                Fault::Latency,
            ],
            Self::Tcp => &[Fault::Reset, Fault::Latency],
        }
    }
}

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// The service's throttling answer (see [`Profile`]).
    Throttle,
    /// A 500.
    ServerError,
    /// A 503.
    Unavailable,
    /// A 409 `Conflict` (Kubernetes).
    Conflict,
    /// The upstream's response cut by a TCP reset.
    Reset,
    /// Added latency ([`FaultPlan::latency`]); combines with the others.
    Latency,
}

impl Fault {
    /// Every fault, in counting order.
    pub const ALL: [Fault; 6] = [
        Fault::Throttle,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Conflict,
        Fault::Reset,
        Fault::Latency,
    ];

    /// A short name (`throttle`, `500`, `503`, `409`, `reset`, `latency`).
    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ServerError => "500",
            Fault::Unavailable => "503",
            Fault::Conflict => "409",
            Fault::Reset => "reset",
            Fault::Latency => "latency",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// The plan is not valid (rates out of range or adding up to more than 1, a fault the
    /// profile does not have).
    #[error("invalid fault plan: {0}")]
    Plan(String),
    /// Binding the listener failed.
    #[error("binding the fault proxy on 127.0.0.1: {0}")]
    Bind(#[source] io::Error),
}

/// What to inject: the profile, the seed and a rate (0..=1) per fault.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    profile: Profile,
    seed: u64,
    rates: BTreeMap<Fault, f64>,
    latency: Duration,
    retry_after_secs: u64,
    reset_window: (usize, usize),
}

impl FaultPlan {
    /// No faults yet, answers of `profile`, decisions from `seed`.
    pub fn new(profile: Profile, seed: u64) -> Self {
        Self {
            profile,
            seed,
            rates: BTreeMap::new(),
            latency: Duration::from_millis(200),
            retry_after_secs: 1,
            reset_window: (8 * 1024, 56 * 1024),
        }
    }

    /// `rate` of the requests spread evenly over the profile's faults other than latency
    /// (for [`Profile::Tcp`]: all resets).
    pub fn mixed(profile: Profile, seed: u64, rate: f64) -> Self {
        let faults: Vec<Fault> = profile
            .faults()
            .iter()
            .copied()
            .filter(|f| *f != Fault::Latency)
            .collect();
        let mut plan = Self::new(profile, seed);
        #[allow(clippy::cast_precision_loss)] // at most 5 faults
        let share = rate / faults.len().max(1) as f64;
        for fault in faults {
            plan = plan.rate(fault, share);
        }
        plan
    }

    /// Injects `fault` into `rate` (0..=1) of the requests (for latency: use
    /// [`FaultPlan::latency`] to set the delay too).
    #[must_use]
    pub fn rate(mut self, fault: Fault, rate: f64) -> Self {
        self.rates.insert(fault, rate);
        self
    }

    /// Adds `delay` to `rate` of the requests (connections for [`Profile::Tcp`]).
    #[must_use]
    pub fn latency(mut self, rate: f64, delay: Duration) -> Self {
        self.latency = delay;
        self.rate(Fault::Latency, rate)
    }

    /// The `Retry-After` (seconds) of the answers that carry one (default 1).
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// For [`Profile::Tcp`]: a reset comes after `skip` bytes of the response stream (past
    /// the TLS handshake) plus a seeded share of `window` more (default 8 KiB + 56 KiB).
    #[must_use]
    pub fn reset_window(mut self, skip: usize, window: usize) -> Self {
        self.reset_window = (skip, window);
        self
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The rate of `fault` (0 when not set).
    pub fn rate_of(&self, fault: Fault) -> f64 {
        self.rates.get(&fault).copied().unwrap_or(0.0)
    }

    /// Checks the rates: each in 0..=1, the profile has the fault, the exclusive ones
    /// (all but latency) add up to at most 1.
    pub fn validate(&self) -> Result<(), FaultError> {
        for (fault, rate) in &self.rates {
            if !(0.0..=1.0).contains(rate) {
                return Err(FaultError::Plan(format!("rate of {fault} is {rate}")));
            }
            if *rate > 0.0 && !self.profile.faults().contains(fault) {
                return Err(FaultError::Plan(format!(
                    "{:?} has no {fault} fault",
                    self.profile
                )));
            }
        }
        let exclusive: f64 = self
            .rates
            .iter()
            .filter(|(f, _)| **f != Fault::Latency)
            .map(|(_, r)| r)
            .sum();
        if exclusive > 1.0 + 1e-9 {
            return Err(FaultError::Plan(format!(
                "exclusive fault rates add up to {exclusive} > 1"
            )));
        }
        Ok(())
    }

    /// The decisions of this plan, from its seed.
    pub fn decider(&self) -> Decider {
        Decider {
            rng: StdRng::seed_from_u64(self.seed),
            answers: self
                .rates
                .iter()
                .filter(|(f, r)| **f != Fault::Latency && **r > 0.0)
                .map(|(f, r)| (*f, *r))
                .collect(),
            latency: (self.rate_of(Fault::Latency), self.latency),
        }
    }
}

/// What happens to one request (or, for [`Profile::Tcp`], one connection).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// The exclusive fault (an answer or a reset), if any.
    pub answer: Option<Fault>,
    /// The latency added, if any.
    pub latency: Option<Duration>,
    /// Where a reset cuts, as a share (0..1) of the response body (or reset window).
    pub cut: f64,
}

/// The seeded sequence of [`Decision`]s of a [`FaultPlan`]: three draws per decision
/// (answer, latency, cut), so that the sequence depends only on the seed and the rates.
#[derive(Debug)]
pub struct Decider {
    rng: StdRng,
    answers: Vec<(Fault, f64)>,
    latency: (f64, Duration),
}

impl Decider {
    /// The next decision.
    pub fn next_decision(&mut self) -> Decision {
        let draw: f64 = self.rng.random();
        let latency_draw: f64 = self.rng.random();
        let cut: f64 = self.rng.random();
        let mut upper = 0.0;
        let answer = self.answers.iter().find_map(|(fault, rate)| {
            upper += rate;
            (draw < upper).then_some(*fault)
        });
        let latency = (latency_draw < self.latency.0).then_some(self.latency.1);
        Decision {
            answer,
            latency,
            cut,
        }
    }
}

/// Counters of a proxy (live, shared with its connections).
#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    connections: AtomicU64,
    injected: [AtomicU64; Fault::ALL.len()],
}

impl Stats {
    fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn injected(&self, fault: Fault) {
        self.injected[fault.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> FaultStats {
        FaultStats {
            requests: self.requests.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            injected: Fault::ALL
                .iter()
                .map(|f| (*f, self.injected[f.index()].load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }
}

/// What a proxy has seen and done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// HTTP requests read from clients (0 for [`Profile::Tcp`]).
    pub requests: u64,
    /// Client connections accepted.
    pub connections: u64,
    /// Faults injected, by kind (kinds never injected are absent).
    pub injected: BTreeMap<Fault, u64>,
}

impl FaultStats {
    /// How many times `fault` was injected.
    pub fn count(&self, fault: Fault) -> u64 {
        self.injected.get(&fault).copied().unwrap_or(0)
    }

    /// The attempts that failed because of the proxy (every fault but latency): the extra
    /// requests a client that retried them all had to send.
    pub fn failed_attempts(&self) -> u64 {
        self.injected
            .iter()
            .filter(|(f, _)| **f != Fault::Latency)
            .map(|(_, n)| n)
            .sum()
    }
}

impl fmt::Display for FaultStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests on {} connections, {} failed by faults",
            self.requests,
            self.connections,
            self.failed_attempts()
        )?;
        let parts: Vec<String> = self
            .injected
            .iter()
            .map(|(fault, n)| format!("{fault} {n}"))
            .collect();
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// What the connections of a proxy share.
#[derive(Debug)]
struct Inner {
    upstream: SocketAddr,
    plan: FaultPlan,
    decider: Mutex<Decider>,
    stats: Stats,
}

impl Inner {
    fn decide(&self) -> Decision {
        self.decider
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_decision()
    }

    fn answer(&self, fault: Fault, request: &wire::Request) -> Option<answers::Answer> {
        answers::answer(
            self.plan.profile,
            fault,
            request,
            self.plan.retry_after_secs,
        )
    }

    /// The response byte after which a [`Profile::Tcp`] reset comes.
    fn reset_offset(&self, cut: f64) -> usize {
        let (skip, window) = self.plan.reset_window;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let into = (window as f64 * cut) as usize;
        skip + into
    }
}

/// A running fault-injection proxy (see the [module](self)). Dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free port of 127.0.0.1, injecting what `plan`
    /// says. Must run within a Tokio runtime.
    pub async fn start(upstream: SocketAddr, plan: FaultPlan) -> Result<Self, FaultError> {
        plan.validate()?;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(FaultError::Bind)?;
        let addr = listener.local_addr().map_err(FaultError::Bind)?;
        let inner = Arc::new(Inner {
            upstream,
            decider: Mutex::new(plan.decider()),
            plan,
            stats: Stats::default(),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&inner)));
        Ok(Self { addr, inner, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`, the endpoint to give the client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The upstream it forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.inner.upstream
    }

    /// The plan it follows.
    pub fn plan(&self) -> &FaultPlan {
        &self.inner.plan
    }

    /// The counters so far.
    pub fn stats(&self) -> FaultStats {
        self.inner.stats.snapshot()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// Accepts connections until aborted, each served on its own task.
async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    inner.stats.connections.fetch_add(1, Ordering::Relaxed);
                    let inner = Arc::clone(&inner);
                    connections.spawn(async move {
                        let result = if inner.plan.profile == Profile::Tcp {
                            conn::serve_tcp(stream, inner).await
                        } else {
                            conn::serve_http(stream, inner).await
                        };
                        if let Err(error) = result {
                            tracing::debug!(%error, "fault proxy connection ended");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "fault proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests;
