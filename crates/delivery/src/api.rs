//! The seam to the service.

use std::future::Future;
use std::time::Duration;

use aws_sdk_personalizeevents::config::retry::RetryConfig;
use aws_sdk_personalizeevents::config::timeout::TimeoutConfig;
use aws_sdk_personalizeevents::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_personalizeevents::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_personalizeevents::primitives::DateTime;
use aws_sdk_personalizeevents::types;
use personalize_events::PutEventsRequest;

/// How a call failed, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("server error: {0}")]
    Server(String),
    #[error("attempt timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connection(String),
    /// 400 `InvalidInputException`: some event of the call is invalid.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Anything retrying cannot fix: access denied, unknown tracking id, a request the SDK cannot build.
    #[error("permanent error: {0}")]
    Permanent(String),
}

impl CallError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, CallError::Throttled(_) | CallError::Server(_) | CallError::Timeout | CallError::Connection(_))
    }
}

/// `PutEvents`, and nothing else the rest of the code needs to know about the service.
pub trait EventsApi: Send + Sync + 'static {
    fn put_events(&self, request: &PutEventsRequest) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// A shared API is still the API (tests keep a handle on their stand-in this way).
impl<T: EventsApi> EventsApi for std::sync::Arc<T> {
    fn put_events(&self, request: &PutEventsRequest) -> impl Future<Output = Result<(), CallError>> + Send {
        T::put_events(self, request)
    }
}

/// [`EventsApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct SdkApi {
    client: aws_sdk_personalizeevents::Client,
}

impl SdkApi {
    pub fn new(client: aws_sdk_personalizeevents::Client) -> Self {
        SdkApi { client }
    }
}

fn timeouts(attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder().connect_timeout(Duration::from_secs(3)).operation_attempt_timeout(attempt).build()
}

/// The usual chain (environment, profile, SSO, container or instance role), resolved once per process
/// and shared by every client built from it.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// A client on the shared configuration, with SDK retries off and an attempt timeout; `endpoint_url`
/// overrides the service endpoint (the SDK's own `AWS_ENDPOINT_URL_PERSONALIZE_EVENTS` works too).
pub fn sdk_client(
    shared: &aws_config::SdkConfig,
    endpoint_url: Option<&str>,
    attempt_timeout: Duration,
) -> aws_sdk_personalizeevents::Client {
    let mut config = aws_sdk_personalizeevents::config::Builder::from(shared)
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts(attempt_timeout));
    if let Some(url) = endpoint_url {
        config = config.endpoint_url(url);
    }
    aws_sdk_personalizeevents::Client::from_conf(config.build())
}

/// A client for a local endpoint such as the emulator: fixed region and throwaway credentials, so no
/// AWS account or configuration is involved.
pub fn sdk_client_for_endpoint(endpoint_url: &str, attempt_timeout: Duration) -> aws_sdk_personalizeevents::Client {
    let config = aws_sdk_personalizeevents::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("emulator", "emulator", None, None, "snowplow-personalize"))
        .endpoint_url(endpoint_url)
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts(attempt_timeout))
        .build();
    aws_sdk_personalizeevents::Client::from_conf(config)
}

fn sdk_event(event: &personalize_events::Event) -> Result<types::Event, CallError> {
    // Milliseconds are what interactions carry; going through them keeps `sentAt` exact on the wire.
    let sent_at = DateTime::from_millis((event.sent_at * 1000.0).round() as i64);
    types::Event::builder()
        .set_event_id(event.event_id.clone())
        .event_type(&event.event_type)
        .sent_at(sent_at)
        .set_item_id(event.item_id.clone())
        .set_event_value(event.event_value)
        .set_properties(event.properties.clone())
        .set_recommendation_id(event.recommendation_id.clone())
        .set_impression(event.impression.clone())
        .build()
        .map_err(|e| CallError::Permanent(e.to_string()))
}

impl EventsApi for SdkApi {
    async fn put_events(&self, request: &PutEventsRequest) -> Result<(), CallError> {
        let events = request.event_list.iter().map(sdk_event).collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .put_events()
            .tracking_id(&request.tracking_id)
            .session_id(&request.session_id)
            .set_user_id(request.user_id.clone())
            .set_event_list(Some(events))
            .send()
            .await;
        result.map(|_| ()).map_err(classify)
    }
}

type PutEventsSdkError = SdkError<
    aws_sdk_personalizeevents::operation::put_events::PutEventsError,
    aws_sdk_personalizeevents::config::http::HttpResponse,
>;

fn classify(error: PutEventsSdkError) -> CallError {
    match &error {
        SdkError::TimeoutError(_) => CallError::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => CallError::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_user() => CallError::Permanent(error.to_string()),
        SdkError::DispatchFailure(failure) => CallError::Connection(
            failure.as_connector_error().map_or_else(|| "dispatch failed".to_owned(), |e| e.to_string()),
        ),
        SdkError::ResponseError(_) => CallError::Connection("the response could not be read".into()),
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or("Unknown");
            let message = format!("{code}: {}", err.message().unwrap_or(""));
            let status = service.raw().status().as_u16();
            if code == "ThrottlingException" || code == "TooManyRequestsException" || status == 429 {
                CallError::Throttled(message)
            } else if status >= 500 {
                CallError::Server(message)
            } else if code == "InvalidInputException" {
                CallError::Invalid(message)
            } else {
                CallError::Permanent(message)
            }
        }
        _ => CallError::Permanent(error.to_string()),
    }
}
