//! The fault proxy on the wire, in front of a tiny raw HTTP/1.1 server: pass-through with
//! keep-alive, chunked responses and `Expect: 100-continue`; each profile's answers as
//! bytes; resets mid-response; latency; the TCP mode; the seeded sequence; stop on drop.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use multicloud_testing::fault::{Fault, FaultPlan, FaultProxy, Profile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The body of the upstream's ordinary answers (long enough to be cut within).
const BODY_LEN: usize = 4000;

/// A raw HTTP/1.1 server recording what it was asked.
struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let _ = serve(stream, recorded).await;
                });
            }
        });
        Ok(Self {
            addr,
            seen,
            _task: task,
        })
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Answers requests on one keep-alive connection: `/chunked` with a chunked body, anything
/// else with `ok METHOD PATH BODY` padded to [`BODY_LEN`].
async fn serve(stream: TcpStream, seen: Arc<Mutex<Vec<String>>>) -> io::Result<()> {
    let mut conn = Peer::new(stream);
    while let Some((head, body)) = conn.read_message().await? {
        let line = head.lines().next().unwrap_or_default().to_owned();
        let mut words = line.split(' ');
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let entry = format!("{method} {path} {}", String::from_utf8_lossy(&body));
        seen.lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .push(entry.clone());
        let response = if path == "/chunked" {
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                .to_owned()
        } else {
            let body = format!("ok {entry} {}", ".".repeat(BODY_LEN));
            let body = &body[..BODY_LEN];
            format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY_LEN}\r\n\r\n{body}")
        };
        conn.stream.write_all(response.as_bytes()).await?;
    }
    Ok(())
}

/// One side of a raw HTTP/1.1 connection, reading whole messages.
struct Peer {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self::new(TcpStream::connect(addr).await?))
    }

    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    async fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn head(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = self.buf.drain(..at + 4).collect::<Vec<u8>>();
                return Ok(Some(String::from_utf8_lossy(&head).into_owned()));
            }
            if self.fill().await? == 0 {
                return Ok(None);
            }
        }
    }

    /// A message's head and (de-chunked) body; `None` at a clean end of the stream.
    async fn read_message(&mut self) -> io::Result<Option<(String, Vec<u8>)>> {
        let Some(head) = self.head().await? else {
            return Ok(None);
        };
        let lower = head.to_ascii_lowercase();
        let mut body = Vec::new();
        if lower.contains("transfer-encoding: chunked") {
            loop {
                let line = loop {
                    if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break self.buf.drain(..at + 2).collect::<Vec<u8>>();
                    }
                    self.fill().await?;
                };
                let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16)
                    .map_err(io::Error::other)?;
                let chunk = self.take(size + 2).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = header(&head, "content-length") {
            body = self.take(len.parse().map_err(io::Error::other)?).await?;
        }
        Ok(Some((head, body)))
    }

    /// Sends `request` and reads the response: status, head and body.
    async fn call(&mut self, request: &str) -> io::Result<(u16, String, String)> {
        self.stream.write_all(request.as_bytes()).await?;
        let (head, body) = self
            .read_message()
            .await?
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, head, String::from_utf8_lossy(&body).into_owned()))
    }
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n")
}

