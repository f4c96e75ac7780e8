//! `GetRecommendations` (Personalize Runtime), for the accelerator's `get_recommendations` method.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aws_sdk_personalizeruntime::config::retry::RetryConfig;
use aws_sdk_personalizeruntime::config::timeout::TimeoutConfig;
use aws_sdk_personalizeruntime::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_personalizeruntime::error::ProvideErrorMetadata;
use serde::Serialize;

/// Recommended items and the id that attributes clicks on them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    pub recommendation_id: Option<String>,
    pub item_list: Vec<RecommendedItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedItem {
    pub item_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// The seam to Personalize Runtime.
pub trait Recommender: Send + Sync {
    fn recommend<'a>(
        &'a self,
        recommender_arn: &'a str,
        user_id: &'a str,
        num_results: i32,
    ) -> Pin<Box<dyn Future<Output = Result<Recommendation, String>> + Send + 'a>>;
}

/// [`Recommender`] over `aws-sdk-personalizeruntime`.
#[derive(Debug, Clone)]
pub struct SdkRecommender {
    client: aws_sdk_personalizeruntime::Client,
}

impl SdkRecommender {
    /// On the shared configuration ([`crate::aws_config`]); `AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME` points it
    /// elsewhere.
    pub fn new(shared: &aws_config::SdkConfig, timeout: Duration) -> Self {
        let config = aws_sdk_personalizeruntime::config::Builder::from(shared)
            .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build())
            .build();
        SdkRecommender { client: aws_sdk_personalizeruntime::Client::from_conf(config) }
    }

    /// For a local endpoint (the emulator): fixed region, throwaway credentials, one attempt.
    pub fn for_endpoint(endpoint_url: &str) -> Self {
        let config = aws_sdk_personalizeruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("emulator", "emulator", None, None, "snowplow-personalize"))
            .endpoint_url(endpoint_url)
            .retry_config(RetryConfig::disabled())
            .build();
        SdkRecommender { client: aws_sdk_personalizeruntime::Client::from_conf(config) }
    }
}

impl Recommender for SdkRecommender {
    fn recommend<'a>(
        &'a self,
        recommender_arn: &'a str,
        user_id: &'a str,
        num_results: i32,
    ) -> Pin<Box<dyn Future<Output = Result<Recommendation, String>> + Send + 'a>> {
        Box::pin(async move {
            let output = self
                .client
                .get_recommendations()
                .recommender_arn(recommender_arn)
                .user_id(user_id)
                .num_results(num_results)
                .send()
                .await
                .map_err(|e| match e.code() {
                    Some(code) => format!("{code}: {}", e.message().unwrap_or("")),
                    None => e.to_string(),
                })?;
            Ok(Recommendation {
                recommendation_id: output.recommendation_id().map(str::to_owned),
                item_list: output
                    .item_list()
                    .iter()
                    .filter_map(|i| i.item_id().map(|id| RecommendedItem { item_id: id.to_owned(), score: i.score() }))
                    .collect(),
            })
        })
    }
}
