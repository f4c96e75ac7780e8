//! The Lambda: one binary, two ways in.
//!
//! [`dispatch`] looks at the payload: a batch of Kinesis or SQS records goes to
//! [`handlers::App::handle_records`] and is answered with `batchItemFailures`; an API Gateway (REST or
//! HTTP API) or function-URL request goes to [`handlers::App::handle_http`] and is answered in the
//! proxy-integration response format, which all three accept. [`config`] reads the environment once at
//! cold start.

pub mod config;
pub mod dead_letters;
mod emf;

use std::borrow::Cow;
use std::collections::HashMap;

use anyhow::Context as _;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::event::streams::{
    KinesisBatchItemFailure, KinesisEventResponse, SqsBatchItemFailure, SqsEventResponse,
};
use base64::Engine as _;
use delivery::EventsApi;
use handlers::{App, Record};
use serde_json::{Value, json};

pub use emf::metrics_line;

// Links every flavour crate, and with them their mapper registrations, into the binary and its tests.
use flavours as _;

/// What [`dispatch`] reads of a payload in its one pass over the whole text: stream records with only
/// the fields the handlers use, borrowed (a Kinesis batch is megabytes of base64, and the event types of
/// `aws_lambda_events` would allocate a dozen strings per record), or the marks of an HTTP request,
/// which is then parsed again as its event type (it is small).
#[derive(serde::Deserialize)]
struct Shape<'a> {
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<StreamRecord<'a>>>,
    #[serde(rename = "requestContext")]
    request_context: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
}

/// One record of a Kinesis or an SQS batch.
#[derive(serde::Deserialize)]
struct StreamRecord<'a> {
    #[serde(rename = "eventSource", alias = "EventSource", borrow)]
    event_source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kinesis: Option<KinesisData<'a>>,
    #[serde(rename = "messageId", borrow)]
    message_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    body: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct KinesisData<'a> {
    #[serde(rename = "sequenceNumber", borrow)]
    sequence_number: Cow<'a, str>,
    /// The record's bytes in base64.
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// Answers one invocation, given its payload as JSON text, and prints its metrics line (EMF).
pub async fn dispatch<A: EventsApi>(app: &App<A>, payload: &str) -> anyhow::Result<Value> {
    let before = app.metrics.snapshot();
    let (mode, answer) = answer(app, payload).await?;
    emf::emit(mode, &before, &app.metrics.snapshot());
    Ok(answer)
}

/// [`dispatch`] without the metrics line: the kind of payload (`kinesis`, `sqs`, `stream` for an empty
/// batch, `http`) and the answer.
pub async fn answer<A: EventsApi>(app: &App<A>, payload: &str) -> anyhow::Result<(&'static str, Value)> {
    let shape: Shape<'_> = serde_json::from_str(payload)?;
    let (mode, answer) = if let Some(records) = &shape.records {
        match records.first().and_then(|r| r.event_source.as_deref()) {
            None => ("stream", json!({ "batchItemFailures": [] })),
            Some("aws:kinesis") => ("kinesis", kinesis(app, records).await?),
            Some("aws:sqs") => ("sqs", sqs(app, records).await?),
            Some(other) => anyhow::bail!("records from {other} are not handled"),
        }
    } else if shape.request_context.is_some() {
        ("http", http_proxy(app, payload, shape.version.as_deref() == Some("2.0")).await?)
    } else {
        anyhow::bail!("the payload is neither a Kinesis or SQS batch nor an HTTP request");
    };
    Ok((mode, answer))
}

async fn kinesis<A: EventsApi>(app: &App<A>, records: &[StreamRecord<'_>]) -> anyhow::Result<Value> {
    let records = records
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let k =
                r.kinesis.as_ref().with_context(|| format!("record {index} of a Kinesis batch has no `kinesis`"))?;
            // A batch is megabytes of base64: decoding it took a quarter of a 1,000-record batch's CPU
            // with the `base64` crate, and a third of that with this SIMD decoder (`cargo bench -p
            // lambda`: 7.1 ms against 6.6 ms per batch).
            let data = base64_simd::STANDARD
                .decode_to_vec(k.data.as_bytes())
                .with_context(|| format!("Kinesis record {}: data is not base64", k.sequence_number))?;
            Ok(Record { id: k.sequence_number.clone().into_owned(), data })
        })
        .collect::<anyhow::Result<Vec<Record>>>()?;
    let failed = app.handle_records(&records).await;
    let mut response = KinesisEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(id);
            failure
        })
        .collect();
    Ok(serde_json::to_value(response)?)
}

