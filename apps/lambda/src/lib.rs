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
use std::marker::PhantomData;

use anyhow::Context as _;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::event::streams::{
    KinesisBatchItemFailure, KinesisEventResponse, SqsBatchItemFailure, SqsEventResponse,
};
use base64::Engine as _;
use delivery::EventsApi;
use handlers::{App, Record};
use serde_json::{Map, Value, json};

pub use emf::metrics_line;

// Links every flavour crate, and with them their mapper registrations, into the binary and its tests.
use flavours as _;

/// An invocation's payload, read by the runtime in one pass over its text: stream records with only the
/// fields the handlers use, the data of Kinesis records decoded from base64 on the way, or else the
/// payload's top-level fields (an HTTP request, which is small).
///
/// A Kinesis batch is megabytes of base64. Taking the payload as a `RawValue` and parsing it again cost
/// a second validating pass over all of it, and the event types of `aws_lambda_events` would allocate a
/// dozen strings per record. Records and their Kinesis data are read by hand-written readers whose keys
/// are bytes (see `KeyIn`). Asking the runtime for the raw text instead, to read it with serde_json
/// directly out of `serde_path_to_error`'s reach, measured within 0.2 ms per batch of the derived
/// readers these replaced, where bytes for keys saved 0.35 ms: serde_json's validating pass over a
/// `RawValue` checks strings eight bytes at a time and then the whole text for UTF-8.
#[derive(Debug)]
pub struct Payload {
    records: Option<Vec<StreamRecord>>,
    others: Map<String, Value>,
}

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Payload, M::Error> {
                let (mut records, mut others) = (None, Map::new());
                while let Some(key) = map.next_key::<String>()? {
                    if key == "Records" {
                        once(&mut map, &mut records, "Records", PhantomData)?;
                    } else {
                        others.insert(key, map.next_value()?);
                    }
                }
                Ok(Payload { records: records.flatten(), others })
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

impl std::str::FromStr for Payload {
    type Err = serde_json::Error;

    /// Reads a payload from its JSON text, as the runtime does.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(text)
    }
}

/// One record of a Kinesis or an SQS batch.
#[derive(Debug)]
struct StreamRecord {
    event_source: Option<String>,
    kinesis: Option<KinesisData>,
    message_id: Option<String>,
    body: Option<String>,
}

impl<'de> serde::Deserialize<'de> for StreamRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = StreamRecord;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a stream record")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<StreamRecord, M::Error> {
                // Kinesis and SQS spell it `eventSource`; `EventSource` is taken too.
                const KEYS: &[&str] = &["eventSource", "EventSource", "kinesis", "messageId", "body"];
                let (mut event_source, mut kinesis, mut message_id, mut body) = (None, None, None, None);
                while let Some(key) = map.next_key_seed(KeyIn(KEYS))? {
                    match key {
                        Some(0 | 1) => once(&mut map, &mut event_source, KEYS[0], PhantomData)?,
                        Some(2) => once(&mut map, &mut kinesis, KEYS[2], PhantomData)?,
                        Some(3) => once(&mut map, &mut message_id, KEYS[3], PhantomData)?,
                        Some(_) => once(&mut map, &mut body, KEYS[4], PhantomData)?,
                        None => drop(map.next_value::<serde::de::IgnoredAny>()?),
                    }
                }
                Ok(StreamRecord {
                    event_source: event_source.flatten(),
                    kinesis: kinesis.flatten(),
                    message_id: message_id.flatten(),
                    body: body.flatten(),
                })
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[derive(Debug)]
struct KinesisData {
    sequence_number: String,
    /// The record's bytes, decoded from the base64 text without copying it; `None` when it is not
    /// base64 (reported with the record's sequence number once the batch is known to be Kinesis').
    data: Option<Vec<u8>>,
}

impl<'de> serde::Deserialize<'de> for KinesisData {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = KinesisData;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Kinesis record")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<KinesisData, M::Error> {
                use serde::de::Error as _;
                const KEYS: &[&str] = &["sequenceNumber", "data"];
                let (mut sequence_number, mut data) = (None, None);
                while let Some(key) = map.next_key_seed(KeyIn(KEYS))? {
                    match key {
                        Some(0) => once(&mut map, &mut sequence_number, KEYS[0], PhantomData)?,
                        Some(_) => once(&mut map, &mut data, KEYS[1], Base64)?,
                        None => drop(map.next_value::<serde::de::IgnoredAny>()?),
                    }
                }
                Ok(KinesisData {
                    sequence_number: sequence_number.ok_or_else(|| M::Error::missing_field(KEYS[0]))?,
                    data: data.ok_or_else(|| M::Error::missing_field(KEYS[1]))?,
                })
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// An object key, as its index among the keys a reader knows (`None` for any other).
///
/// The key is asked for as bytes, which serde_json unescapes all the same. The runtime reads payloads
/// through `serde_path_to_error`, which copies every key it is handed as text into a `String` to name
/// the path of an error; a 1,000-record batch has some 15,000 keys. Bytes it passes on as they are.
/// (serde_json then leaves out its UTF-8 and control-character checks of the key; a key that would fail
/// them is none of the known ones, and its value is still read as JSON.)
struct KeyIn(&'static [&'static str]);

