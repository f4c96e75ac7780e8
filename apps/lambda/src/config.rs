//! The Lambda's settings, from the environment, read once at cold start.
//!
//! | variable | meaning |
//! |---|---|
//! | `SNOWPLOW_PERSONALIZE_SETTINGS` | a settings file (TOML, as the CLI's `--settings`) |
//! | `SNOWPLOW_PERSONALIZE_TRACKING_IDS` | `group=trackingId` pairs, comma separated |
//! | `SNOWPLOW_PERSONALIZE_STREAM_DATASET_GROUP` | the dataset group stream events go to |
//! | `SNOWPLOW_PERSONALIZE_RECOMMENDERS` | `name=recommenderArn` pairs for `get_recommendations` |
//! | `SNOWPLOW_PERSONALIZE_BASIC_AUTH` | `user:password` for the HTTP endpoint |
//! | `SNOWPLOW_PERSONALIZE_BASIC_AUTH_SECRET_ARN` | or a Secrets Manager secret holding `user:password` or `{"username","password"}` |
//! | `SNOWPLOW_PERSONALIZE_DEAD_LETTER_QUEUE_URL` | an SQS queue for bad stream records (logged, without their data, when unset) |
//! | `SNOWPLOW_PERSONALIZE_MAX_BODY_BYTES` | larger HTTP bodies get 413 (default 1 MiB) |
//! | `SNOWPLOW_PERSONALIZE_MAX_EVENT_BYTES` | longer stream events are bad rows (default 1 MiB; settings `[records]`) |
//! | `SNOWPLOW_PERSONALIZE_MAX_RECORD_BYTES` | a compressed record decompressing to more is cut there with a bad row (default 64 MiB) |
//! | `SNOWPLOW_PERSONALIZE_CALLS_PER_SECOND` | PutEvents calls per second per tracking id (default 1000) |
//! | `SNOWPLOW_PERSONALIZE_MAX_ATTEMPTS` | attempts per call (default 10) |
//! | `SNOWPLOW_PERSONALIZE_ATTEMPT_TIMEOUT_MS` | per-attempt timeout (default 5000) |
//!
//! The SDK's own variables (`AWS_ENDPOINT_URL_PERSONALIZE_EVENTS`, region, credentials) work as usual.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use delivery::{Metrics, SdkApi, SendConfig, Sender};
use handlers::{App, BasicAuth, StdoutBadRecords};
use interactions::{Pipeline, Settings};
use personalize_events::DeliverySettings;
use snowplow_enriched::RecordLimits;

pub const SETTINGS_VAR: &str = "SNOWPLOW_PERSONALIZE_SETTINGS";
pub const BASIC_AUTH_VAR: &str = "SNOWPLOW_PERSONALIZE_BASIC_AUTH";
pub const BASIC_AUTH_SECRET_VAR: &str = "SNOWPLOW_PERSONALIZE_BASIC_AUTH_SECRET_ARN";
pub const DEAD_LETTER_QUEUE_VAR: &str = "SNOWPLOW_PERSONALIZE_DEAD_LETTER_QUEUE_URL";
pub const MAX_BODY_VAR: &str = "SNOWPLOW_PERSONALIZE_MAX_BODY_BYTES";
pub const MAX_EVENT_VAR: &str = "SNOWPLOW_PERSONALIZE_MAX_EVENT_BYTES";
pub const MAX_RECORD_VAR: &str = "SNOWPLOW_PERSONALIZE_MAX_RECORD_BYTES";
pub const CALLS_PER_SECOND_VAR: &str = "SNOWPLOW_PERSONALIZE_CALLS_PER_SECOND";
pub const MAX_ATTEMPTS_VAR: &str = "SNOWPLOW_PERSONALIZE_MAX_ATTEMPTS";
pub const ATTEMPT_TIMEOUT_VAR: &str = "SNOWPLOW_PERSONALIZE_ATTEMPT_TIMEOUT_MS";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match env(name) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| anyhow::anyhow!("{name}: {text:?} is not a number")),
    }
}