fn aws_post(service: &str, content_type: &str, body: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: test\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential=AKID/20250101/us-east-1/{service}/aws4_request, SignedHeaders=host, \
         Signature=0\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn proxy(upstream: &Upstream, plan: FaultPlan) -> FaultProxy {
    match FaultProxy::start(upstream.addr, plan).await {
        Ok(proxy) => proxy,
        Err(e) => panic!("proxy: {e}"),
    }
}

#[tokio::test]
async fn without_faults_it_passes_everything_through_on_kept_connections() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let proxy = proxy(&upstream, FaultPlan::new(Profile::Aws, 1)).await;
    assert!(proxy.endpoint().starts_with("http://127.0.0.1:"));
    let mut client = Peer::connect(proxy.addr()).await?;
    let (status, _, body) = client
        .call(&aws_post(
            "ec2",
            "application/x-www-form-urlencoded",
            "Action=DescribeVpcs",
        ))
        .await?;
    assert_eq!(status, 200);
    assert!(body.starts_with("ok POST / Action=DescribeVpcs"), "{body}");
    assert_eq!(body.len(), BODY_LEN);
    let (status, head, body) = client.call(&get("/chunked", "")).await?;
    assert_eq!((status, body.as_str()), (200, "hello world"));
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    );
    // Expect: 100-continue is answered by the proxy, and the body still arrives.
    let put =
        "PUT /object HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    client.stream.write_all(put.as_bytes()).await?;
    let interim = client.head().await?.unwrap_or_default();
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
    let (status, _, body) = client.call("data").await?;
    assert_eq!(status, 200);
    assert!(body.starts_with("ok PUT /object data"), "{body}");

    let stats = proxy.stats();
    assert_eq!((stats.requests, stats.connections), (3, 1));
    assert_eq!(stats.failed_attempts(), 0);
    assert_eq!(upstream.seen().len(), 3);
    Ok(())
}

