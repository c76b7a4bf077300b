//! [`WaitFor`]: when a started process counts as ready.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Timeout of one probe (connect, HTTP exchange).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A boxed readiness check.
type Check = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// When a started process counts as ready; probed every 100 ms until it holds.
#[derive(Clone)]
pub enum WaitFor {
    /// Ready at once (only that it did not exit is checked).
    Nothing,
    /// Something accepts TCP connections on 127.0.0.1:port.
    Port(u16),
    /// `GET path` on 127.0.0.1:port answers: with this status, or any status if `None`.
    Http {
        /// The port on 127.0.0.1.
        port: u16,
        /// The request path.
        path: String,
        /// The status that counts as ready; `None`: any answer.
        status: Option<u16>,
    },
    /// The process's log contains this text.
    LogLine(String),
    /// A custom async check.
    Custom {
        /// What it waits for (for error messages).
        description: String,
        /// The check.
        check: Check,
    },
}

impl WaitFor {
    /// Ready when `GET path` on 127.0.0.1:`port` gets any HTTP answer.
    pub fn http(port: u16, path: impl Into<String>) -> Self {
        Self::Http {
            port,
            path: path.into(),
            status: None,
        }
    }

    /// Ready when `GET path` on 127.0.0.1:`port` answers with `status`.
    pub fn http_status(port: u16, path: impl Into<String>, status: u16) -> Self {
        Self::Http {
            port,
            path: path.into(),
            status: Some(status),
        }
    }

    /// Ready when the process's log contains `text`.
    pub fn log_line(text: impl Into<String>) -> Self {
        Self::LogLine(text.into())
    }

    /// Ready when `check` answers `true`; `description` names it in errors.
    pub fn custom<F, Fut>(description: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Self::Custom {
            description: description.into(),
            check: Arc::new(move || Box::pin(check())),
        }
    }

    /// Whether the condition holds now; `log` is the process's log file.
    pub(crate) async fn holds(&self, log: &Path) -> bool {
        match self {
            Self::Nothing => true,
            Self::Port(port) => matches!(
                tokio::time::timeout(
                    PROBE_TIMEOUT,
                    tokio::net::TcpStream::connect(("127.0.0.1", *port))
                )
                .await,
                Ok(Ok(_))
            ),
            Self::Http { port, path, status } => {
                match crate::http::call(*port, "GET", path, PROBE_TIMEOUT).await {
                    Ok(response) => status.is_none_or(|s| s == response.status),
                    Err(_) => false,
                }
            }
            Self::LogLine(text) => std::fs::read(log)
                .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(text.as_str())),
            Self::Custom { check, .. } => check().await,
        }
    }
}

impl fmt::Display for WaitFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nothing => f.write_str("nothing"),
            Self::Port(port) => write!(f, "127.0.0.1:{port} accepting connections"),
            Self::Http { port, path, status } => match status {
                Some(status) => write!(f, "GET http://127.0.0.1:{port}{path} answering {status}"),
                None => write!(f, "GET http://127.0.0.1:{port}{path} answering"),
            },
            Self::LogLine(text) => write!(f, "{text:?} in the log"),
            Self::Custom { description, .. } => f.write_str(description),
        }
    }
}

impl fmt::Debug for WaitFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WaitFor({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nothing_listening_is_not_ready() {
        let port = crate::free_port().expect("a port");
        let log = Path::new("/nonexistent/multicloud.log");
        assert!(!WaitFor::Port(port).holds(log).await);
        assert!(!WaitFor::http(port, "/").holds(log).await);
        assert!(!WaitFor::log_line("ready").holds(log).await);
        assert!(WaitFor::Nothing.holds(log).await);
    }

    #[test]
    fn conditions_describe_themselves() {
        assert_eq!(
            WaitFor::http_status(8080, "/health", 200).to_string(),
            "GET http://127.0.0.1:8080/health answering 200"
        );
        let custom = WaitFor::custom("the node", || async { true });
        assert_eq!(format!("{custom:?}"), "WaitFor(the node)");
    }
}