/// `user:password`, or a JSON object with `username` and `password`.
pub fn credentials_from_secret(secret: &str) -> anyhow::Result<BasicAuth> {
    let pair = match serde_json::from_str::<serde_json::Value>(secret) {
        Ok(json) => format!(
            "{}:{}",
            json["username"].as_str().context("the secret's JSON has no username")?,
            json["password"].as_str().context("the secret's JSON has no password")?
        ),
        Err(_) => secret.trim().to_owned(),
    };
    BasicAuth::new(&pair).context("the credentials must be user:password, both non-empty")
}

/// Everything built once per execution environment: settings, pipeline, SDK clients.
pub async fn app_from_env() -> anyhow::Result<App<SdkApi>> {
    let settings = match env(SETTINGS_VAR) {
        Some(path) => Settings::load(path.as_ref())?,
        None => Settings::default(),
    };
    let pipeline = Pipeline::new(&settings)?;
    let delivery = DeliverySettings::load(&settings.personalize, env)?;
    if let Some(group) = &delivery.dataset_group {
        delivery.tracking_id(group)?;
    }
    // Resolved once (region, credentials, endpoints) and shared by every client below.
    let aws = delivery::aws_config().await;
    let auth = match (env(BASIC_AUTH_VAR), env(BASIC_AUTH_SECRET_VAR)) {
        (Some(_), Some(_)) => bail!("set {BASIC_AUTH_VAR} or {BASIC_AUTH_SECRET_VAR}, not both"),
        (Some(pair), None) => {
            Some(BasicAuth::new(&pair).with_context(|| format!("{BASIC_AUTH_VAR} must be user:password"))?)
        }
        (None, Some(arn)) => {
            let secret = aws_sdk_secretsmanager::Client::new(&aws)
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .context("cannot read the basic-auth secret")?;
            Some(credentials_from_secret(secret.secret_string().context("the basic-auth secret has no string value")?)?)
        }
        (None, None) => None,
    };
    let config = SendConfig {
        calls_per_second: number(CALLS_PER_SECOND_VAR, 1000.0)?,
        max_attempts: number(MAX_ATTEMPTS_VAR, 10)?,
        attempt_timeout: Duration::from_millis(number(ATTEMPT_TIMEOUT_VAR, 5000)?),
        ..SendConfig::default()
    };
    let client = delivery::sdk_client(&aws, None, config.attempt_timeout);
    let recommender: Option<Arc<dyn delivery::Recommender>> = if delivery.recommenders.is_empty() {
        None
    } else {
        Some(Arc::new(delivery::SdkRecommender::new(&aws, Duration::from_secs(10))))
    };
    let metrics = Arc::new(Metrics::default());
    let bad_records: Arc<dyn handlers::BadRecords> = match env(DEAD_LETTER_QUEUE_VAR) {
        Some(queue_url) => Arc::new(crate::dead_letters::SqsBadRecords::new(aws_sdk_sqs::Client::new(&aws), queue_url)),
        None => Arc::new(StdoutBadRecords),
    };
    Ok(App {
        pipeline,
        delivery,
        auth,
        sender: Arc::new(Sender::new(SdkApi::new(client), config, metrics.clone())),
        metrics,
        max_body_bytes: number(MAX_BODY_VAR, handlers::DEFAULT_MAX_BODY_BYTES)?,
        bad_records,
        recommender,
        record_limits: RecordLimits {
            max_event_bytes: number(MAX_EVENT_VAR, settings.records.max_event_bytes)?,
            max_record_bytes: number(MAX_RECORD_VAR, settings.records.max_record_bytes)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_either_shape() {
        assert!(credentials_from_secret("snowbridge:pw").is_ok());
        assert!(credentials_from_secret(r#"{"username":"snowbridge","password":"pw"}"#).is_ok());
        assert!(credentials_from_secret(r#"{"username":"snowbridge"}"#).is_err());
        assert!(credentials_from_secret("nopassword").is_err());
    }
}
