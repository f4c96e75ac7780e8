//! The dispatcher: filter, route by event name, map, then apply the rules every flavour shares.
//!
//! The shared rules are the seed transform's, in its order: the mapper decides the event type and item
//! ids; empty item ids are dropped and an event left with none is skipped; an event without a session
//! id is skipped (Personalize requires one); identity and time come from the atomic fields with the
//! `client_session` entity as fallback. Work is done only as far as the verdict needs: a filtered event
//! is never parsed beyond its tabs, and a skipped one never has its timestamps read.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use snowplow_enriched::{Event, EventError, Field, Line, Loose, SchemaKey, short_eq};

use crate::filter::Filter;
use crate::model::{Draft, Interaction, Mapped};
use crate::registry::{MapContext, MapFn, Registry};
use crate::settings::{EventTypeNames, FilterAction, Settings, SettingsError};

/// The client-session entity the JavaScript tracker attaches; the seed falls back on it for identity.
pub const CLIENT_SESSION: SchemaKey<'static> = SchemaKey::new("com.snowplowanalytics.snowplow", "client_session", 1);

/// Skip reasons of the shared rules; mappers add their own.
pub mod skip {
    pub const NO_MAPPER: &str = "no mapper for this event name";
    pub const FLAVOUR_DISABLED: &str = "flavour disabled in settings";
    pub const NO_ITEM_IDS: &str = "no item ids";
    pub const NO_SESSION_ID: &str = "no session id";
}

/// Why an event is a bad row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadEvent {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("field event_id is empty")]
    NoEventId,
    #[error("fields derived_tstamp and collector_tstamp are both empty")]
    NoTimestamp,
}

/// The verdict on one input line; an interaction borrows from the line and the pipeline (see
/// [`Interaction`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// The event filter dropped the event.
    Filtered,
    Interaction {
        flavour: &'static str,
        interaction: Interaction<'a>,
    },
    /// Not an interaction; `flavour` is the flavour whose mapper looked at it, if any.
    Skipped {
        flavour: Option<&'static str>,
        reason: &'static str,
    },
    /// The event cannot be read; `event_id` is given when it could be.
    Bad {
        event_id: Option<String>,
        error: BadEvent,
    },
}

impl Outcome<'_> {
    /// The outcome with texts of its own (see [`Interaction::into_owned`]), to keep past its line.
    pub fn into_owned(self) -> Outcome<'static> {
        match self {
            Outcome::Filtered => Outcome::Filtered,
            Outcome::Interaction { flavour, interaction } => {
                Outcome::Interaction { flavour, interaction: interaction.into_owned() }
            }
            Outcome::Skipped { flavour, reason } => Outcome::Skipped { flavour, reason },
            Outcome::Bad { event_id, error } => Outcome::Bad { event_id, error },
        }
    }
}

#[derive(Debug, Clone)]
struct Route {
    event_name: &'static str,
    flavour: &'static str,
    map: MapFn,
    /// `None` when the flavour is disabled.
    settings: Option<Arc<dyn Any + Send + Sync>>,
}

/// Everything needed to turn lines into outcomes: built once from settings, then shared by every
/// invocation. Threads that map many lines at once should each take a clone: a filter regex (a
/// pattern other than a short list of names) keeps its matching caches in a pool that threads other
/// than its first user reach through a lock, and a clone has a pool of its own (the compiled regex and
/// the flavour settings are shared).
#[derive(Debug, Clone)]
pub struct Pipeline {
    filter_field: Field,
    filter: Filter,
    keep_matches: bool,
    event_types: EventTypeNames,
    /// Sorted by the length of the event name, then by the name.
    routes: Vec<Route>,
    /// Where the routes of each length of name start in `routes`, and after the longest, where they
    /// end: the routes of `n`-byte names are `routes[starts[n]..starts[n + 1]]`. A name is looked up
    /// by its length, then compared with the few of that length (nearly always one, or none), where a
    /// binary search took three dependent steps and ended in a call to `memcmp`.
    starts: Vec<usize>,
}

impl Pipeline {
    /// A pipeline over every flavour linked into the binary.
    pub fn new(settings: &Settings) -> Result<Pipeline, SettingsError> {
        Pipeline::with_registry(Registry::linked()?, settings)
    }

