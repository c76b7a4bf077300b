//! One client connection through the fault proxy: HTTP/1.1 request by request
//! ([`serve_http`]), or bytes in both directions ([`serve_tcp`], for TLS).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::wire::{self, Conn, Request, Response};
use super::{Fault, Inner};

/// Serves the HTTP/1.1 requests of `client` until it closes its connection: each request
/// gets a decision, then the fault's answer, or the upstream's answer (after the latency;
/// cut short by a reset).
pub(super) async fn serve_http(client: TcpStream, inner: Arc<Inner>) -> io::Result<()> {
    let mut client = Conn::new(client);
    let mut upstream: Option<Conn> = None;
    while let Some(request) = wire::read_request(&mut client).await? {
        inner.stats.request();
        let decision = inner.decide();
        if let Some(delay) = decision.latency {
            inner.stats.injected(Fault::Latency);
            tokio::time::sleep(delay).await;
        }
        let close = request.closes();
        if let Some(fault) = decision.answer
            && let Some(answer) = inner.answer(fault, &request)
        {
            inner.stats.injected(fault);
            client.write_all(&answer.to_bytes(close)).await?;
            if close {
                return Ok(());
            }
            continue;
        }
        let response = forward(&mut upstream, inner.upstream, &request).await?;
        if decision.answer == Some(Fault::Reset) {
            inner.stats.injected(Fault::Reset);
            let cut = cut_at(&response, decision.cut);
            client.write_all(&response.bytes[..cut]).await?;
            return reset(client.stream());
        }
        client.write_all(&response.bytes).await?;
        if close || response.closes {
            return Ok(());
        }
    }
    Ok(())
}

/// Where a reset cuts `response`: within the body at `fraction` of it, or within the head
/// when there is no body; never at its end.
pub(super) fn cut_at(response: &Response, fraction: f64) -> usize {
    let total = response.bytes.len();
    let (start, len) = if total > response.body_start {
        (response.body_start, total - response.body_start)
    } else {
        (0, total)
    };
    // Truncation is the point: a share of `len`, strictly less than `len`.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let into = ((len as f64) * fraction.clamp(0.0, 1.0)) as usize;
    start + into.min(len.saturating_sub(1))
}

/// Ends `stream` with a TCP reset (RST) rather than an orderly close.
fn reset(stream: &TcpStream) -> io::Result<()> {
    stream.set_zero_linger()
}

/// Sends `request` upstream (on the kept connection, else a new one) and reads the
/// response. A kept connection the upstream closed meanwhile is replaced once.
async fn forward(
    kept: &mut Option<Conn>,
    upstream: SocketAddr,
    request: &Request,
) -> io::Result<Response> {
    let bytes = request.to_bytes();
    for _ in 0..2 {
        let reused = kept.is_some();
        let conn = match kept {
            Some(conn) => conn,
            None => kept.insert(Conn::new(TcpStream::connect(upstream).await?)),
        };
        let sent = conn.write_all(&bytes).await;
        let response = match sent {
            Ok(()) => wire::read_response(conn, &request.method).await,
            Err(e) => Err(e),
        };
        match response {
            Ok(Some(response)) => {
                if response.closes {
                    *kept = None;
                }
                return Ok(response);
            }
            Ok(None) | Err(_) if reused => *kept = None,
            Ok(None) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the upstream closed the connection without answering",
                ));
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the upstream closed two connections without answering",
    ))
}

/// Relays bytes between `client` and the upstream for one connection: the decision's
/// latency before connecting, and a reset after `cut` of the reset window when the
/// decision is [`Fault::Reset`].
pub(super) async fn serve_tcp(client: TcpStream, inner: Arc<Inner>) -> io::Result<()> {
    let decision = inner.decide();
    if let Some(delay) = decision.latency {
        inner.stats.injected(Fault::Latency);
        tokio::time::sleep(delay).await;
    }
    let upstream = TcpStream::connect(inner.upstream).await?;
    let reset_after =
        (decision.answer == Some(Fault::Reset)).then(|| inner.reset_offset(decision.cut));
    let (mut client, mut upstream) = (client, upstream);
    // Borrowed halves: dropping an owned write half would send a FIN before the reset.
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let requests = async {
        tokio::io::copy(&mut client_read, &mut upstream_write).await?;
        upstream_write.shutdown().await
    };
    let responses = async {
        let mut carried = 0usize;
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = upstream_read.read(&mut chunk).await?;
            if n == 0 {
                return client_write.shutdown().await;
            }
            if let Some(limit) = reset_after
                && carried + n > limit
            {
                client_write.write_all(&chunk[..limit - carried]).await?;
                client_write.flush().await?;
                inner.stats.injected(Fault::Reset);
                return reset(client_write.as_ref());
            }
            client_write.write_all(&chunk[..n]).await?;
            carried += n;
        }
    };
    // The connection ends when the responses end (or are cut); the client may close its
    // sending side before that.
    tokio::pin!(responses);
    tokio::select! {
        result = &mut responses => result,
        result = requests => {
            result?;
            responses.await
        }
    }
}
