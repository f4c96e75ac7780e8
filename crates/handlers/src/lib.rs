//! The handlers behind the Lambda and `snowplow-personalize serve`, written once.
//!
//! - [`App::handle_http`]: `POST /interaction/{dataset_group}` with the interaction JSON Snowbridge's
//!   transform produces (one object, or an array of them), behind basic auth. Answers say what
//!   Snowbridge should do: 200 with a report of accepted and rejected items (a permanently bad item must
//!   not be retried forever), 400 when nothing in the body is usable, 401, 404, 413, and 503 when
//!   Personalize is still throttling after retries (resending is safe: event ids are deterministic).
//! - `POST /` with `{"method":"get_recommendations","user_id":…,"recommender":…}`, as the accelerator's
//!   Lambda serves it: Personalize Runtime `GetRecommendations` for the named recommender (names resolve
//!   to ARNs in the settings), answered with the items and the `recommendationId` the site writes into
//!   its widget so that clicks are attributed.
//! - [`App::handle_records`]: enriched records (plain TSV, or Enrich's zstd and gzip records of many
//!   events, mixed in one batch) from a Kinesis or SQS trigger through parse, filter,
//!   map and delivery in one pass, grouping calls across the whole batch; returns the ids of the records
//!   whose events could not be delivered (for `batchItemFailures`) and only those. Bad records go to the
//!   [`BadRecords`] sink and never fail the batch.
//!
//! Handlers are async functions of (app, request); the app holds what is built once per process (the
//! pipeline, the SDK client inside the sender, the settings).

mod auth;
mod gather;
mod http_endpoint;
mod stream;

pub use auth::BasicAuth;
pub use http_endpoint::Report;
pub use stream::{BadRecord, BadRecords, Record, StdoutBadRecords};

use std::sync::Arc;

use delivery::{EventsApi, Metrics, Sender};
use interactions::Pipeline;
use personalize_events::DeliverySettings;
use snowplow_enriched::RecordLimits;

/// Everything the handlers need, built once at cold start.
pub struct App<A: EventsApi> {
    pub pipeline: Pipeline,
    pub delivery: DeliverySettings,
    /// `None` leaves the endpoint open (for `serve` on a laptop); the Lambda refuses to start without.
    pub auth: Option<BasicAuth>,
    pub sender: Arc<Sender<A>>,
    pub metrics: Arc<Metrics>,
    /// Bodies larger than this are answered 413.
    pub max_body_bytes: usize,
    pub bad_records: Arc<dyn BadRecords>,
    /// Personalize Runtime, for `POST /` `get_recommendations`; `None` when no recommender is configured.
    pub recommender: Option<Arc<dyn delivery::Recommender>>,
    /// Caps on what one stream record may decompress to.
    pub record_limits: RecordLimits,
}

impl<A: EventsApi> std::fmt::Debug for App<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("delivery", &self.delivery)
            .field("auth", &self.auth.is_some())
            .finish_non_exhaustive()
    }
}

/// Default limit on request bodies: Snowbridge sends at most 50 interactions of well under 1 KB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
