//! Free loopback ports, and starting a process on one (retrying when it was taken meanwhile).

use std::collections::HashSet;
use std::io;
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

/// Starts the process `make` describes for a [`free_port`], up to `attempts` times: a start
/// whose log says `port_in_use` (the port was taken between choosing and binding it) is
/// retried on another port. Returns the port with the ready process.
pub async fn start_on_free_port(
    attempts: usize,
    port_in_use: &str,
    mut make: impl FnMut(u16) -> Result<Builder, Error>,
) -> Result<(u16, LocalProcess), Error> {
    let mut last = None;
    for _ in 0..attempts.max(1) {
        let port = free_port()?;
        match make(port)?.start().await {
            Ok(process) => return Ok((port, process)),
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
    Err(last.unwrap_or_else(|| {
        Error::io("starting on a free port", io::Error::other("no attempt"))
    }))
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
