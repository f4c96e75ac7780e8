//! `snowplow-personalize-lambda`: see the library documentation.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

// One thread: an invocation is one payload at a time, and the template's 128 MB function gets about a
// thirteenth of a vCPU, where worker threads only add wake-ups between threads. A warm 1,000-record
// batch's CPU, calls to the emulator over HTTP included (`deploy/measure_lambda.py`), fell from 26-29
// ms to 20-21 ms, and the cold start from 6-19 ms to 5.3 ms, against the multi-threaded runtime.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_current_span(false)
        .init();
    // Built once per execution environment and borrowed by every invocation.
    let app = Arc::new(lambda::config::app_from_env().await?);
    // The runtime reads the payload once, straight into what `dispatch` needs (see `lambda::Payload`).
    lambda_runtime::run(service_fn(move |event: LambdaEvent<lambda::Payload>| {
        let app = app.clone();
        async move { lambda::dispatch(&app, event.payload).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    /// The exact set of mappers this binary links.
    #[test]
    fn registered_mappers() {
        let registry = interactions::Registry::linked().unwrap();
        assert_eq!(
            registry.listing(),
            [
                ("classic-ecommerce", "transaction_item"),
                ("element-tracking", "link_click"),
                ("enhanced-ecommerce", "action"),
                ("hyper-t", "create_order"),
                ("hyper-t", "view_item"),
                ("snowplow-ecommerce", "snowplow_ecommerce_action"),
            ]
        );
    }
}
