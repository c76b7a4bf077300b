//! The SDK clients, built once from one `SdkConfig`, with an API-call counter on every
//! client and the account id resolved (and checked non-empty) through STS.

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use multicloud_core::calls::ApiCalls;
use multicloud_core::{ErrorKind, ProviderError};
use tokio::sync::OnceCell;

use crate::error::{Op, classify};

/// The SDK interceptor that counts one call per request sent (per SDK attempt, so SDK
/// retries would be counted too; the clients of [`AwsClients`] make one attempt per call) in
/// an [`ApiCalls`] under `Service.Operation` (`EC2.DescribeVpcs`).
#[derive(Debug, Clone)]
pub struct CallCounter(pub ApiCalls);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "multicloud-api-call-counter"
    }

    // Called once per attempt (request sent), after the operation's config (which holds its
    // `Metadata`) is applied; `read_before_execution` runs before that for client
    // interceptors.
    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        self.0.count(key);
        Ok(())
    }
}

/// Every SDK client the provider uses.
///
/// ## One retry layer
/// SDK clients never retry ([`RetryConfig::disabled`]); every retry and wait goes through
/// multicloud-core's [`RetryPolicy`](multicloud_core::retry::RetryPolicy) and
/// [`Poller`](multicloud_core::retry::Poller) — the engine's for resources, and the same
/// types for the [`AwsSweeper`](crate::sweeper::AwsSweeper) and the
/// [`S3StateStore`](crate::S3StateStore). Stacking the SDK's retries under the engine's would
/// multiply them: one throttled call was sent up to 5 × 10 = 50 times.
#[derive(Debug)]
pub struct AwsClients {
    /// The config they were built from.
    pub sdk: SdkConfig,
    /// Region name.
    pub region: String,
    /// EC2 (VPC, subnets, gateways, security groups, ENIs).
    pub ec2: aws_sdk_ec2::Client,
    /// EKS.
    pub eks: aws_sdk_eks::Client,
    /// RDS.
    pub rds: aws_sdk_rds::Client,
    /// ElastiCache.
    pub elasticache: aws_sdk_elasticache::Client,
    /// Elastic Load Balancing v2 (NLB and ALB): the load balancers Kubernetes creates in the
    /// VPC, found and deleted before the network. These are the ones the AWS Load Balancer
    /// Controller (and EKS Auto Mode) creates, and the in-tree cloud provider's NLBs
    /// (`service.beta.kubernetes.io/aws-load-balancer-type: nlb`). Classic ELBs are
    /// [`elb_classic`](Self::elb_classic).
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// Elastic Load Balancing (v1, Classic ELBs): what the in-tree cloud provider creates
    /// for a plain `LoadBalancer` Service; found and deleted before the network like the
    /// v2 ones.
    pub elb_classic: aws_sdk_elasticloadbalancing::Client,
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// ECR.
    pub ecr: aws_sdk_ecr::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// STS.
    pub sts: aws_sdk_sts::Client,
    /// The call counter installed on every client.
    pub calls: ApiCalls,
    account: OnceCell<String>,
}

/// Builds a client of SDK crate `$krate` from `$sdk`: SDK retries disabled, then every
/// interceptor of `$interceptors` (the call counter first).
macro_rules! client {
    ($krate:ident, $sdk:expr, $interceptors:expr) => {{
        let mut config = $krate::config::Builder::from($sdk).retry_config(RetryConfig::disabled());
        for interceptor in $interceptors {
            config.push_interceptor(interceptor.clone());
        }
        $krate::Client::from_conf(config.build())
    }};
}

impl AwsClients {
    /// Builds all clients from `sdk`, with SDK retries disabled (one retry layer, see
    /// [`AwsClients`]) and the call counter.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::with_interceptors(sdk, &[])
    }

    /// [`new`](Self::new), with `interceptors` installed on every client after the call
    /// counter (tests inject faults this way, e.g. `multicloud_aws::testing::Throttle`).
    pub fn with_interceptors(sdk: &SdkConfig, interceptors: &[SharedInterceptor]) -> Self {
        let calls = ApiCalls::default();
        let all: Vec<SharedInterceptor> =
            std::iter::once(SharedInterceptor::new(CallCounter(calls.clone())))
                .chain(interceptors.iter().cloned())
                .collect();
        Self {
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            ec2: client!(aws_sdk_ec2, sdk, &all),
            eks: client!(aws_sdk_eks, sdk, &all),
            rds: client!(aws_sdk_rds, sdk, &all),
            elasticache: client!(aws_sdk_elasticache, sdk, &all),
            elb: client!(aws_sdk_elasticloadbalancingv2, sdk, &all),
            elb_classic: client!(aws_sdk_elasticloadbalancing, sdk, &all),
            iam: client!(aws_sdk_iam, sdk, &all),
            ecr: client!(aws_sdk_ecr, sdk, &all),
            secrets: client!(aws_sdk_secretsmanager, sdk, &all),
            sts: client!(aws_sdk_sts, sdk, &all),
            sdk: sdk.clone(),
            calls,
            account: OnceCell::new(),
        }
    }

    /// The account id, from STS `GetCallerIdentity` (cached). An empty or missing id is an
    /// error: we never build an ARN with an empty account.
    pub async fn account_id(&self) -> Result<&str, ProviderError> {
        self.account
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| classify(e, Op::Read, "sts GetCallerIdentity"))?;
                match out.account() {
                    Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => Ok(a.to_string()),
                    other => Err(ProviderError::new(
                        ErrorKind::Unauthorized,
                        format!(
                            "STS returned no usable account id ({other:?}); refusing to build ARNs with an empty account"
                        ),
                    )
                    .with_code("EmptyAccountId")),
                }
            })
            .await
            .map(String::as_str)
    }

    /// The partition of the region (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &'static str {
        partition_of(&self.region)
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`; `global` services (IAM)
    /// get an empty region, as AWS writes them.
    pub async fn arn(
        &self,
        service: &str,
        global: bool,
        resource: &str,
    ) -> Result<String, ProviderError> {
        let account = self.account_id().await?;
        build_arn(
            self.partition(),
            service,
            if global { "" } else { &self.region },
            account,
            resource,
        )
    }
}

/// The partition of `region`.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Builds an ARN, refusing an empty or malformed account id.
pub fn build_arn(
    partition: &str,
    service: &str,
    region: &str,
    account: &str,
    resource: &str,
) -> Result<String, ProviderError> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProviderError::invalid(format!(
            "refusing to build an ARN for `{resource}` with account id `{account}` (must be 12 digits)"
        ))
        .with_code("EmptyAccountId"));
    }
    Ok(format!(
        "arn:{partition}:{service}:{region}:{account}:{resource}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_never_have_an_empty_account() {
        assert!(build_arn("aws", "iam", "", "", "role/x").is_err());
        assert!(build_arn("aws", "iam", "", "12345", "role/x").is_err());
        assert_eq!(
            build_arn("aws", "iam", "", "123456789012", "role/x")
                .ok()
                .as_deref(),
            Some("arn:aws:iam::123456789012:role/x")
        );
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
    }
}
