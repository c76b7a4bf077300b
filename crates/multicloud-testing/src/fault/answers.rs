//! The error answers each service really sends, rendered as complete HTTP/1.1 responses:
//! AWS in the protocol of the service the request was signed for, ARM and Key Vault error
//! JSON, Kubernetes `Status` objects.

use super::wire::Request;
use super::{Fault, Profile};

/// A response to write instead of forwarding the request.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Answer {
    /// The status code.
    pub(super) status: u16,
    /// The reason phrase.
    pub(super) reason: &'static str,
    /// Extra headers (Content-Type and Content-Length are added).
    pub(super) headers: Vec<(&'static str, String)>,
    /// The content type.
    pub(super) content_type: String,
    /// The body.
    pub(super) body: String,
}

impl Answer {
    fn new(status: u16, content_type: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason(status),
            headers: Vec::new(),
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The response's bytes (kept alive unless `close`).
    pub(super) fn to_bytes(&self, close: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        out.push_str(&format!("Content-Type: {}\r\n", self.content_type));
        out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        out.push_str(&self.body);
        out.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// The answer `profile` gives for `fault` to `request`; `None` for a fault that is not an
/// answer (latency, reset) or that the profile does not have.
pub(super) fn answer(
    profile: Profile,
    fault: Fault,
    request: &Request,
    retry_after_secs: u64,
) -> Option<Answer> {
    match profile {
        Profile::Aws => aws(fault, request),
        Profile::Azure => azure(fault, request, retry_after_secs),
        Profile::Kubernetes => kubernetes(fault, request, retry_after_secs),
        Profile::Tcp => None,
    }
}

/// An AWS service's wire protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AwsProtocol {
    /// EC2's query protocol (`<Response><Errors><Error>`).
    Ec2,
    /// The AWS query protocol (IAM, STS, RDS, ElastiCache, ELB: `<ErrorResponse>`).
    Query,
    /// JSON protocols (`awsJson1_0`, `awsJson1_1`, `restJson1`: ECR, Secrets Manager, EKS).
    Json,
    /// S3's REST-XML (`<Error>`).
    S3,
}

/// The signing name of the service a request is for, from SigV4's credential scope
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`, in the header or the query).
pub(super) fn aws_service(request: &Request) -> Option<String> {
    let scope = request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .or_else(|| request.path.split("X-Amz-Credential=").nth(1))?;
    let scope = scope.split([',', '&', ' ']).next().unwrap_or_default();
    let scope = scope.replace("%2F", "/").replace("%2f", "/");
    scope.split('/').nth(3).map(str::to_ascii_lowercase)
}

/// The protocol of the service `request` is for.
pub(super) fn aws_protocol(request: &Request) -> AwsProtocol {
    let service = aws_service(request);
    match service.as_deref() {
        Some("ec2") => AwsProtocol::Ec2,
        Some("s3") => AwsProtocol::S3,
        Some("eks" | "ecr" | "secretsmanager") => AwsProtocol::Json,
        _ if request.header("x-amz-target").is_some() => AwsProtocol::Json,
        _ if request
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) =>
        {
            AwsProtocol::Query
        }
        Some(_) => AwsProtocol::Query,
        None => AwsProtocol::S3,
    }
}

/// `(status, code, message)` of an AWS fault for a service.
fn aws_error(fault: Fault, protocol: AwsProtocol, service: &str) -> Option<(u16, &'static str)> {
    Some(match (fault, protocol) {
        (Fault::Throttle, AwsProtocol::Ec2) => (400, "RequestLimitExceeded"),
        (Fault::Throttle, AwsProtocol::Query) => (400, "Throttling"),
        (Fault::Throttle, AwsProtocol::Json) => (400, "ThrottlingException"),
        (Fault::Throttle | Fault::Unavailable, AwsProtocol::S3) => (503, "SlowDown"),
        (Fault::Unavailable, AwsProtocol::Ec2) => (503, "Unavailable"),
        (Fault::Unavailable, AwsProtocol::Query) => (503, "ServiceUnavailable"),
        (Fault::Unavailable, AwsProtocol::Json) => (503, "ServiceUnavailableException"),
        (Fault::ServerError, AwsProtocol::Ec2 | AwsProtocol::S3) => (500, "InternalError"),
        (Fault::ServerError, AwsProtocol::Query) => (500, "InternalFailure"),
        (Fault::ServerError, AwsProtocol::Json) => match service {
            "secretsmanager" => (500, "InternalServiceError"),
            "ecr" | "eks" => (500, "ServerException"),
            _ => (500, "InternalFailure"),
        },
        _ => return None,
    })
}

fn aws(fault: Fault, request: &Request) -> Option<Answer> {
    let protocol = aws_protocol(request);
    let service = aws_service(request).unwrap_or_default();
    let (status, code) = aws_error(fault, protocol, &service)?;
    let message = match code {
        "RequestLimitExceeded" => "Request limit exceeded.",
        "SlowDown" => "Please reduce your request rate.",
        c if c.contains("Throttl") => "Rate exceeded",
        _ => "We encountered an internal error. Please try again.",
    };
    const ID: &str = "fault-proxy-0000";
    let answer = match protocol {
        AwsProtocol::Ec2 => Answer::new(
            status,
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
                 <Code>{code}</Code><Message>{message}</Message></Error></Errors>\
                 <RequestID>{ID}</RequestID></Response>"
            ),
        ),
        AwsProtocol::Query => Answer::new(
            status,
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>{ID}</RequestId>\
                 </ErrorResponse>",
                if status < 500 { "Sender" } else { "Receiver" }
            ),
        ),
        AwsProtocol::Json => {
            let content_type = request
                .header("content-type")
                .filter(|c| c.starts_with("application/x-amz-json"))
                .unwrap_or("application/json")
                .to_owned();
            Answer::new(
                status,
                content_type,
                format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
            )
            .header("x-amzn-ErrorType", code)
        }
        AwsProtocol::S3 => Answer::new(
            status,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>{message}</Message><RequestId>{ID}</RequestId></Error>"
            ),
        )
        .header("x-amz-request-id", ID),
    };
    Some(answer.header("x-amzn-RequestId", ID))
}

/// Whether an Azure request is for Key Vault (the emulator's transport names the original
/// host in `x-emulator-host`; otherwise the `Host` header).
fn is_key_vault(request: &Request) -> bool {
    request
        .header("x-emulator-host")
        .or_else(|| request.header("host"))
        .is_some_and(|h| h.contains(".vault."))
}

fn azure(fault: Fault, request: &Request, retry_after_secs: u64) -> Option<Answer> {
    let vault = is_key_vault(request);
    let (status, code, message) = match fault {
        Fault::Throttle if vault => (
            429,
            "Throttled",
            "Request was not processed because too many requests were received.",
        ),
        Fault::Throttle => (
            429,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type.",
        ),
        Fault::ServerError => (
            500,
            "InternalServerError",
            "Encountered internal server error. Please try again.",
        ),
        Fault::Unavailable => (
            503,
            "ServiceUnavailable",
            "The service is currently unavailable. Please try again later.",
        ),
        _ => return None,
    };
    let body = format!(r#"{{"error":{{"code":"{code}","message":"{message}"}}}}"#);
    let mut answer = Answer::new(status, "application/json; charset=utf-8", body)
        .header("x-ms-request-id", "fault-proxy-0000");
    if status != 500 {
        answer = answer.header("Retry-After", retry_after_secs.to_string());
    }
    if status == 429 && !vault {
        answer = answer.header("x-ms-failure-cause", "gateway");
    }
    Some(answer)
}

/// The resource type and name a Kubernetes request path names
/// (`/api/v1/namespaces/ns/configmaps/name` → `("configmaps", "name")`).
fn k8s_target(path: &str) -> (String, String) {
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let core = usize::from(parts.first() == Some(&"api"));
    // Past `api/v1` or `apis/group/version`, and a `namespaces/NS` prefix.
    let mut rest = parts.get(3 - core..).unwrap_or_default();
    if rest.first() == Some(&"namespaces") && rest.len() > 2 {
        rest = &rest[2..];
    }
    (
        rest.first().copied().unwrap_or("resources").to_owned(),
        rest.get(1).copied().unwrap_or_default().to_owned(),
    )
}

fn kubernetes(fault: Fault, request: &Request, retry_after_secs: u64) -> Option<Answer> {
    let (kind, name) = k8s_target(&request.path);
    let (status, reason, message, details) = match fault {
        Fault::Throttle => (
            429,
            "TooManyRequests",
            "Too many requests, please try again later.".to_owned(),
            format!(r#"{{"retryAfterSeconds":{retry_after_secs}}}"#),
        ),
        Fault::ServerError => (
            500,
            "InternalError",
            "Internal error occurred: fault injected by the test proxy".to_owned(),
            r#"{"causes":[{"message":"fault injected by the test proxy"}]}"#.to_owned(),
        ),
        Fault::Unavailable => (
            503,
            "ServiceUnavailable",
            "The server is currently unable to handle the request".to_owned(),
            format!(r#"{{"retryAfterSeconds":{retry_after_secs}}}"#),
        ),
        Fault::Conflict => (
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {kind} \\\"{name}\\\": the object has been \
                 modified; please apply your changes to the latest version and try again"
            ),
            format!(r#"{{"name":"{name}","kind":"{kind}"}}"#),
        ),
        _ => return None,
    };
    let body = format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{message}","reason":"{reason}","details":{details},"code":{status}}}"#
    );
    let mut answer = Answer::new(status, "application/json", body);
    if matches!(status, 429 | 503) {
        answer = answer.header("Retry-After", retry_after_secs.to_string());
    }
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_paths_name_their_target() {
        let t = |p: &str| k8s_target(p);
        assert_eq!(
            t("/api/v1/namespaces/shop/configmaps/web?fieldManager=m"),
            ("configmaps".into(), "web".into())
        );
        assert_eq!(
            t("/apis/apps/v1/namespaces/shop/deployments/api"),
            ("deployments".into(), "api".into())
        );
        assert_eq!(
            t("/api/v1/namespaces/shop"),
            ("namespaces".into(), "shop".into())
        );
        assert_eq!(t("/api/v1/nodes"), ("nodes".into(), String::new()));
    }
}
