//! [`Throttle`]: an SDK interceptor that answers chosen operations with the service's real
//! throttling error, to measure and test retries under sustained throttling.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

/// An interceptor that replaces the response to a share of the requests of chosen operations
/// (`Service.Operation` as [`ApiCalls`](crate::ApiCalls) names them: `EC2.DescribeVpcs`,
/// `S3.GetObject`) with the throttling error the service really sends, in the service's
/// wire protocol: HTTP 400 `RequestLimitExceeded` (EC2 query), 400 `Throttling` (AWS query:
/// IAM, STS, RDS, ElastiCache, ELB), 400 `ThrottlingException` (JSON: EKS, ECR, Secrets
/// Manager) or 503 `SlowDown` (S3). The request is still sent (to moto); only its answer is
/// replaced, so the SDK's deserializer and retry classifier see a genuine throttling error.
///
/// Which requests are throttled is deterministic: request `n` (from 0) of a throttled
/// operation is throttled when `n * percent mod 100 < percent` (100: all; 50: every other
/// one, starting with the first).
///
/// Cloning shares the counters.
///
/// ```no_run
/// # async fn run(sdk: aws_config::SdkConfig) {
/// use multicloud_aws::AwsClients;
/// use multicloud_aws::testing::Throttle;
///
/// let throttle = Throttle::operations(["EC2.DescribeVpcs"]);
/// let clients = AwsClients::with_interceptors(&sdk, &[throttle.shared()]);
/// let _ = clients.ec2.describe_vpcs().send().await; // a RequestLimitExceeded error
/// assert_eq!(throttle.sent("EC2.DescribeVpcs"), 1);
/// # }
/// ```
#[derive(Clone)]
pub struct Throttle {
    operations: Arc<BTreeSet<String>>,
    percent: u64,
    sent: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("operations", &self.operations)
            .field("percent", &self.percent)
            .field("sent", &self.sent_by_operation())
            .finish()
    }
}

impl Throttle {
    /// Throttles every request of `operations` (`Service.Operation`).
    pub fn operations<I, S>(operations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            operations: Arc::new(operations.into_iter().map(Into::into).collect()),
            percent: 100,
            sent: Arc::default(),
        }
    }

    /// Throttles `percent` % of the requests of the operations instead of all (capped at 100).
    #[must_use]
    pub fn percent(mut self, percent: u8) -> Self {
        self.percent = u64::from(percent.min(100));
        self
    }

    /// This interceptor, to install on a client (`AwsClients::with_interceptors`, or a config
    /// builder's `push_interceptor`).
    pub fn shared(&self) -> SharedInterceptor {
        SharedInterceptor::new(self.clone())
    }

    /// Requests of `operation` sent so far (throttled or not), if it is one of ours.
    pub fn sent(&self, operation: &str) -> u64 {
        self.sent_by_operation()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Requests sent so far of each of our operations.
    pub fn sent_by_operation(&self) -> BTreeMap<String, u64> {
        self.sent.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Counts a request of `operation` and says whether to throttle it.
    fn count(&self, operation: &str) -> bool {
        let Ok(mut sent) = self.sent.lock() else {
            return false;
        };
        let n = sent.entry(operation.to_owned()).or_default();
        let throttle = (*n * self.percent) % 100 < self.percent;
        *n += 1;
        throttle
    }
}

/// The throttling response `service` sends, in its protocol.
fn throttling_response(service: &str) -> Result<Response, BoxError> {
    let (status, content_type, body, error_type) = match service {
        "EC2" => (
            400,
            "text/xml;charset=UTF-8",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
             <Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>\
             </Error></Errors><RequestID>throttle</RequestID></Response>"
                .to_owned(),
            None,
        ),
        "S3" => (
            503,
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
             <Message>Please reduce your request rate.</Message>\
             <RequestId>throttle</RequestId></Error>"
                .to_owned(),
            None,
        ),
        "EKS" | "ECR" | "SecretsManager" => (
            400,
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned(),
            Some("ThrottlingException"),
        ),
        _ => (
            400,
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
             <Message>Rate exceeded</Message></Error><RequestId>throttle</RequestId>\
             </ErrorResponse>"
                .to_owned(),
            None,
        ),
    };
    let mut response = Response::new(StatusCode::try_from(status)?, SdkBody::from(body));
    response.headers_mut().insert("content-type", content_type);
    if let Some(error_type) = error_type {
        response
            .headers_mut()
            .insert("x-amzn-errortype", error_type);
    }
    Ok(response)
}

impl Intercept for Throttle {
    fn name(&self) -> &'static str {
        "multicloud-testing-throttle"
    }

    // Runs once per attempt, with the response received: replacing it here is what the
    // deserializer and the retry classifiers see.
    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let operation = format!("{}.{}", metadata.service(), metadata.name());
        if self.operations.contains(&operation) && self.count(&operation) {
            *context.response_mut() = throttling_response(metadata.service())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_deterministic() {
        let pattern = |percent: u8| {
            let t = Throttle::operations(["EC2.DescribeVpcs"]).percent(percent);
            (0..10)
                .map(|_| t.count("EC2.DescribeVpcs"))
                .collect::<Vec<_>>()
        };
        assert!(pattern(100).iter().all(|t| *t));
        assert!(pattern(0).iter().all(|t| !*t));
        assert_eq!(
            pattern(50),
            [
                true, false, true, false, true, false, true, false, true, false
            ]
        );
        assert_eq!(pattern(30).iter().filter(|t| **t).count(), 3);
    }
}