async fn sqs<A: EventsApi>(app: &App<A>, records: &[StreamRecord<'_>]) -> anyhow::Result<Value> {
    let records: Vec<Record> = records
        .iter()
        .map(|m| {
            let text = |field: &Option<Cow<'_, str>>| field.as_deref().unwrap_or_default().to_owned();
            Record::from_sqs(text(&m.message_id), text(&m.body))
        })
        .collect();
    let failed = app.handle_records(&records).await;
    let mut response = SqsEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = SqsBatchItemFailure::default();
            failure.item_identifier = Some(id);
            failure
        })
        .collect();
    Ok(serde_json::to_value(response)?)
}

/// An API Gateway REST (v1), HTTP API (v2) or function URL (v2) request, answered in the proxy format.
async fn http_proxy<A: EventsApi>(app: &App<A>, payload: &str, v2: bool) -> anyhow::Result<Value> {
    if app.auth.is_none() {
        // Fail closed: a deployed endpoint without credentials would take anyone's events.
        let headers =
            HashMap::from([("www-authenticate".to_owned(), "Basic realm=\"snowplow-personalize\"".to_owned())]);
        return Ok(proxy_response(v2, 401, &headers, r#"{"error":"no credentials are configured for this endpoint"}"#));
    }
    let (method, path, headers, body, base64) = if v2 {
        let r: ApiGatewayV2httpRequest = serde_json::from_str(payload)?;
        let method = r.request_context.http.method.to_string();
        (method, r.raw_path.unwrap_or_default(), r.headers, r.body, r.is_base64_encoded)
    } else {
        let r: ApiGatewayProxyRequest = serde_json::from_str(payload)?;
        (r.http_method.to_string(), r.path.unwrap_or_default(), r.headers, r.body, r.is_base64_encoded)
    };
    if app.auth.is_none() {
        // Fail closed: a deployed endpoint without credentials would take anyone's events.
        let headers =
            HashMap::from([("www-authenticate".to_owned(), "Basic realm=\"snowplow-personalize\"".to_owned())]);
        return Ok(proxy_response(v2, 401, &headers, r#"{"error":"no credentials are configured for this endpoint"}"#));
    }
    let body = match body {
        None => Vec::new(),
        Some(text) if base64 => match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => bytes,
            Err(_) => return Ok(proxy_response(v2, 400, &HashMap::new(), r#"{"error":"body is not valid base64"}"#)),
        },
        Some(text) => text.into_bytes(),
    };
    let mut request = http::Request::builder().method(method.as_str()).uri(if path.is_empty() { "/" } else { &path });
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let Ok(request) = request.body(body) else {
        return Ok(proxy_response(v2, 400, &HashMap::new(), r#"{"error":"malformed request"}"#));
    };
    let response = app.handle_http(request).await;
    let headers: HashMap<String, String> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
        .collect();
    Ok(proxy_response(v2, response.status().as_u16(), &headers, response.body()))
}

/// The proxy-integration response: REST APIs (v1) take `multiValueHeaders` and reject unknown keys;
/// HTTP APIs and function URLs (v2) take `cookies`.
fn proxy_response(v2: bool, status: u16, headers: &HashMap<String, String>, body: &str) -> Value {
    let mut response = json!({ "statusCode": status, "headers": headers, "body": body, "isBase64Encoded": false });
    if v2 {
        response["cookies"] = json!([]);
    } else {
        let multi: HashMap<&String, [&String; 1]> = headers.iter().map(|(k, v)| (k, [v])).collect();
        response["multiValueHeaders"] = json!(multi);
    }
    response
}
