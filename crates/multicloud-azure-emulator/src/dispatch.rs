//! Every request: count it, check the token, maybe inject a fault, finish due operations,
//! and dispatch by host (ARM, a Key Vault data plane, ACR's token exchange).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request};
use axum::response::Response;
use rand::Rng;

use crate::reply::Reply;
use crate::{ARM_ENDPOINT, ARM_SCOPE, EmulatorConfig, Inner, KEY_VAULT_SUFFIX};
use crate::{actions, arm, keyvault, transport};

/// Where a request was sent: the host it names and the base URL its links must use.
struct Target {
    /// The lower-cased host (`management.azure.com`, `<vault>.vault.azure.net`...).
    host: String,
    /// The base of `nextLink`s: the real endpoint for [`EmulatorTransport`] clients, the
    /// emulator's own address for clients in other processes.
    ///
    /// [`EmulatorTransport`]: crate::EmulatorTransport
    base: String,
}

/// The target of a request: the [`transport::HOST_HEADER`] of the emulator transport, or
/// else the `Host` header (a Key Vault or ACR host is served as such; any other, such as
/// `127.0.0.1:PORT`, is ARM at that address).
fn target(headers: &HeaderMap) -> Target {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    if let Some(host) = header(transport::HOST_HEADER) {
        let base = if host == "management.azure.com" {
            ARM_ENDPOINT.to_string()
        } else {
            format!("https://{host}")
        };
        return Target { host, base };
    }
    match header("host") {
        Some(host)
            if host.ends_with(&format!(".{KEY_VAULT_SUFFIX}")) || host.ends_with(".azurecr.io") =>
        {
            Target {
                base: format!("https://{host}"),
                host,
            }
        }
        Some(host) => Target {
            base: format!("http://{host}"),
            host: "management.azure.com".into(),
        },
        None => Target {
            host: "management.azure.com".into(),
            base: ARM_ENDPOINT.into(),
        },
    }
}

/// Every request: count, check the token, maybe inject a fault, dispatch by host.
pub(crate) async fn handle(State(inner): State<Arc<Inner>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    if let Ok(mut r) = inner.requests.lock() {
        *r += 1;
    }
    let Target { host, base } = target(&parts.headers);
    let vault_suffix = format!(".{KEY_VAULT_SUFFIX}");
    let data_plane = host.strip_suffix(&vault_suffix).map(str::to_string);
    let config = inner.config();
    if let Some(registry) = host.strip_suffix(".azurecr.io") {
        let server = format!("{registry}.azurecr.io");
        return actions::acr_exchange(&inner, &server, parts.uri.path(), &body).into_response();
    }
    if let Some(reply) = check_token(&parts.headers, data_plane.is_some(), &config) {
        return reply.into_response();
    }
    if let Some(reply) = fault(&inner, config.fault_rate) {
        return reply.into_response();
    }
    {
        let now = inner.now();
        let unix = inner.unix();
        if let Ok(mut s) = inner.store.lock() {
            s.tick(now, unix);
        }
    }
    let reply = match data_plane {
        Some(vault) => keyvault::data_plane(&inner, &vault, &parts.method, &parts.uri, &body),
        None => arm::handle(&inner, &parts.method, &parts.uri, &body, &base),
    };
    reply.into_response()
}

/// The 401 for a request without a usable bearer token: ARM's `AuthenticationFailed`, or
/// Key Vault's challenge (`WWW-Authenticate` naming the tenant and the resource). Fake
/// tokens (`fake:<scope>`) must name the right audience.
fn check_token(headers: &HeaderMap, data_plane: bool, config: &EmulatorConfig) -> Option<Reply> {
    let token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .filter(|t| !t.trim().is_empty());
    let audience = if data_plane {
        format!("https://{KEY_VAULT_SUFFIX}/.default")
    } else {
        ARM_SCOPE.to_string()
    };
    let wrong_audience = token
        .and_then(|t| t.strip_prefix("fake:"))
        .is_some_and(|scope| scope != audience);
    if token.is_some() && !wrong_audience {
        return None;
    }
    let authority = format!("https://login.microsoftonline.com/{}", config.tenant);
    Some(if data_plane {
        let challenge = format!(
            "Bearer authorization=\"{authority}\", resource=\"https://{KEY_VAULT_SUFFIX}\""
        );
        Reply::error(
            401,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        )
        .header("www-authenticate", &challenge)
    } else {
        let (code, message) = if wrong_audience {
            (
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource.",
            )
        } else {
            (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        };
        Reply::error(401, code, message).header(
            "www-authenticate",
            &format!("Bearer authorization_uri=\"{authority}\", error=\"invalid_token\""),
        )
    })
}

/// An injected 429 (`Retry-After: 1`) or 503, for a `rate` share of requests.
fn fault(inner: &Inner, rate: f64) -> Option<Reply> {
    if rate <= 0.0 {
        return None;
    }
    let (hit, throttle) = {
        let mut dice = inner.dice.lock().ok()?;
        (dice.random_bool(rate.min(1.0)), dice.random_bool(0.5))
    };
    if !hit {
        return None;
    }
    if let Ok(mut f) = inner.faults.lock() {
        *f += 1;
    }
    Some(if throttle {
        Reply::error(429, "TooManyRequests", "The request is being throttled.")
            .header("retry-after", "1")
    } else {
        Reply::error(
            503,
            "ServiceUnavailable",
            "The service is temporarily unavailable.",
        )
    })
}
