//! Responses of the emulator: JSON bodies, ARM-shaped errors, headers.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

/// A response being built.
#[derive(Debug)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl Reply {
    /// `status` with a JSON body.
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }
    /// `status` without a body.
    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
        }
    }
    /// An ARM error: `{"error": {"code", "message"}}` and `x-ms-error-code`.
    pub(crate) fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, json!({"error": {"code": code, "message": message}}))
            .header("x-ms-error-code", code)
    }
    /// 400 `InvalidParameter`-like errors.
    pub(crate) fn bad_request(code: &str, message: &str) -> Self {
        Self::error(400, code, message)
    }
    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    /// The axum response.
    pub(crate) fn into_response(self) -> Response {
        let mut response = Response::new(match &self.body {
            Some(v) => Body::from(v.to_string()),
            None => Body::empty(),
        });
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let headers = response.headers_mut();
        if self.body.is_some() {
            headers.insert(
                "content-type",
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                headers.insert(k, v);
            }
        }
        response
    }
}