impl<'de> serde::de::DeserializeSeed<'de> for KeyIn {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl serde::de::Visitor<'_> for KeyIn {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_bytes<E: serde::de::Error>(self, key: &[u8]) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|known| known.as_bytes() == key))
    }
}

/// Reads the value of a key that may be given once, as serde's derived readers do, with `seed`
/// (`PhantomData` for the type's own reader, under which `null` is `None` for an `Option`).
fn once<'de, M, S>(map: &mut M, slot: &mut Option<S::Value>, key: &'static str, seed: S) -> Result<(), M::Error>
where
    M: serde::de::MapAccess<'de>,
    S: serde::de::DeserializeSeed<'de>,
{
    if slot.is_some() {
        return Err(serde::de::Error::duplicate_field(key));
    }
    *slot = Some(map.next_value_seed(seed)?);
    Ok(())
}

/// Decodes a base64 string as serde_json reads it, borrowed from the payload where it has no escapes.
/// Decoding was a quarter of a 1,000-record batch's CPU with the `base64` crate, and a third of that
/// with this SIMD decoder (`cargo bench -p lambda`: 0.5 ms less per batch).
///
/// The string is asked for as bytes: serde_json then finds its end with memchr's SIMD search for a quote
/// or a backslash, where for text it looks for control characters too, eight bytes at a time, and checks
/// UTF-8 afterwards (together a fifth of a batch). The decoder refuses whatever is not base64, control
/// characters and non-ASCII bytes included, so nothing is let through that text would have refused.
struct Base64;

impl<'de> serde::de::DeserializeSeed<'de> for Base64 {
    type Value = Option<Vec<u8>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl serde::de::Visitor<'_> for Base64 {
    type Value = Option<Vec<u8>>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a base64 string")
    }
    // serde_json hands over bytes for `deserialize_bytes` (borrowed where the string has no escapes,
    // which serde's default `visit_borrowed_bytes` passes on to here), never text.
    fn visit_bytes<E: serde::de::Error>(self, text: &[u8]) -> Result<Self::Value, E> {
        Ok(base64_simd::STANDARD.decode_to_vec(text).ok())
    }
}

/// Answers one invocation and prints its metrics line (EMF).
pub async fn dispatch<A: EventsApi>(app: &App<A>, payload: Payload) -> anyhow::Result<Value> {
    let before = app.metrics.snapshot();
    let (mode, answer) = answer(app, payload).await?;
    emf::emit(mode, &before, &app.metrics.snapshot());
    Ok(answer)
}

/// [`dispatch`] without the metrics line: the kind of payload (`kinesis`, `sqs`, `stream` for an empty
/// batch, `http`) and the answer.
pub async fn answer<A: EventsApi>(app: &App<A>, payload: Payload) -> anyhow::Result<(&'static str, Value)> {
    let Payload { records, others } = payload;
    let (mode, answer) = if let Some(records) = records {
        match records.first().and_then(|r| r.event_source.as_deref()) {
            None => ("stream", json!({ "batchItemFailures": [] })),
            Some("aws:kinesis") => ("kinesis", kinesis(app, records).await?),
            Some("aws:sqs") => ("sqs", sqs(app, records).await?),
            Some(other) => anyhow::bail!("records from {other} are not handled"),
        }
    } else if others.contains_key("requestContext") {
        let v2 = others.get("version").and_then(Value::as_str) == Some("2.0");
        ("http", http_proxy(app, Value::Object(others), v2).await?)
    } else {
        anyhow::bail!("the payload is neither a Kinesis or SQS batch nor an HTTP request");
    };
    Ok((mode, answer))
}

