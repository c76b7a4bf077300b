//! Free loopback ports, and starting a server process on one (retrying when it was taken
//! meanwhile): a [`LocalServer`].

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use crate::{Builder, Error, LocalProcess};

/// Ports handed out by [`free_port`] in this process, so that two stand-ins started at the
/// same time never get the same port.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close it), never
/// one this process handed out before.
pub fn free_port() -> Result<u16, Error> {
    for _ in 0..50 {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| listener.local_addr())
            .map_err(|e| Error::io("finding a free port on 127.0.0.1", e))?
            .port();
        let mut handed_out = HANDED_OUT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if handed_out.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    Err(Error::io(
        "finding a free port on 127.0.0.1",
        io::Error::new(io::ErrorKind::AddrInUse, "no new port after 50 tries"),
    ))
}

/// A [`LocalProcess`] serving on a port of 127.0.0.1, made by [`start_on_free_port`]. The
/// stand-ins (`MotoServer`, `Azurite`) dereference to it for their port, pid and log.
#[derive(Debug)]
pub struct LocalServer {
    port: u16,
    process: LocalProcess,
}

impl LocalServer {
    /// The TCP port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Its process id (an `Option` as the stand-ins have always said; always known).
    pub fn pid(&self) -> Option<u32> {
        Some(self.process.pid())
    }

    /// Its log file (stdout and stderr of the process).
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The process.
    pub fn process(&self) -> &LocalProcess {
        &self.process
    }
}

/// Starts the process `make` describes for a [`free_port`], up to `attempts` times: a start
/// whose log says `port_in_use` (the port was taken between choosing and binding it) is
/// retried on another port.
pub async fn start_on_free_port(
    attempts: usize,
    port_in_use: &str,
    mut make: impl FnMut(u16) -> Result<Builder, Error>,
) -> Result<LocalServer, Error> {
    let mut last = None;
    for _ in 0..attempts.max(1) {
        let port = free_port()?;
        match make(port)?.start().await {
            Ok(process) => {
                tracing::debug!(name = process.name(), port, pid = process.pid(), "ready");
                return Ok(LocalServer { port, process });
            }
            Err(Error::NotReady {
                name,
                reason,
                log,
                log_tail,
            }) if log_tail.contains(port_in_use) => {
                crate::process::discard_retained(&log);
                last = Some(Error::NotReady {
                    name,
                    reason,
                    log,
                    log_tail,
                });
            }
            Err(error) => return Err(error),
        }
    }
    Err(last
        .unwrap_or_else(|| Error::io("starting on a free port", io::Error::other("no attempt"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_never_handed_out_twice() {
        let ports: HashSet<u16> = (0..20).map(|_| free_port().expect("a port")).collect();
        assert_eq!(ports.len(), 20);
    }
}