#[tokio::test]
async fn aws_answers_follow_each_services_protocol() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let throttle = proxy(
        &upstream,
        FaultPlan::new(Profile::Aws, 1).rate(Fault::Throttle, 1.0),
    )
    .await;
    let mut client = Peer::connect(throttle.addr()).await?;
    let form = "application/x-www-form-urlencoded; charset=utf-8";
    let (status, head, body) = client
        .call(&aws_post("ec2", form, "Action=CreateVpc"))
        .await?;
    assert_eq!(status, 400);
    assert!(head.contains("Content-Type: text/xml"), "{head}");
    assert!(
        body.contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"),
        "{body}"
    );
    let (status, _, body) = client
        .call(&aws_post("iam", form, "Action=CreateRole"))
        .await?;
    assert_eq!(status, 400);
    assert!(
        body.contains("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"),
        "{body}"
    );
    let (status, head, body) = client
        .call(&aws_post(
            "secretsmanager",
            "application/x-amz-json-1.1",
            "{}",
        ))
        .await?;
    assert_eq!(status, 400);
    assert_eq!(
        header(&head, "x-amzn-errortype").as_deref(),
        Some("ThrottlingException")
    );
    assert_eq!(
        header(&head, "content-type").as_deref(),
        Some("application/x-amz-json-1.1")
    );
    assert!(body.contains(r#""__type":"ThrottlingException""#), "{body}");
    let (status, _, body) = client.call(&aws_post("s3", "application/xml", "")).await?;
    assert_eq!(status, 503);
    assert!(body.contains("<Error><Code>SlowDown</Code>"), "{body}");
    assert_eq!(throttle.stats().count(Fault::Throttle), 4);
    assert!(
        upstream.seen().is_empty(),
        "a throttled request never reaches the upstream"
    );

    let failing = proxy(
        &upstream,
        FaultPlan::new(Profile::Aws, 1).rate(Fault::ServerError, 1.0),
    )
    .await;
    let mut client = Peer::connect(failing.addr()).await?;
    let (status, _, body) = client
        .call(&aws_post("rds", form, "Action=CreateDBInstance"))
        .await?;
    assert_eq!(status, 500);
    assert!(
        body.contains("<Type>Receiver</Type><Code>InternalFailure</Code>"),
        "{body}"
    );
    let unavailable = proxy(
        &upstream,
        FaultPlan::new(Profile::Aws, 1).rate(Fault::Unavailable, 1.0),
    )
    .await;
    let mut client = Peer::connect(unavailable.addr()).await?;
    let (status, _, body) = client
        .call(&aws_post("ec2", form, "Action=CreateVpc"))
        .await?;
    assert_eq!(status, 503);
    assert!(body.contains("<Code>Unavailable</Code>"), "{body}");
    Ok(())
}

#[tokio::test]
async fn azure_answers_are_arm_errors_with_retry_after() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let arm = get(
        "/subscriptions/s/resourcegroups/rg?api-version=2021-04-01",
        "x-emulator-host: management.azure.com\r\n",
    );
    for (fault, status, code) in [
        (Fault::Throttle, 429, "TooManyRequests"),
        (Fault::ServerError, 500, "InternalServerError"),
        (Fault::Unavailable, 503, "ServiceUnavailable"),
    ] {
        let plan = FaultPlan::new(Profile::Azure, 1)
            .rate(fault, 1.0)
            .retry_after(3);
        let proxy = proxy(&upstream, plan).await;
        let mut client = Peer::connect(proxy.addr()).await?;
        let (got, head, body) = client.call(&arm).await?;
        assert_eq!(got, status, "{fault}: {head}");
        assert!(
            body.starts_with(&format!(r#"{{"error":{{"code":"{code}","message":""#)),
            "{body}"
        );
        let retry_after = header(&head, "retry-after");
        assert_eq!(
            retry_after.as_deref(),
            (status != 500).then_some("3"),
            "{head}"
        );
    }
    let plan = FaultPlan::new(Profile::Azure, 1).rate(Fault::Throttle, 1.0);
    let proxy = proxy(&upstream, plan).await;
    let mut client = Peer::connect(proxy.addr()).await?;
    let vault = get(
        "/secrets/db?api-version=7.5",
        "x-emulator-host: shop.vault.azure.net\r\n",
    );
    let (status, _, body) = client.call(&vault).await?;
    assert_eq!(status, 429);
    assert!(body.contains(r#""code":"Throttled""#), "{body}");
    assert!(upstream.seen().is_empty());
    Ok(())
}

#[tokio::test]
async fn kubernetes_answers_are_status_objects() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let put = "PUT /api/v1/namespaces/shop/configmaps/web HTTP/1.1\r\nHost: k\r\n\
               Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    for (fault, status, reason) in [
        (Fault::Throttle, 429, "TooManyRequests"),
        (Fault::ServerError, 500, "InternalError"),
        (Fault::Conflict, 409, "Conflict"),
    ] {
        let proxy = proxy(
            &upstream,
            FaultPlan::new(Profile::Kubernetes, 1).rate(fault, 1.0),
        )
        .await;
        let mut client = Peer::connect(proxy.addr()).await?;
        let (got, head, body) = client.call(put).await?;
        assert_eq!(got, status, "{head}");
        assert!(
            body.starts_with(r#"{"kind":"Status","apiVersion":"v1""#),
            "{body}"
        );
        assert!(body.contains(&format!(r#""reason":"{reason}""#)), "{body}");
        assert!(body.ends_with(&format!(r#""code":{status}}}"#)), "{body}");
        assert_eq!(
            header(&head, "retry-after").is_some(),
            status == 429,
            "{head}"
        );
        if status == 409 {
            assert!(body.contains(r#"Operation cannot be fulfilled on configmaps \"web\""#));
        }
    }
    assert!(upstream.seen().is_empty());
    Ok(())
}

/// Reads until the connection ends: the bytes received, and how it ended.
async fn read_until_end(stream: &mut TcpStream) -> (Vec<u8>, io::Result<()>) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => return (received, Ok(())),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) => return (received, Err(e)),
        }
    }
}

#[tokio::test]
async fn a_reset_cuts_the_response_after_the_upstream_did_the_work() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let proxy = proxy(
        &upstream,
        FaultPlan::new(Profile::Aws, 3).rate(Fault::Reset, 1.0),
    )
    .await;
    let mut client = TcpStream::connect(proxy.addr()).await?;
    client.write_all(get("/vpc", "").as_bytes()).await?;
    let (received, end) = read_until_end(&mut client).await;
    let err = end.err().map(|e| e.kind());
    assert_eq!(
        err,
        Some(io::ErrorKind::ConnectionReset),
        "got {} bytes",
        received.len()
    );
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(
        body.len() < BODY_LEN,
        "cut within the body: {} bytes",
        body.len()
    );
    assert_eq!(upstream.seen(), ["GET /vpc "], "the upstream did the work");
    assert_eq!(proxy.stats().count(Fault::Reset), 1);
    Ok(())
}

#[tokio::test]
async fn latency_delays_the_answer() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let plan = FaultPlan::new(Profile::Azure, 1).latency(1.0, Duration::from_millis(300));
    let proxy = proxy(&upstream, plan).await;
    let mut client = Peer::connect(proxy.addr()).await?;
    let started = Instant::now();
    let (status, _, _) = client.call(&get("/slow", "")).await?;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(proxy.stats().count(Fault::Latency), 1);
    assert_eq!(proxy.stats().failed_attempts(), 0);
    Ok(())
}

#[tokio::test]
async fn the_tcp_mode_relays_bytes_and_resets_past_the_skip() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let relay = proxy(&upstream, FaultPlan::new(Profile::Tcp, 1)).await;
    let mut client = Peer::connect(relay.addr()).await?;
    for _ in 0..2 {
        let (status, _, body) = client.call(&get("/raw", "")).await?;
        assert_eq!((status, body.len()), (200, BODY_LEN));
    }
    assert_eq!((relay.stats().connections, relay.stats().requests), (1, 0));

    // The reset comes after exactly 100 bytes of the response stream.
    let plan = FaultPlan::new(Profile::Tcp, 1)
        .rate(Fault::Reset, 1.0)
        .reset_window(100, 0);
    let cutting = proxy(&upstream, plan).await;
    let mut client = TcpStream::connect(cutting.addr()).await?;
    client.write_all(get("/raw", "").as_bytes()).await?;
    let (received, end) = read_until_end(&mut client).await;
    assert_eq!(
        end.err().map(|e| e.kind()),
        Some(io::ErrorKind::ConnectionReset)
    );
    assert_eq!(received.len(), 100);
    assert_eq!(cutting.stats().count(Fault::Reset), 1);
    Ok(())
}

#[tokio::test]
async fn the_wire_follows_the_seeded_sequence() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let plan = FaultPlan::new(Profile::Kubernetes, 99)
        .rate(Fault::Throttle, 0.2)
        .rate(Fault::Conflict, 0.2);
    let mut decider = plan.decider();
    let expected: Vec<u16> = (0..40)
        .map(|_| match decider.next_decision().answer {
            Some(Fault::Throttle) => 429,
            Some(Fault::Conflict) => 409,
            _ => 200,
        })
        .collect();
    let proxy = proxy(&upstream, plan).await;
    let mut client = Peer::connect(proxy.addr()).await?;
    let mut got = Vec::new();
    for _ in 0..40 {
        got.push(
            client
                .call(&get("/api/v1/namespaces/a/pods/p", ""))
                .await?
                .0,
        );
    }
    assert_eq!(got, expected);
    let stats = proxy.stats();
    let faulted = expected.iter().filter(|s| **s != 200).count() as u64;
    assert_eq!(stats.failed_attempts(), faulted);
    assert_eq!(upstream.seen().len() as u64, 40 - faulted);
    assert!(
        stats
            .to_string()
            .starts_with("40 requests on 1 connections"),
        "{stats}"
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_proxy_stops_it() -> io::Result<()> {
    let upstream = Upstream::start().await?;
    let proxy = proxy(&upstream, FaultPlan::new(Profile::Aws, 1)).await;
    let addr = proxy.addr();
    let mut kept = Peer::connect(addr).await?;
    assert_eq!(kept.call(&get("/a", "")).await?.0, 200);
    drop(proxy);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens any more"
    );
    // The kept connection is closed too.
    let (received, _) = read_until_end(&mut kept.stream).await;
    assert!(received.is_empty());
    Ok(())
}
