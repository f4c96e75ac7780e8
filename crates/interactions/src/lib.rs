//! Personalize interactions from Snowplow enriched events.
//!
//! - [`model`]: what a mapper drafts ([`Draft`], [`Mapped`]) and what the pipeline emits ([`Interaction`]).
//! - [`registry`]: the `inventory` registry flavour crates submit [`Flavour`]s and [`Mapper`]s to.
//! - [`pipeline`]: the dispatcher ([`Pipeline`]): event filter, routing by event name, and the rules
//!   every flavour shares.
//! - [`settings`]: the TOML settings; the defaults reproduce the seed system.
//! - [`tally`]: outcome counts for summaries and metrics.
//!
//! This crate knows nothing of AWS, of I/O, or of any particular flavour.

mod filter;
pub mod model;
pub mod pipeline;
pub mod registry;
pub mod settings;
pub mod tally;

pub use model::{Draft, EventKind, Interaction, Mapped, id_of, ids_of_entities};
pub use pipeline::{BadEvent, CLIENT_SESSION, Outcome, Pipeline, skip};
pub use registry::{Flavour, MapContext, MapFn, Mapper, Registry};
pub use settings::{FilterAction, NoSettings, Settings, SettingsError, parse_flavour_settings};
pub use tally::Tally;

/// The enriched-event types mappers work with, so that a flavour crate needs one import path.
pub use snowplow_enriched::{DataValue, Entity, Event, EventError, Field, Loose, SchemaKey};

/// Re-exported for `inventory::submit!` in flavour crates.
pub use inventory;
