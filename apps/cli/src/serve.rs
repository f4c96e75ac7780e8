//! `snowplow-personalize serve`: the Lambda's HTTP endpoint on a local port, through the same handler
//! (`handlers::App::handle_http`), so a Snowbridge pointed at a laptop works unchanged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use delivery::{Metrics, SdkApi, Sender};
use handlers::{App, BasicAuth, StdoutBadRecords};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use interactions::{Pipeline, Settings};
use personalize_events::DeliverySettings;

use crate::DeliveryArgs;

/// The variable `--basic-auth` falls back on, as in the Lambda.
const BASIC_AUTH_VAR: &str = "SNOWPLOW_PERSONALIZE_BASIC_AUTH";

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Mapping and delivery settings (TOML): `[personalize] tracking_ids` maps the dataset groups in
    /// request paths to tracking ids (SNOWPLOW_PERSONALIZE_TRACKING_IDS too).
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// `user:password` that requests must present (or SNOWPLOW_PERSONALIZE_BASIC_AUTH); without it the
    /// endpoint is open, which only suits a laptop.
    #[arg(long, value_name = "USER:PASSWORD")]
    basic_auth: Option<String>,
    /// Larger bodies get 413.
    #[arg(long, default_value_t = handlers::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Connections served at once; more wait to be accepted. With the body limit, this bounds memory.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// A client that has not sent its request's headers, or its body, within this many milliseconds
    /// is disconnected, so that slow or idle clients cannot hold every connection.
    #[arg(long, default_value_t = 10_000)]
    read_timeout_ms: u64,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = match &args.settings {
        Some(path) => Settings::load(path)?,
        None => Settings::default(),
    };
    let auth = match args.basic_auth.clone().or_else(|| std::env::var(BASIC_AUTH_VAR).ok()) {
        Some(pair) => Some(BasicAuth::new(&pair).context("--basic-auth must be user:password")?),
        None => {
            eprintln!("warning: no --basic-auth: the endpoint accepts requests without credentials");
            None
        }
    };
    let config = args.delivery.send_config();
    let aws = delivery::aws_config().await;
    let client = delivery::sdk_client(&aws, args.delivery.endpoint_url.as_deref(), config.attempt_timeout);
    let metrics = Arc::new(Metrics::default());
    let delivery = DeliverySettings::load(&settings.personalize, |k| std::env::var(k).ok())?;
    let recommender: Option<Arc<dyn delivery::Recommender>> =
        match (&args.delivery.endpoint_url, delivery.recommenders.is_empty()) {
            (_, true) => None,
            (Some(url), false) => Some(Arc::new(delivery::SdkRecommender::for_endpoint(url))),
            (None, false) => Some(Arc::new(delivery::SdkRecommender::new(&aws, Duration::from_secs(10)))),
        };
    let app = Arc::new(App {
        pipeline: Pipeline::new(&settings)?,
        delivery,
        auth,
        sender: Arc::new(Sender::new(SdkApi::new(client), config, metrics.clone())),
        metrics,
        max_body_bytes: args.max_body_bytes,
        bad_records: Arc::new(StdoutBadRecords),
        recommender,
        record_limits: settings.records,
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("serving POST http://{}/interaction/{{dataset_group}} (Ctrl-C to stop)", listener.local_addr()?);
    let connections = Arc::new(tokio::sync::Semaphore::new(args.max_connections.max(1)));
    let read_timeout = Duration::from_millis(args.read_timeout_ms.max(1));
    loop {
        // A free place first, then a connection: the ones beyond the limit wait in the listen backlog.
        let (place, stream) = tokio::select! {
            place = connections.clone().acquire_owned() => {
                let Ok(place) = place else { break };
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => (place, stream),
                        Err(_) => continue,
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| answer(app.clone(), request, read_timeout));
            // A client that goes away mid-request concerns nobody else.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(read_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            drop(place);
        });
    }
    eprint!("{}", app.metrics.snapshot());
    Ok(())
}

async fn answer(
    app: Arc<App<SdkApi>>,
    request: hyper::Request<hyper::body::Incoming>,
    read_timeout: Duration,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = request.into_parts();
    // Read at most one byte more than allowed, so an oversized body is known without holding it all.
    let body = match tokio::time::timeout(read_timeout, Limited::new(body, app.max_body_bytes + 1).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        Ok(Err(_)) => vec![0; app.max_body_bytes + 1],
        Err(_) => {
            let mut response =
                hyper::Response::new(Full::new(Bytes::from_static(b"{\"error\":\"request body too slow\"}")));
            *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
            return Ok(response);
        }
    };
    let response = app.handle_http(http::Request::from_parts(parts, body)).await;
    let (parts, body) = response.into_parts();
    Ok(hyper::Response::from_parts(parts, Full::new(Bytes::from(body))))
}