    pub fn with_registry(registry: &Registry, settings: &Settings) -> Result<Pipeline, SettingsError> {
        let filter_field = Field::from_name(&settings.filter.field)
            .ok_or_else(|| SettingsError::FilterField(settings.filter.field.clone()))?;
        let filter = Filter::new(&settings.filter.regex)
            .map_err(|e| SettingsError::Regex { regex: settings.filter.regex.clone(), source: Box::new(e) })?;
        settings.event_types.validate()?;
        if let Some(unknown) = settings.flavours.keys().find(|k| !registry.flavours().iter().any(|f| f.name == *k)) {
            let known: Vec<_> = registry.flavours().iter().map(|f| f.name).collect();
            return Err(SettingsError::UnknownFlavour(unknown.clone(), known.join(", ")));
        }
        let mut configured = Vec::new();
        for flavour in registry.flavours() {
            let mut table = settings.flavours.get(flavour.name).cloned();
            let enabled = match table.as_mut().and_then(|t| t.remove("enabled")) {
                None => true,
                Some(toml::Value::Boolean(b)) => b,
                Some(_) => {
                    return Err(SettingsError::Flavour {
                        flavour: flavour.name,
                        message: "enabled must be true or false".into(),
                    });
                }
            };
            let parsed = (flavour.configure)(table)
                .map_err(|message| SettingsError::Flavour { flavour: flavour.name, message })?;
            configured.push((flavour.name, enabled.then(|| Arc::<dyn Any + Send + Sync>::from(parsed))));
        }
        let mut routes: Vec<Route> = registry
            .mappers()
            .iter()
            .map(|m| Route {
                event_name: m.event_name,
                flavour: m.flavour,
                map: m.map,
                settings: configured.iter().find(|(name, _)| *name == m.flavour).and_then(|(_, s)| s.clone()),
            })
            .collect();
        routes.sort_by_key(|r| (r.event_name.len(), r.event_name));
        let longest = routes.last().map_or(0, |r| r.event_name.len());
        let starts = (0..=longest + 1).map(|n| routes.partition_point(|r| r.event_name.len() < n)).collect();
        Ok(Pipeline {
            filter_field,
            filter,
            keep_matches: settings.filter.action == FilterAction::Keep,
            event_types: settings.event_types.clone(),
            routes,
            starts,
        })
    }

    /// The verdict on one line of enriched TSV (without its newline).
    pub fn process<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        self.process_line(Line::new(line))
    }

    /// [`Pipeline::process`] for a line whose tabs its reader counted (see [`Line::first_in`]). Most lines
    /// are filtered out, so the filter looks at its one field before the line is split into all of
    /// them.
    pub fn process_line<'a>(&'a self, line: Line<'a>) -> Outcome<'a> {
        let kept = match line.field(self.filter_field) {
            Ok(value) => self.keeps(value),
            Err(error) => return Outcome::Bad { event_id: None, error: error.into() },
        };
        if !kept {
            return Outcome::Filtered;
        }
        Event::parse_line(line, |parsed| match parsed {
            Ok(event) => self.map(event),
            Err(error) => Outcome::Bad { event_id: None, error: error.into() },
        })
    }

    /// The verdict on one parsed event.
    pub fn process_event<'a>(&'a self, event: &Event<'a>) -> Outcome<'a> {
        if !self.keeps(event.raw(self.filter_field)) {
            return Outcome::Filtered;
        }
        self.map(event)
    }

    fn keeps(&self, value: &[u8]) -> bool {
        self.filter.is_match(value) == self.keep_matches
    }

    /// Routing, mapping and the shared rules, for an event the filter kept.
    fn map<'a>(&'a self, event: &Event<'a>) -> Outcome<'a> {
        let Some(route) = self.route(event.raw(Field::EventName)) else {
            return Outcome::Skipped { flavour: None, reason: skip::NO_MAPPER };
        };
        let flavour = Some(route.flavour);
        let Some(settings) = &route.settings else {
            return Outcome::Skipped { flavour, reason: skip::FLAVOUR_DISABLED };
        };
        let bad = |error: BadEvent| Outcome::Bad {
            event_id: event.str(Field::EventId).ok().flatten().map(str::to_owned),
            error,
        };
        let context = MapContext::new(&**settings);
        match (route.map)(event, &context) {
            Err(error) => bad(error.into()),
            Ok(Mapped::Skip(reason)) => Outcome::Skipped { flavour, reason },
            Ok(Mapped::Draft(draft)) => match self.finish(event, draft) {
                Ok(Ok(interaction)) => Outcome::Interaction { flavour: route.flavour, interaction },
                Ok(Err(reason)) => Outcome::Skipped { flavour, reason },
                Err(error) => bad(error),
            },
        }
    }

    /// The route of an event name (see [`Pipeline::starts`]).
    fn route(&self, name: &[u8]) -> Option<&Route> {
        let (&start, &end) = (self.starts.get(name.len())?, self.starts.get(name.len() + 1)?);
        self.routes[start..end].iter().find(|r| short_eq(r.event_name.as_bytes(), name))
    }

    /// The shared rules (see the module documentation): an interaction, a skip reason, or a bad event.
    fn finish<'a>(
        &'a self,
        event: &Event<'a>,
        draft: Draft<'a>,
    ) -> Result<Result<Interaction<'a>, &'static str>, BadEvent> {
        let mut item_ids = draft.item_ids;
        item_ids.retain(|id| !id.is_empty());
        if item_ids.is_empty() {
            return Ok(Err(skip::NO_ITEM_IDS));
        }
        let session_id = match event.str(Field::DomainSessionid)? {
            Some(id) => Some(Cow::Borrowed(id)),
            None => client_session_value(event, "sessionId")?,
        };
        let Some(session_id) = session_id else {
            return Ok(Err(skip::NO_SESSION_ID));
        };
        let user_id = match (event.str(Field::UserId)?, event.str(Field::DomainUserid)?) {
            (Some(id), _) | (None, Some(id)) => Some(Cow::Borrowed(id)),
            (None, None) => client_session_value(event, "userId")?,
        };
        let event_id = Cow::Borrowed(event.str(Field::EventId)?.ok_or(BadEvent::NoEventId)?);
        let time = match event.timestamp(Field::DerivedTstamp)? {
            Some(t) => t,
            None => event.timestamp(Field::CollectorTstamp)?.ok_or(BadEvent::NoTimestamp)?,
        };
        Ok(Ok(Interaction {
            event_id,
            event_type: Cow::Borrowed(self.event_types.name(draft.kind)),
            user_id,
            session_id,
            item_ids,
            sent_at: time.epoch_millis(),
            impression_id: draft.impression_id,
        }))
    }
}

