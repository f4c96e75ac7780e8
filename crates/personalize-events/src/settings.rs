//! Where interactions go: dataset group names and their tracking ids.
//!
//! From the `[personalize]` table of the settings file, then the environment, which wins:
//!
//! ```toml
//! [personalize]
//! dataset_group = "recommendations_demo_dsg_ecommerce"       # where stream and CLI events go
//! tracking_ids = { recommendations_demo_dsg_ecommerce = "0a1b2c3d-…" }
//! ```
//!
//! `SNOWPLOW_PERSONALIZE_TRACKING_IDS=group=trackingId,group2=trackingId2`,
//! `SNOWPLOW_PERSONALIZE_STREAM_DATASET_GROUP=group` and `SNOWPLOW_PERSONALIZE_RECOMMENDERS=name=arn,…`
//! set the same. `[personalize] recommenders = { name = "arn:…" }` names the recommenders sites may ask
//! for through `get_recommendations`.

use std::collections::BTreeMap;

use serde::Deserialize;

pub const TRACKING_IDS_VAR: &str = "SNOWPLOW_PERSONALIZE_TRACKING_IDS";
pub const DATASET_GROUP_VAR: &str = "SNOWPLOW_PERSONALIZE_STREAM_DATASET_GROUP";
pub const RECOMMENDERS_VAR: &str = "SNOWPLOW_PERSONALIZE_RECOMMENDERS";

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Dataset group name → event tracker id.
    pub tracking_ids: BTreeMap<String, String>,
    /// The dataset group events go to when the input does not say.
    pub dataset_group: Option<String>,
    /// Recommender name (as sites ask for it) → recommender or campaign ARN, for `get_recommendations`.
    pub recommenders: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverySettingsError {
    #[error("invalid [personalize] settings: {0}")]
    Table(String),
    #[error("{0}: {1:?} is not name=value")]
    Pair(&'static str, String),
    #[error("dataset group {0:?} has no tracking id (set it in [personalize] tracking_ids or {TRACKING_IDS_VAR})")]
    UnknownGroup(String),
    #[error("no dataset group given (set [personalize] dataset_group or {DATASET_GROUP_VAR})")]
    NoGroup,
}

impl DeliverySettings {
    /// The `[personalize]` table, then the variables of `env` (a lookup, so tests need not touch the
    /// process environment).
    pub fn load(table: &toml::Table, env: impl Fn(&str) -> Option<String>) -> Result<Self, DeliverySettingsError> {
        let mut settings: DeliverySettings =
            table.clone().try_into().map_err(|e: toml::de::Error| DeliverySettingsError::Table(e.to_string()))?;
        for (var, map) in
            [(TRACKING_IDS_VAR, &mut settings.tracking_ids), (RECOMMENDERS_VAR, &mut settings.recommenders)]
        {
            let Some(pairs) = env(var) else { continue };
            for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (name, value) = pair
                    .split_once('=')
                    .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
                    .ok_or_else(|| DeliverySettingsError::Pair(var, pair.to_owned()))?;
                map.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        if let Some(group) = env(DATASET_GROUP_VAR).filter(|g| !g.is_empty()) {
            settings.dataset_group = Some(group);
        }
        Ok(settings)
    }

    pub fn tracking_id(&self, group: &str) -> Result<&str, DeliverySettingsError> {
        self.tracking_ids
            .get(group)
            .map(String::as_str)
            .ok_or_else(|| DeliverySettingsError::UnknownGroup(group.to_owned()))
    }

    /// The tracking id of the default dataset group.
    pub fn default_tracking_id(&self) -> Result<&str, DeliverySettingsError> {
        self.tracking_id(self.dataset_group.as_deref().ok_or(DeliverySettingsError::NoGroup)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_adds_to_and_overrides_the_file() {
        let table: toml::Table =
            toml::from_str("dataset_group = \"a\"\ntracking_ids = { a = \"ta\", b = \"tb\" }\n").unwrap();
        let s = DeliverySettings::load(&table, |_| None).unwrap();
        assert_eq!(s.default_tracking_id().unwrap(), "ta");
        let env = |k: &str| match k {
            TRACKING_IDS_VAR => Some("b = tb2, c=tc".to_owned()),
            DATASET_GROUP_VAR => Some("c".to_owned()),
            _ => None,
        };
        let s = DeliverySettings::load(&table, env).unwrap();
        assert_eq!(s.default_tracking_id().unwrap(), "tc");
        assert_eq!(s.tracking_id("b").unwrap(), "tb2");
        assert!(s.tracking_id("zz").unwrap_err().to_string().contains("\"zz\" has no tracking id"));
        assert!(DeliverySettings::load(&table, |k| (k == TRACKING_IDS_VAR).then(|| "oops".into())).is_err());
        assert!(DeliverySettings::load(&toml::from_str("typo = 1").unwrap(), |_| None).is_err());
        assert_eq!(DeliverySettings::default().default_tracking_id(), Err(DeliverySettingsError::NoGroup));
    }
}
