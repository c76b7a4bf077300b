//! [`SharedKeyPolicy`]: signs Azure Storage requests with an account key ("Shared Key"
//! authorization), which `azure_storage_blob` 1.1 does not provide. Used for Azurite and for
//! accounts that allow key access; production should prefer Entra tokens.
//!
//! The signature follows
//! <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key> (service
//! version 2009-09-19 and later): HMAC-SHA256, keyed with the base64-decoded account key, of
//!
//! ```text
//! VERB\nContent-Encoding\nContent-Language\nContent-Length\nContent-MD5\nContent-Type\n
//! Date\nIf-Modified-Since\nIf-Match\nIf-None-Match\nIf-Unmodified-Since\nRange\n
//! CanonicalizedHeaders CanonicalizedResource
//! ```
//!
//! where Content-Length is empty when 0, the canonicalized headers are every `x-ms-*`
//! header, lowercased, sorted, as `name:value\n`, and the canonicalized resource is
//! `/<account><encoded path>` followed by `\n<name>:<decoded value>` for each query
//! parameter, sorted by lowercased name. The path is signed exactly as it is sent (a blob
//! name's `/` goes out as `%2F`, and is signed so).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::Secret;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request};
use multicloud_core::secret::SecretString;

/// The headers signed in this order, before the canonicalized `x-ms-*` headers.
const STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// A pipeline policy adding `x-ms-date` and `Authorization: SharedKey <account>:<signature>`
/// to every try of a request. Add it to `ClientOptions::per_try_policies`, so a retried
/// request is signed again with a fresh date.
#[derive(Clone)]
pub struct SharedKeyPolicy {
    account: String,
    key: SecretString,
}

impl fmt::Debug for SharedKeyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKeyPolicy")
            .field("account", &self.account)
            .field("key", &self.key)
            .finish()
    }
}

/// The account key is not valid base64.
#[derive(Debug, thiserror::Error)]
#[error("the account key of storage account {account} is not valid base64")]
pub struct InvalidAccountKey {
    /// The account.
    pub account: String,
}

impl SharedKeyPolicy {
    /// A policy signing for `account` with `key` (base64, as the portal shows it).
    pub fn new(account: impl Into<String>, key: SecretString) -> Result<Self, InvalidAccountKey> {
        let account = account.into();
        if azure_core::hmac::hmac_sha256("", &Secret::new(key.expose().to_owned())).is_err() {
            return Err(InvalidAccountKey { account });
        }
        Ok(Self { account, key })
    }

    /// The string to sign for `request` (which must already carry its `x-ms-date`).
    pub fn string_to_sign(&self, request: &Request) -> String {
        let headers: BTreeMap<String, String> = request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    value.as_str().to_owned(),
                )
            })
            .collect();
        let mut out = String::with_capacity(256);
        out.push_str(request.method().as_ref());
        out.push('\n');
        for name in STANDARD_HEADERS {
            let value = match name {
                "content-length" => content_length(request, &headers),
                _ => headers.get(name).cloned().unwrap_or_default(),
            };
            out.push_str(&value);
            out.push('\n');
        }
        for (name, value) in headers.range("x-ms-".to_owned()..) {
            if !name.starts_with("x-ms-") {
                break;
            }
            out.push_str(name);
            out.push(':');
            out.push_str(&fold_whitespace(value));
            out.push('\n');
        }
        out.push_str(&self.canonicalized_resource(request.url()));
        out
    }

    /// `/<account><encoded path>` and the sorted, decoded query parameters.
    fn canonicalized_resource(&self, url: &url::Url) -> String {
        let mut out = format!("/{}{}", self.account, url.path());
        let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in url.query_pairs() {
            params
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(value.into_owned());
        }
        for (name, mut values) in params {
            values.sort();
            out.push('\n');
            out.push_str(&name);
            out.push(':');
            out.push_str(&values.join(","));
        }
        out
    }

    /// The `Authorization` header value for `request`.
    pub fn authorization(&self, request: &Request) -> azure_core::Result<String> {
        let secret = Secret::new(self.key.expose().to_owned());
        let signature = azure_core::hmac::hmac_sha256(&self.string_to_sign(request), &secret)?;
        Ok(format!("SharedKey {}:{signature}", self.account))
    }

    /// Dates the request (`x-ms-date`, now) and signs it.
    pub fn sign(&self, request: &mut Request) -> azure_core::Result<()> {
        request.insert_header("x-ms-date", http_date(chrono::Utc::now()));
        let authorization = self.authorization(request)?;
        request.insert_header("authorization", authorization);
        Ok(())
    }
}

