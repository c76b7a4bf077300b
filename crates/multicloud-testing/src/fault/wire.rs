//! HTTP/1.1 framing for the fault proxy: one request or response read whole from a
//! keep-alive connection (the head parsed by `httparse`, the body framed by
//! `Content-Length`, `Transfer-Encoding: chunked` or the end of the connection), the body
//! kept as the raw bytes that came in.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The most headers a head may have.
const MAX_HEADERS: usize = 128;

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// A TCP connection with the bytes read from it but not consumed yet (keep-alive and
/// pipelining leave the start of the next message in the buffer).
#[derive(Debug)]
pub(super) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Wraps `stream`.
    pub(super) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// The socket.
    pub(super) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Writes all of `bytes` and flushes.
    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Reads more bytes into the buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads a head `parse` recognises. `Ok(None)` when the peer closed the connection
    /// cleanly before sending anything.
    async fn read_head<T>(
        &mut self,
        parse: impl Fn(&[u8]) -> io::Result<Option<(usize, T)>>,
    ) -> io::Result<Option<(Vec<u8>, T)>> {
        loop {
            if !self.buf.is_empty()
                && let Some((len, head)) = parse(&self.buf)?
            {
                let raw = self.buf.drain(..len).collect();
                return Ok(Some((raw, head)));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("HTTP head too large"));
            }
            if self.fill().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed within an HTTP head",
                    ))
                };
            }
        }
    }

    /// Takes the next `n` bytes, reading as needed.
    async fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed within an HTTP body",
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Takes the next line, CRLF included.
    async fn take_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(self.buf.drain(..at + 2).collect());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("chunk line too long"));
            }
            if self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed within a chunked body",
                ));
            }
        }
    }

    /// Takes a chunked body, trailers included, as it came.
    async fn take_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut raw = Vec::new();
        loop {
            let line = self.take_line().await?;
            let text = std::str::from_utf8(&line).map_err(|_| invalid("bad chunk size"))?;
            let size_text = text.trim_end().split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_text:?}")))?;
            raw.extend_from_slice(&line);
            if size == 0 {
                loop {
                    let trailer = self.take_line().await?;
                    raw.extend_from_slice(&trailer);
                    if trailer == b"\r\n" {
                        return Ok(raw);
                    }
                }
            }
            raw.extend_from_slice(&self.take(size + 2).await?);
        }
    }

    /// Takes everything up to the end of the stream.
    async fn take_to_end(&mut self) -> io::Result<Vec<u8>> {
        while self.fill().await? > 0 {}
        Ok(std::mem::take(&mut self.buf))
    }

    /// Takes a body framed as `framing` says.
    async fn take_body(&mut self, framing: Framing) -> io::Result<Vec<u8>> {
        match framing {
            Framing::Empty => Ok(Vec::new()),
            Framing::Length(n) => self.take(n).await,
            Framing::Chunked => self.take_chunked().await,
            Framing::ToEnd => self.take_to_end().await,
        }
    }
}

/// How a body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    ToEnd,
}

/// Header names and values of a head.
type Headers = Vec<(String, String)>;

fn owned_headers(headers: &[httparse::Header<'_>]) -> Headers {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

fn find<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The framing the headers declare (chunked, else a length), if any.
fn declared_framing(headers: &Headers) -> io::Result<Option<Framing>> {
    if find(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return Ok(Some(Framing::Chunked));
    }
    find(headers, "content-length")
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .map(Framing::Length)
                .map_err(|_| invalid(format!("bad Content-Length {v:?}")))
        })
        .transpose()
}

/// Whether a message of HTTP/1.`minor` with these headers ends its connection.
fn closes(minor: u8, headers: &Headers) -> bool {
    let connection = find(headers, "connection").map(str::to_ascii_lowercase);
    match connection.as_deref() {
        Some(v) if v.contains("close") => true,
        Some(v) if v.contains("keep-alive") => false,
        _ => minor == 0,
    }
}

/// A request read whole.
#[derive(Debug)]
pub(super) struct Request {
    /// The method (`GET`, `PUT`, ...).
    pub(super) method: String,
    /// The request target (path and query).
    pub(super) path: String,
    /// The minor version (HTTP/1.`minor`).
    minor: u8,
    /// The headers in order.
    pub(super) headers: Headers,
    /// The body as it came (still chunked if it was).
    pub(super) body: Vec<u8>,
}

