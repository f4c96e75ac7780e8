//! Delivering `PutEvents` requests to Amazon Personalize so that each event is counted once.
//!
//! - [`EventsApi`] is the narrow seam to the service; [`SdkApi`] implements it with
//!   `aws-sdk-personalizeevents` (one client, built once, SDK retries off so that the policy here is the
//!   only one). Tests point it at the emulator over real HTTP.
//! - [`Sender::deliver`] sends one request: paced by a rate limit shared by every concurrent sender of
//!   the same tracking id, each attempt under a timeout, retried with exponential backoff and full
//!   jitter on throttling, server errors, timeouts and dropped connections. A 400 is split in halves
//!   until only the events the service rejects remain; those, and requests that exhaust their retries
//!   or meet a permanent error, become [`DeadLetter`]s. Resending is safe because event ids are
//!   deterministic (see `personalize-events`).
//! - [`Flight`] keeps a bounded number of deliveries in flight.
//! - [`Metrics`] counts interactions in, events sent, calls, retries, throttles and dead letters.
//! - [`Recommender`] is the seam to Personalize Runtime's `GetRecommendations`, which hands sites the
//!   `recommendationId` that clicks on a recommendation widget are attributed to.

mod api;
mod metrics;
mod recommendations;
mod sender;

pub use api::{CallError, EventsApi, SdkApi, aws_config, sdk_client, sdk_client_for_endpoint};
pub use metrics::{Metrics, MetricsSnapshot};
pub use recommendations::{Recommendation, Recommender, SdkRecommender};
pub use sender::{DeadLetter, Flight, SendConfig, Sender};
