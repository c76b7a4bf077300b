//! ARM's paging of list operations: a page of at most `$top` items (or
//! [`EmulatorConfig::page_size`](crate::EmulatorConfig::page_size)), and a `nextLink` that
//! repeats the request's query with a `$skiptoken` naming where the next page starts.

use axum::http::Uri;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::reply::Reply;

/// The most items ARM returns in one page (a larger `$top` is refused).
pub(crate) const MAX_PAGE: usize = 1000;

/// The decoded query parameters of `uri`, in order (`%24top` is `$top`).
pub(crate) fn params(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The decoded query parameter `name` of `uri`.
pub(crate) fn param(uri: &Uri, name: &str) -> Option<String> {
    params(uri)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A list request: where it was sent and its URI.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listing<'a> {
    /// The base URL of `nextLink`s (the endpoint the client called).
    pub base: &'a str,
    /// The request URI (path and query).
    pub uri: &'a Uri,
    /// The page size without `$top`.
    pub page_size: usize,
}

impl Listing<'_> {
    /// The page size: `$top` (1-1000), else the configured one; ARM's 400 for a bad `$top`.
    fn size(&self) -> Result<usize, Reply> {
        let Some(top) = param(self.uri, "$top") else {
            return Ok(self.page_size.clamp(1, MAX_PAGE));
        };
        top.parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                Reply::bad_request(
                    "InvalidTopInQueryString",
                    &format!(
                        "Invalid $top '{top}' specified in the query string. The value must be between 1 and {MAX_PAGE}."
                    ),
                )
            })
    }

    /// The key the page starts at (`$skiptoken`), if any; a 400 for a token we did not issue.
    fn start(&self) -> Result<Option<String>, Reply> {
        let Some(token) = param(self.uri, "$skiptoken") else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|k| k.starts_with("/subscriptions/"))
            .map(Some)
            .ok_or_else(|| {
                Reply::bad_request(
                    "InvalidSkipToken",
                    &format!("Invalid $skiptoken '{token}' specified in the query string."),
                )
            })
    }

    /// The `nextLink` of a page followed by the item with key `next`: the request's URL
    /// with its query, `$skiptoken` replaced.
    fn next_link(&self, next: &str) -> String {
        let mut query: Vec<String> = params(self.uri)
            .into_iter()
            .filter(|(k, _)| k != "$skiptoken")
            .map(|(k, v)| format!("{k}={}", encode(&v)))
            .collect();
        query.push(format!(
            "$skiptoken={}",
            URL_SAFE_NO_PAD.encode(next.as_bytes())
        ));
        format!("{}{}?{}", self.base, self.uri.path(), query.join("&"))
    }

    /// The page of `items` (sorted by lower-cased id, the key) this request asks for:
    /// `{"value": [...], "nextLink": ...}`, `nextLink` only when more follow.
    pub(crate) fn page(&self, items: Vec<(String, Value)>) -> Reply {
        let (size, start) = match (self.size(), self.start()) {
            (Ok(size), Ok(start)) => (size, start),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        };
        let mut rest = items
            .into_iter()
            .skip_while(|(k, _)| start.as_deref().is_some_and(|s| k.as_str() < s))
            .peekable();
        let value: Vec<Value> = rest.by_ref().take(size).map(|(_, v)| v).collect();
        let mut body = json!({ "value": value });
        if let Some((next, _)) = rest.peek() {
            body["nextLink"] = json!(self.next_link(next));
        }
        Reply::json(200, body)
    }
}

/// A query value, percent-encoded (`'` and spaces too).
fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
