//! Mapping settings, read from TOML. Every key is optional; the defaults reproduce the seed system.
//!
//! ```toml
//! [filter]                      # as Snowbridge's spEnrichedFilter
//! field = "event_name"
//! regex = "^(snowplow_ecommerce_action|action|view_item|transaction_item|create_order|link_click)$"
//! action = "keep"               # or "drop"
//!
//! [event_types]                 # the eventType each kind of interaction is sent as
//! view = "View"
//! click = "Click"
//! purchase = "Purchase"
//!
//! [flavours.enhanced-ecommerce] # one table per flavour: `enabled`, then the flavour's own keys
//! enabled = false
//! ```

use std::any::Any;
use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::EventKind;

/// The event filter's default pattern: the event names the seed's Snowbridge configuration lets through.
pub const DEFAULT_FILTER_REGEX: &str =
    "^(snowplow_ecommerce_action|action|view_item|transaction_item|create_order|link_click)$";

/// Why settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid settings: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("invalid filter regex {regex:?}: {source}")]
    Regex { regex: String, source: Box<regex::Error> },
    #[error("filter field {0:?} is not an enriched-event field")]
    FilterField(String),
    #[error("event type name for {kind:?} must be 1 to 256 characters, got {len}")]
    EventTypeName { kind: EventKind, len: usize },
    #[error("settings name flavour {0:?}, which is not registered (registered: {1})")]
    UnknownFlavour(String, String),
    #[error("settings of flavour {flavour:?}: {message}")]
    Flavour { flavour: &'static str, message: String },
    #[error("mapper registry: {0}")]
    Registry(String),
}

/// All mapping settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub filter: FilterSettings,
    pub event_types: EventTypeNames,
    /// Per-flavour tables, keyed by flavour name: `enabled` (default true) plus the flavour's own keys.
    pub flavours: BTreeMap<String, toml::Table>,
    /// `[personalize]`: delivery settings, read by the delivery side (`personalize-events`), kept here
    /// so that one file configures a deployment.
    pub personalize: toml::Table,
    /// `[records]`: caps on what one stream record may decompress to (Enrich's compressed records).
    pub records: snowplow_enriched::RecordLimits,
}

impl Settings {
    pub fn from_toml(text: &str) -> Result<Settings, SettingsError> {
        Ok(toml::from_str(text)?)
    }

    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SettingsError::Read { path: path.display().to_string(), source })?;
        Settings::from_toml(&text)
    }
}

/// What the event filter keeps, as Snowbridge's `spEnrichedFilter` describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterSettings {
    /// The atomic field the regex is matched against.
    pub field: String,
    pub regex: String,
    pub action: FilterAction,
}

impl Default for FilterSettings {
    fn default() -> Self {
        FilterSettings {
            field: "event_name".to_owned(),
            regex: DEFAULT_FILTER_REGEX.to_owned(),
            action: FilterAction::Keep,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterAction {
    /// Keep events whose field matches; drop the rest.
    Keep,
    /// Drop events whose field matches; keep the rest.
    Drop,
}

/// The eventType sent for each kind of interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventTypeNames {
    pub view: String,
    pub click: String,
    pub purchase: String,
}

impl Default for EventTypeNames {
    fn default() -> Self {
        EventTypeNames { view: "View".to_owned(), click: "Click".to_owned(), purchase: "Purchase".to_owned() }
    }
}

impl EventTypeNames {
    pub fn name(&self, kind: EventKind) -> &str {
        match kind {
            EventKind::View => &self.view,
            EventKind::Click => &self.click,
            EventKind::Purchase => &self.purchase,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        for kind in [EventKind::View, EventKind::Click, EventKind::Purchase] {
            let len = self.name(kind).chars().count();
            if !(1..=256).contains(&len) {
                return Err(SettingsError::EventTypeName { kind, len });
            }
        }
        Ok(())
    }
}

/// A flavour's settings after parsing, shared with its mappers.
pub type FlavourSettings = Box<dyn Any + Send + Sync>;

/// Parses a flavour's settings table (without `enabled`) into `T`, the defaults when absent. Flavours
/// name this function, instantiated with their settings type, in their [`crate::Flavour`]
/// registration; `T` should deny unknown fields so that a misspelt key is an error.
pub fn parse_flavour_settings<T>(table: Option<toml::Table>) -> Result<FlavourSettings, String>
where
    T: DeserializeOwned + Default + Send + Sync + 'static,
{
    let settings: T = match table {
        None => T::default(),
        Some(table) => T::deserialize(table).map_err(|e| e.to_string())?,
    };
    Ok(Box::new(settings))
}

/// The settings of a flavour that has none beyond `enabled`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_reproduce_the_seed() {
        let s = Settings::from_toml("").unwrap();
        assert_eq!(s.filter.regex, DEFAULT_FILTER_REGEX);
        assert_eq!(s.filter.action, FilterAction::Keep);
        assert_eq!(s.event_types.name(EventKind::Purchase), "Purchase");
    }

    #[test]
    fn misspelt_keys_are_errors() {
        let err = Settings::from_toml("[filter]\nregexp = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `regexp`"), "{err}");
        assert!(Settings::from_toml("[event_types]\nbrowse = \"B\"\n").is_err());
    }

    #[test]
    fn flavour_tables_are_kept_for_their_flavour() {
        let s = Settings::from_toml("[flavours.x]\nenabled = false\nkey = 1\n").unwrap();
        assert_eq!(s.flavours["x"]["key"].as_integer(), Some(1));
        assert!(parse_flavour_settings::<NoSettings>(Some(toml::Table::new())).is_ok());
        let mut extra = toml::Table::new();
        extra.insert("key".into(), 1.into());
        assert!(parse_flavour_settings::<NoSettings>(Some(extra)).is_err());
    }
}
