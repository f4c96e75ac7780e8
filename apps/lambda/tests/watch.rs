//! The real binary under `cargo lambda watch` (the Lambda runtime emulator of cargo-lambda, from PyPI:
//! `pip install cargo-lambda`), invoked with every payload in `fixtures/lambda/` and over a function URL,
//! delivering to the Personalize emulator over HTTP.
//!
//! Needs `cargo lambda` on the PATH; on a machine without it the test fails and says so, and
//! `SP_SKIP_LAMBDA_WATCH=1` skips it deliberately. CI installs it.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use personalize_emulator::{Config, Emulator, Faults};
use serde_json::Value;

const FUNCTION: &str = "snowplow-personalize-lambda";

fn payload(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/lambda").join(name)).unwrap()
}

/// One HTTP/1.1 request; (status, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(body) } else { body.to_owned() };
    Ok((status, body))
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn invoke(port: u16, payload: &str) -> Value {
    let (status, body) =
        request(port, "POST", &format!("/2015-03-31/functions/{FUNCTION}/invocations"), &[], payload).unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A stand-in for Secrets Manager's JSON protocol, enough for `GetSecretValue`; counts the calls.
async fn fake_secrets_manager(secret: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let counted = counted.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let counted = counted.clone();
                    async move {
                        let target = request.headers().get("x-amz-target").map(|v| v.to_str().unwrap_or("").to_owned());
                        let body: Value =
                            serde_json::from_slice(&request.into_body().collect().await.unwrap().to_bytes()).unwrap();
                        assert_eq!(target.as_deref(), Some("secretsmanager.GetSecretValue"));
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let answer = serde_json::json!({
                            "ARN": body["SecretId"], "Name": "snowbridge", "VersionId": "v1", "SecretString": secret,
                        });
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                            answer.to_string(),
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, calls)
}

struct Watch(Child);

/// `cargo lambda watch` serving the Lambda on `port`, with `env` as its environment.
fn spawn_watch(port: u16, env: &[String]) -> Watch {
    let mut command = Command::new("cargo");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["lambda", "watch", "--quiet", "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port"])
        .arg(port.to_string())
        .args(["--bin", FUNCTION])
        // The outer cargo's jobserver is not for this build.
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for var in env {
        command.args(["--env-var", var]);
    }
    Watch(command.spawn().unwrap())
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_under_cargo_lambda_watch() {
    if std::env::var_os("SP_SKIP_LAMBDA_WATCH").is_some() {
        eprintln!("SKIPPED: cargo lambda watch test disabled by SP_SKIP_LAMBDA_WATCH");
        return;
    }
    let available = Command::new("cargo").args(["lambda", "--version"]).output().is_ok_and(|o| o.status.success());
    assert!(available, "cargo-lambda is not installed (pip install cargo-lambda), or set SP_SKIP_LAMBDA_WATCH=1");

    let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), Config::default()).await.unwrap();
    // The credentials come from Secrets Manager, as in the SAM template.
    let (secrets_url, secret_reads) = fake_secrets_manager(r#"{"username":"snowbridge","password":"pa55"}"#).await;
    let env = [
        format!("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS={}", emulator.endpoint_url()),
        "AWS_ACCESS_KEY_ID=test".into(),
        "AWS_SECRET_ACCESS_KEY=test".into(),
        "AWS_REGION=eu-west-1".into(),
        "AWS_EC2_METADATA_DISABLED=true".into(),
        "SNOWPLOW_PERSONALIZE_TRACKING_IDS=shop=t-shop".into(),
        "SNOWPLOW_PERSONALIZE_STREAM_DATASET_GROUP=shop".into(),
        format!("AWS_ENDPOINT_URL_SECRETS_MANAGER={secrets_url}"),
        "SNOWPLOW_PERSONALIZE_BASIC_AUTH_SECRET_ARN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:snowbridge-AbCdEf".into(),
        "SNOWPLOW_PERSONALIZE_MAX_ATTEMPTS=2".into(),
    ];
    // The first invocation builds the function; allow for a cold cache. The probe is an empty batch,
    // so probes that time out while cargo builds and are answered later change nothing. cargo lambda
    // watch was once seen to accept invocations and never start the build (on a machine whose disk had
    // filled up); a watch that gives no answer for five minutes is replaced, at most twice.
    let invocations = format!("/2015-03-31/functions/{FUNCTION}/invocations");
    let mut started = None;
    for attempt in 1..=3 {
        let port = free_port();
        let watch = spawn_watch(port, &env);
        let deadline = Instant::now() + Duration::from_secs(300);
        let ready = loop {
            match request(port, "POST", &invocations, &[], r#"{"Records":[]}"#) {
                Ok((200, _)) => break true,
                _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_secs(2)).await,
                other => {
                    eprintln!("attempt {attempt}: cargo lambda watch never answered: {other:?}");
                    break false;
                }
            }
        };
        if ready {
            started = Some((watch, port));
            break;
        }
    }
    let (_watch, port) = started.expect("cargo lambda watch never answered in three attempts");
    let answer = invoke(port, &payload("kinesis-enriched.json"));
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(emulator.accepted().len(), 3);
    assert_eq!(secret_reads.load(std::sync::atomic::Ordering::SeqCst), 1, "the secret is read once, at cold start");

    let answer = invoke(port, &payload("sqs-enriched.json"));
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(emulator.stats().duplicate_events, 3, "the SQS batch holds the same events as the Kinesis one");

    // Plain, zstd and gzip records in one batch (Enrich 6.11+ after switching compression on): 7 events,
    // of which the view, the purchase and the click were delivered by the first batch already.
    let before = emulator.stats();
    let answer = invoke(port, &payload("kinesis-mixed-records.json"));
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    let after = emulator.stats();
    assert_eq!(
        (after.accepted_events - before.accepted_events, after.duplicate_events - before.duplicate_events),
        (4, 3)
    );

    for name in ["apigw-rest-interactions.json", "apigw-http-interactions.json", "function-url-interactions.json"] {
        let answer = invoke(port, &payload(name));
        assert_eq!(answer["statusCode"], 200, "{name}: {answer}");
        let report: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            (report["accepted"].as_u64(), report["rejected"][0]["index"].as_u64()),
            (Some(2), Some(2)),
            "{name}"
        );
    }
    for (name, status) in [
        ("apigw-rest-no-auth.json", 401),
        ("function-url-wrong-auth.json", 401),
        ("function-url-unknown-group.json", 404),
    ] {
        assert_eq!(invoke(port, &payload(name))["statusCode"], status, "{name}");
    }

    // A real function-URL request, which cargo lambda turns into the event itself.
    let body =
        r#"{"event_id":"url-1","event_type":"View","session_id":"s9","item_ids":["P9"],"sent_at":1714558501951}"#;
    let url = format!("/lambda-url/{FUNCTION}/interaction/shop");
    let (status, _) = request(port, "POST", &url, &[("content-type", "application/json")], body).unwrap();
    assert_eq!(status, 401);
    let auth = [("content-type", "application/json"), ("authorization", "Basic c25vd2JyaWRnZTpwYTU1")];
    let (status, reply) = request(port, "POST", &url, &auth, body).unwrap();
    assert_eq!(status, 200, "{reply}");
    assert!(emulator.accepted().iter().any(|a| a.event.event_id.as_deref() == Some("url-1")));

    // Personalize failing: only the records whose events could not be delivered come back.
    emulator.set_faults(Faults { server_error: 1.0, ..Faults::default() });
    let answer = invoke(port, &payload("kinesis-enriched.json"));
    let failed: Vec<&str> =
        answer["batchItemFailures"].as_array().unwrap().iter().map(|f| f["itemIdentifier"].as_str().unwrap()).collect();
    let kinesis: Value = serde_json::from_str(&payload("kinesis-enriched.json")).unwrap();
    let sequence = |i: usize| kinesis["Records"][i]["kinesis"]["sequenceNumber"].as_str().unwrap().to_owned();
    assert_eq!(failed, [sequence(0), sequence(3), sequence(4)]);
    let answer = invoke(port, &payload("apigw-http-interactions.json"));
    assert_eq!(answer["statusCode"], 503);
    assert_eq!(secret_reads.load(std::sync::atomic::Ordering::SeqCst), 1, "and never again");
}
