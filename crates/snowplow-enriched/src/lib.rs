//! Snowplow enriched events: the 131-field TSV format that Snowplow Enrich writes.
//!
//! - [`Line::first`] finds a line's end and counts its tabs in one pass, and [`Line::first_in`] may
//!   write down where they are in that pass too ([`TabPositions`]); [`Line::field`] reads one field of
//!   a line with exactly 131 fields, which is what a filter needs.
//! - [`Event::parse`] splits a line into a borrowed view of its fields without copying or validating
//!   anything it is not asked for; invalid UTF-8 in a field nobody reads does no harm.
//! - Typed accessors ([`Event::str`], [`Event::timestamp`], [`Event::int`], …) parse one field on demand
//!   and name the field in every error.
//! - Entities in `contexts`, `derived_contexts` and `unstruct_event` are addressed by Iglu vendor, name
//!   and model ([`SchemaKey`]) and parsed lazily ([`Event::context`], [`Event::unstruct`]).
//! - [`Event::to_json`] renders the event as the Go Analytics SDK does.
//! - [`RecordEvents`] decodes a stream record into its events: one plain event, or the zstd or gzip
//!   records of Enrich 6.11+ holding many.
//!
//! This crate knows nothing of Personalize or of any tracking flavour.

mod entity;
mod event;
mod fields;
mod iglu;
mod json;
mod line;
mod loose;
mod record;
mod scan;
mod short;
mod simd;
mod tabs;
#[cfg(test)]
mod testing;
mod timestamp;
pub mod tsv;

pub use entity::Entity;
#[doc(hidden)]
pub use entity::assert_envelope_paths_agree;
pub use event::{Event, EventError};
pub use fields::{FIELD_COUNT, Field, FieldKind};
pub use iglu::{IgluUri, SchemaKey};
pub use json::sdk_key;
#[doc(hidden)]
pub use line::assert_split_paths_agree;
pub use line::{Line, TabPositions, peek_field};
#[doc(hidden)]
pub use loose::assert_loose_paths_agree;
pub use loose::{DataValue, Loose};
pub use record::{Compression, RecordError, RecordEvents, RecordFault, RecordLimits, encode_record};
pub use short::short_eq;
pub use timestamp::{Timestamp, TimestampError};