#[async_trait]
impl Policy for SharedKeyPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        self.sign(request)?;
        match next.split_first() {
            Some((first, rest)) => first.send(ctx, request, rest).await,
            None => Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                "SharedKeyPolicy must not be the last policy of a pipeline",
            )),
        }
    }
}

/// The length of the body as the transport sends it (empty for none or 0, as the service
/// expects from version 2015-02-21 on).
fn content_length(request: &Request, headers: &BTreeMap<String, String>) -> String {
    let length = request
        .body()
        .len()
        .or_else(|| headers.get("content-length").and_then(|l| l.parse().ok()))
        .unwrap_or(0);
    if length == 0 {
        String::new()
    } else {
        length.to_string()
    }
}

/// Runs of whitespace folded to one space, ends trimmed.
fn fold_whitespace(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An RFC 1123 date, as `x-ms-date` wants it: `Sun, 11 Oct 2009 21:49:13 GMT`.
pub(crate) fn http_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::{Method, Url};

    /// Azurite's well-known key (public, documented).
    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn request() -> Request {
        let url = Url::parse(
            "http://127.0.0.1:10000/devstoreaccount1/state/teams%2Fapp%2Fdev%2Fstate.json\
             ?comp=lease&timeout=30",
        )
        .expect("url");
        let mut request = Request::new(url, Method::Put);
        request.insert_header("x-ms-version", "2025-11-05");
        request.insert_header("x-ms-lease-action", "acquire");
        request.insert_header("x-ms-lease-duration", "-1");
        request.insert_header(
            "x-ms-client-request-id",
            "0f4d0d35-0000-4000-8000-000000000001",
        );
        request.insert_header("if-match", "\"0x8DC0FFEE\"");
        request.insert_header("x-ms-date", "Tue, 01 Dec 2026 12:00:00 GMT");
        request.set_body(b"{\"a\": 1}".to_vec());
        request
    }

    fn policy() -> SharedKeyPolicy {
        SharedKeyPolicy::new("devstoreaccount1", SecretString::new(KEY)).expect("valid key")
    }

    #[test]
    fn string_to_sign_follows_the_documented_layout() {
        let expected = "PUT\n\n\n8\n\n\n\n\n\"0x8DC0FFEE\"\n\n\n\n\
            x-ms-client-request-id:0f4d0d35-0000-4000-8000-000000000001\n\
            x-ms-date:Tue, 01 Dec 2026 12:00:00 GMT\n\
            x-ms-lease-action:acquire\n\
            x-ms-lease-duration:-1\n\
            x-ms-version:2025-11-05\n\
            /devstoreaccount1/devstoreaccount1/state/teams%2Fapp%2Fdev%2Fstate.json\n\
            comp:lease\n\
            timeout:30";
        assert_eq!(policy().string_to_sign(&request()), expected);
    }

    /// The signature of the request above, computed independently of this code with
    /// Python: `base64(hmac.new(b64decode(KEY), string_to_sign, sha256).digest())`.
    #[test]
    fn signature_matches_a_known_vector() {
        let authorization = policy().authorization(&request()).expect("signed");
        assert_eq!(
            authorization,
            "SharedKey devstoreaccount1:cBM1ECFCLyC1ZQUJg0w5CazVSnv09zw6iEzv7vX9WYk="
        );
    }

    #[test]
    fn empty_body_signs_an_empty_length_and_query_values_are_decoded_and_sorted() {
        let url = Url::parse(
            "https://acct.blob.core.windows.net/c?restype=container&comp=list&prefix=a%2Fb&include=metadata",
        )
        .expect("url");
        let mut request = Request::new(url, Method::Get);
        request.insert_header("x-ms-date", "Tue, 01 Dec 2026 12:00:00 GMT");
        let policy = SharedKeyPolicy::new("acct", SecretString::new(KEY)).expect("key");
        let signed = policy.string_to_sign(&request);
        assert!(signed.starts_with("GET\n\n\n\n"), "{signed:?}");
        assert!(
            signed.ends_with("/acct/c\ncomp:list\ninclude:metadata\nprefix:a/b\nrestype:container"),
            "{signed:?}"
        );
    }

    #[test]
    fn a_bad_key_is_refused_and_the_key_never_printed() {
        assert!(SharedKeyPolicy::new("acct", SecretString::new("not base64 !")).is_err());
        let printed = format!("{:?}", policy());
        assert!(!printed.contains(KEY), "{printed}");
        assert!(printed.contains("devstoreaccount1"), "{printed}");
    }

    #[test]
    fn http_dates_are_rfc_1123() {
        let at = chrono::DateTime::parse_from_rfc3339("2009-10-11T21:49:13Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        assert_eq!(http_date(at), "Sun, 11 Oct 2009 21:49:13 GMT");
    }
}