impl Request {
    /// A request of HTTP/1.1 (for tests).
    #[cfg(test)]
    pub(super) fn new(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            minor: 1,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        }
    }

    /// A header's value (the first one named `name`, in any case).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// Whether the client ends the connection after this request.
    pub(super) fn closes(&self) -> bool {
        closes(self.minor, &self.headers)
    }

    /// The bytes to send upstream: the head rebuilt without `Expect` (the proxy answered
    /// `100 Continue` itself), then the body.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.{}\r\n", self.method, self.path, self.minor);
        for (name, value) in &self.headers {
            if !name.eq_ignore_ascii_case("expect") {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// The head of a request: method, target, version and headers.
type RequestHead = (String, String, u8, Headers);

fn parse_request_head(buf: &[u8]) -> io::Result<Option<(usize, RequestHead)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => Ok(Some((
            len,
            (
                request.method.unwrap_or("GET").to_owned(),
                request.path.unwrap_or("/").to_owned(),
                request.version.unwrap_or(1),
                owned_headers(request.headers),
            ),
        ))),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(invalid(format!("bad HTTP request head: {e}"))),
    }
}

/// Reads the next request from `client`, answering `Expect: 100-continue` before reading
/// the body. `Ok(None)` when the client closed the connection between requests.
pub(super) async fn read_request(client: &mut Conn) -> io::Result<Option<Request>> {
    let Some((_raw, (method, path, minor, headers))) = client.read_head(parse_request_head).await?
    else {
        return Ok(None);
    };
    let framing = declared_framing(&headers)?.unwrap_or(Framing::Empty);
    let expects_continue =
        find(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && framing != Framing::Empty {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let body = client.take_body(framing).await?;
    Ok(Some(Request {
        method,
        path,
        minor,
        headers,
        body,
    }))
}

/// A response read whole, as it came (informational responses before it included).
#[derive(Debug)]
pub(super) struct Response {
    /// All of its bytes.
    pub(super) bytes: Vec<u8>,
    /// Where the final response's body starts in `bytes`.
    pub(super) body_start: usize,
    /// Whether the upstream ends the connection after it.
    pub(super) closes: bool,
}

/// The head of a response: status, version and headers.
type ResponseHead = (u16, u8, Headers);

fn parse_response_head(buf: &[u8]) -> io::Result<Option<(usize, ResponseHead)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => Ok(Some((
            len,
            (
                response.code.unwrap_or(0),
                response.version.unwrap_or(1),
                owned_headers(response.headers),
            ),
        ))),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(invalid(format!("bad HTTP response head: {e}"))),
    }
}

/// Reads the response to a request of `method` from `upstream`. `Ok(None)` when the
/// upstream closed the connection before answering (a stale keep-alive connection).
pub(super) async fn read_response(
    upstream: &mut Conn,
    method: &str,
) -> io::Result<Option<Response>> {
    let mut bytes = Vec::new();
    loop {
        let Some((raw, (status, minor, headers))) = upstream.read_head(parse_response_head).await?
        else {
            return if bytes.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed after an informational response",
                ))
            };
        };
        bytes.extend_from_slice(&raw);
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let body_start = bytes.len();
        let no_body = method.eq_ignore_ascii_case("HEAD") || matches!(status, 101 | 204 | 304);
        let framing = if no_body {
            Framing::Empty
        } else {
            declared_framing(&headers)?.unwrap_or(Framing::ToEnd)
        };
        bytes.extend_from_slice(&upstream.take_body(framing).await?);
        return Ok(Some(Response {
            bytes,
            body_start,
            closes: framing == Framing::ToEnd || status == 101 || closes(minor, &headers),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_rebuilt_without_expect() {
        let request = Request {
            method: "PUT".into(),
            path: "/b/k?x=1".into(),
            minor: 1,
            headers: vec![
                ("Host".into(), "h".into()),
                ("Expect".into(), "100-continue".into()),
                ("Content-Length".into(), "2".into()),
            ],
            body: b"hi".to_vec(),
        };
        assert_eq!(
            request.to_bytes(),
            b"PUT /b/k?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
        );
        assert!(!request.closes());
    }

    #[test]
    fn framing_and_close_follow_the_headers() {
        let h = |pairs: &[(&str, &str)]| -> Headers {
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        let chunked = h(&[("Transfer-Encoding", "chunked"), ("Content-Length", "3")]);
        assert_eq!(
            declared_framing(&chunked).ok(),
            Some(Some(Framing::Chunked))
        );
        let length = h(&[("content-length", " 12 ")]);
        assert_eq!(
            declared_framing(&length).ok(),
            Some(Some(Framing::Length(12)))
        );
        assert_eq!(declared_framing(&h(&[])).ok(), Some(None));
        assert!(declared_framing(&h(&[("Content-Length", "x")])).is_err());
        assert!(closes(1, &h(&[("Connection", "close")])));
        assert!(!closes(1, &h(&[])));
        assert!(closes(0, &h(&[])));
        assert!(!closes(0, &h(&[("Connection", "Keep-Alive")])));
    }
}