async fn kinesis<A: EventsApi>(app: &App<A>, records: Vec<StreamRecord>) -> anyhow::Result<Value> {
    let records = records
        .into_iter()
        .enumerate()
        .map(|(index, r)| {
            let k = r.kinesis.with_context(|| format!("record {index} of a Kinesis batch has no `kinesis`"))?;
            let data = k.data.with_context(|| format!("Kinesis record {}: data is not base64", k.sequence_number))?;
            Ok(Record { id: k.sequence_number, data })
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

async fn sqs<A: EventsApi>(app: &App<A>, records: Vec<StreamRecord>) -> anyhow::Result<Value> {
    let records: Vec<Record> = records
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
async fn http_proxy<A: EventsApi>(app: &App<A>, payload: Value, v2: bool) -> anyhow::Result<Value> {
    if app.auth.is_none() {
        // Fail closed: a deployed endpoint without credentials would take anyone's events.
        let headers =
            HashMap::from([("www-authenticate".to_owned(), "Basic realm=\"snowplow-personalize\"".to_owned())]);
        return Ok(proxy_response(v2, 401, &headers, r#"{"error":"no credentials are configured for this endpoint"}"#));
    }
    let (method, path, headers, body, base64) = if v2 {
        let r: ApiGatewayV2httpRequest = serde_json::from_value(payload)?;
        let method = r.request_context.http.method.to_string();
        (method, r.raw_path.unwrap_or_default(), r.headers, r.body, r.is_base64_encoded)
    } else {
        let r: ApiGatewayProxyRequest = serde_json::from_value(payload)?;
        (r.http_method.to_string(), r.path.unwrap_or_default(), r.headers, r.body, r.is_base64_encoded)
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn kinesis_data(payload: &str) -> Vec<Option<Vec<u8>>> {
        let payload: Payload = payload.parse().unwrap();
        payload.records.unwrap().into_iter().map(|r| r.kinesis.unwrap().data).collect()
    }

    #[test]
    fn payloads_are_read_as_json_text_says() {
        // Base64 with escaped slashes (which JSON allows) is the same base64; text that is not base64
        // is kept as such, to be reported with its record.
        let batch = r#"{"Records":[{"kinesis":{"sequenceNumber":"1","data":"\/w=="}},
            {"kinesis":{"data":"/w==","sequenceNumber":"2"}},{"kinesis":{"sequenceNumber":"3","data":"*"}}]}"#;
        assert_eq!(kinesis_data(batch), [Some(vec![0xff]), Some(vec![0xff]), None]);
        // Control characters, raw or escaped, and non-ASCII text are not base64 either: the payload is
        // read, and the invocation fails naming the record (see `kinesis`).
        let batch = "{\"Records\":[{\"kinesis\":{\"sequenceNumber\":\"1\",\"data\":\"/w=\u{1}=\"}},
            {\"kinesis\":{\"sequenceNumber\":\"2\",\"data\":\"/w=\\u0000=\"}},
            {\"kinesis\":{\"sequenceNumber\":\"3\",\"data\":\"/w=é=\"}}]}";
        assert_eq!(kinesis_data(batch), [None, None, None]);
        // Data must be a string: serde_json's byte arrays are not taken.
        let error = r#"{"Records":[{"kinesis":{"sequenceNumber":"1","data":[255]}}]}"#.parse::<Payload>().unwrap_err();
        assert!(error.to_string().contains("expected a base64 string"), "{error}");
        // A field given twice is an error, as for serde's derived readers.
        let error = r#"{"Records":[],"Records":[]}"#.parse::<Payload>().unwrap_err();
        assert!(error.to_string().contains("duplicate field `Records`"), "{error}");
        assert!(r#"{"Records":[{"kinesis":{"sequenceNumber":"1","data":"","data":""}}]}"#.parse::<Payload>().is_err());
        // Keys are compared once unescaped; keys a record does not use are passed over, whatever their
        // values; a missing sequence number is an error, as for serde's derived readers.
        let batch = r#"{"Records":[{"kinesis":{"extra":{"a":[1,"\""]},"\u0064ata":"/w==","sequenceNumber":"1"},
            "eventSource":"aws:kinesis","eventID":"x"}]}"#;
        assert_eq!(kinesis_data(batch), [Some(vec![0xff])]);
        let error = r#"{"Records":[{"kinesis":{"data":""}}]}"#.parse::<Payload>().unwrap_err();
        assert!(error.to_string().contains("missing field `sequenceNumber`"), "{error}");
        let sqs: Payload = r#"{"Records":[{"EventSource":"aws:sqs","messageId":"m","body":null}]}"#.parse().unwrap();
        let record = &sqs.records.unwrap()[0];
        assert_eq!((record.event_source.as_deref(), record.message_id.as_deref()), (Some("aws:sqs"), Some("m")));
        assert!(record.body.is_none());
        // Whatever is not `Records` is kept for the HTTP request types.
        let request: Payload =
            r#"{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":null}"#.parse().unwrap();
        assert!(request.records.is_none());
        assert_eq!(request.others.keys().collect::<Vec<_>>(), ["body", "requestContext", "version"]);
    }
}
