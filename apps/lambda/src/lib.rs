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

use std::collections::HashMap;

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::sqs::SqsEvent;
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

/// What [`dispatch`] needs to know of a payload before parsing it into its event type: the first pass
/// skips everything else without building anything, so a batch is parsed into a tree only once.
#[derive(serde::Deserialize)]
struct Shape<'a> {
    #[serde(rename = "Records")]
    records: Option<Vec<Source<'a>>>,
    #[serde(rename = "requestContext")]
    request_context: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    version: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct Source<'a> {
    #[serde(rename = "eventSource", alias = "EventSource", borrow)]
    event_source: Option<std::borrow::Cow<'a, str>>,
}

/// Answers one invocation, given its payload as JSON text.
pub async fn dispatch<A: EventsApi>(app: &App<A>, payload: &str) -> anyhow::Result<Value> {
    let before = app.metrics.snapshot();
    let shape: Shape<'_> = serde_json::from_str(payload)?;
    let (mode, answer) = if let Some(records) = &shape.records {
        match records.first().and_then(|r| r.event_source.as_deref()) {
            None => ("stream", json!({ "batchItemFailures": [] })),
            Some("aws:kinesis") => ("kinesis", kinesis(app, serde_json::from_str(payload)?).await?),
            Some("aws:sqs") => ("sqs", sqs(app, serde_json::from_str(payload)?).await?),
            Some(other) => anyhow::bail!("records from {other} are not handled"),
        }
    } else if shape.request_context.is_some() {
        ("http", http_proxy(app, payload, shape.version.as_deref() == Some("2.0")).await?)
    } else {
        anyhow::bail!("the payload is neither a Kinesis or SQS batch nor an HTTP request");
    };
    emf::emit(mode, &before, &app.metrics.snapshot());
    Ok(answer)
}

async fn kinesis<A: EventsApi>(app: &App<A>, event: KinesisEvent) -> anyhow::Result<Value> {
    let records: Vec<Record> =
        event.records.into_iter().map(|r| Record { id: r.kinesis.sequence_number, data: r.kinesis.data.0 }).collect();
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

async fn sqs<A: EventsApi>(app: &App<A>, event: SqsEvent) -> anyhow::Result<Value> {
    let records: Vec<Record> = event
        .records
        .into_iter()
        .map(|m| Record::from_sqs(m.message_id.unwrap_or_default(), m.body.unwrap_or_default()))
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