/// A key of the first client-session entity, when it holds a truthy scalar (the seed reads
/// `(contexts_…_client_session_1 || [])[0] || {}`).
fn client_session_value<'a>(event: &Event<'a>, key: &str) -> Result<Option<Cow<'a, str>>, EventError> {
    let sessions = event.context(&CLIENT_SESSION)?;
    let Some(first) = sessions.first() else {
        return Ok(None);
    };
    // The one value is read, not a tree of the whole entity.
    Ok(first.data_get(key).filter(Loose::is_truthy).and_then(|v| v.scalar_text()))
}

/// One JSON object per outcome, in the shape of the reference pipeline's per-line output:
/// `{"status":"interaction","flavour":…,"interaction":{…}}`, `{"status":"skipped","flavour":…,"reason":…}`,
/// `{"status":"filtered"}` or `{"status":"bad","event_id":…,"error":…}`.
impl serde::Serialize for Outcome<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        match self {
            Outcome::Filtered => map.serialize_entry("status", "filtered")?,
            Outcome::Interaction { flavour, interaction } => {
                map.serialize_entry("status", "interaction")?;
                map.serialize_entry("flavour", flavour)?;
                map.serialize_entry("interaction", interaction)?;
            }
            Outcome::Skipped { flavour, reason } => {
                map.serialize_entry("status", "skipped")?;
                if let Some(flavour) = flavour {
                    map.serialize_entry("flavour", flavour)?;
                }
                map.serialize_entry("reason", reason)?;
            }
            Outcome::Bad { event_id, error } => {
                map.serialize_entry("status", "bad")?;
                if let Some(event_id) = event_id {
                    map.serialize_entry("event_id", event_id)?;
                }
                map.serialize_entry("error", &error.to_string())?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use snowplow_enriched::FIELD_COUNT;

    use super::*;
    use crate::model::Mapped;
    use crate::registry::{Flavour, Mapper};
    use crate::settings::{NoSettings, parse_flavour_settings};

    macro_rules! mapper {
        ($name:ident, $event_name:literal) => {
            static $name: Mapper = Mapper {
                flavour: "f",
                event_name: $event_name,
                map: |_, _| Ok(Mapped::Skip(concat!("mapped by ", $event_name))),
            };
        };
    }
    static F: Flavour = Flavour { name: "f", summary: "", skips: &[], configure: parse_flavour_settings::<NoSettings> };
    mapper!(A, "a");
    mapper!(AB, "ab");
    mapper!(CD, "cd");
    mapper!(BA, "ba");
    mapper!(LONG, "a_longer_name");

    #[test]
    fn each_event_name_reaches_its_own_mapper() {
        let registry = Registry::new(vec![&F], vec![&LONG, &CD, &A, &BA, &AB]).unwrap();
        let mut settings = Settings::default();
        settings.filter.regex = String::new();
        let pipeline = Pipeline::with_registry(&registry, &settings).unwrap();
        let verdict = |name: &str| {
            let mut fields = vec![""; FIELD_COUNT];
            fields[Field::EventName.index()] = name;
            match pipeline.process(fields.join("\t").as_bytes()) {
                Outcome::Skipped { reason, .. } => reason,
                other => panic!("{name}: {other:?}"),
            }
        };
        for name in ["a", "ab", "cd", "ba", "a_longer_name"] {
            assert_eq!(verdict(name), format!("mapped by {name}"));
        }
        // Names of no route: of a length some routes have, of lengths none has, shorter and longer.
        for name in ["b", "ac", "dc", "abc", "", "a_longer_namex", "a_longer_nama"] {
            assert_eq!(verdict(name), skip::NO_MAPPER, "{name:?}");
        }
    }
}
