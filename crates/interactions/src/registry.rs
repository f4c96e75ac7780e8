//! The mapper registry. Flavour crates submit a [`Flavour`] and one [`Mapper`] per event name with
//! `inventory::submit!`; [`Registry::linked`] gathers what the binary links, in an order that does not
//! depend on the linker, and refuses duplicates.
//!
//! A flavour crate is linked only when something references it, which is what the `flavours` bundle
//! crate is for: binaries depend on the bundle and every registration comes along.

use std::any::Any;
use std::sync::OnceLock;

use snowplow_enriched::{Event, EventError};

use crate::model::Mapped;
use crate::settings::{FlavourSettings, SettingsError};

/// A tracking flavour: a family of events and entities one tracker plugin emits.
#[derive(Debug)]
pub struct Flavour {
    /// The name used in settings (`[flavours.<name>]`), summaries and bad rows.
    pub name: &'static str,
    /// One line for `snowplow-personalize mappers`.
    pub summary: &'static str,
    /// Every reason the flavour's mappers give for a skip; the compliance and fixture tests hold
    /// mappers to this list and fixtures to covering it.
    pub skips: &'static [&'static str],
    /// Parses the flavour's settings table; flavours name
    /// [`parse_flavour_settings::<TheirSettings>`](crate::parse_flavour_settings).
    pub configure: fn(Option<toml::Table>) -> Result<FlavourSettings, String>,
}

/// Maps events of one name to interactions.
#[derive(Debug)]
pub struct Mapper {
    /// The flavour the mapper belongs to.
    pub flavour: &'static str,
    /// The `event_name` the mapper handles; unique across all linked flavours.
    pub event_name: &'static str,
    pub map: MapFn,
}

/// A mapper function: a reading of one event with its flavour's settings at hand. An `Err` is a bad
/// event (broken JSON in an entity the mapper needs, say); everything else is a draft or a skip.
pub type MapFn = for<'a> fn(&Event<'a>, &MapContext<'_>) -> Result<Mapped<'a>, EventError>;

inventory::collect!(Flavour);
inventory::collect!(Mapper);

/// What a mapper may consult besides the event.
#[derive(Debug)]
pub struct MapContext<'s> {
    settings: &'s (dyn Any + Send + Sync),
}

impl<'s> MapContext<'s> {
    pub fn new(settings: &'s (dyn Any + Send + Sync)) -> Self {
        MapContext { settings }
    }

    /// The flavour's settings, of the type its `configure` function produces.
    ///
    /// # Panics
    /// When `T` is not that type: a defect in the flavour crate, which the compliance test (every
    /// mapper run with its flavour's settings) catches before release.
    pub fn settings<T: 'static>(&self) -> &T {
        match self.settings.downcast_ref::<T>() {
            Some(settings) => settings,
            None => panic!(
                "mapper asked for settings of type {}, which its flavour does not configure",
                std::any::type_name::<T>()
            ),
        }
    }
}

/// The flavours and mappers linked into this binary, sorted by name.
#[derive(Debug, Clone)]
pub struct Registry {
    flavours: Vec<&'static Flavour>,
    mappers: Vec<&'static Mapper>,
}

impl Registry {
    /// Everything submitted with `inventory`, checked once and kept for the life of the process.
    pub fn linked() -> Result<&'static Registry, SettingsError> {
        static LINKED: OnceLock<Result<Registry, String>> = OnceLock::new();
        LINKED
            .get_or_init(|| {
                Registry::new(inventory::iter::<Flavour>().collect(), inventory::iter::<Mapper>().collect())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| SettingsError::Registry(e.clone()))
    }

    /// Sorts the registrations and checks that flavour names and event names are unique and that every
    /// mapper's flavour is registered.
    pub fn new(
        mut flavours: Vec<&'static Flavour>,
        mut mappers: Vec<&'static Mapper>,
    ) -> Result<Registry, SettingsError> {
        flavours.sort_by_key(|f| f.name);
        mappers.sort_by_key(|m| (m.event_name, m.flavour));
        if let Some(w) = flavours.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(SettingsError::Registry(format!("flavour {:?} is registered twice", w[0].name)));
        }
        if let Some(w) = mappers.windows(2).find(|w| w[0].event_name == w[1].event_name) {
            return Err(SettingsError::Registry(format!(
                "event name {:?} has two mappers, in flavours {:?} and {:?}",
                w[0].event_name, w[0].flavour, w[1].flavour
            )));
        }
        if let Some(m) = mappers.iter().find(|m| flavours.binary_search_by_key(&m.flavour, |f| f.name).is_err()) {
            return Err(SettingsError::Registry(format!(
                "mapper for {:?} names flavour {:?}, which is not registered",
                m.event_name, m.flavour
            )));
        }
        Ok(Registry { flavours, mappers })
    }

    pub fn flavours(&self) -> &[&'static Flavour] {
        &self.flavours
    }

    /// Mappers sorted by event name.
    pub fn mappers(&self) -> &[&'static Mapper] {
        &self.mappers
    }

    /// `(flavour, event_name)` for every mapper, sorted by flavour then event name: the listing that
    /// tests pin and `snowplow-personalize mappers` prints.
    pub fn listing(&self) -> Vec<(&'static str, &'static str)> {
        let mut pairs: Vec<_> = self.mappers.iter().map(|m| (m.flavour, m.event_name)).collect();
        pairs.sort_unstable();
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{NoSettings, parse_flavour_settings};

    fn never<'a>(_: &Event<'a>, _: &MapContext<'_>) -> Result<Mapped<'a>, EventError> {
        Ok(Mapped::Skip("test"))
    }

    static A: Flavour = Flavour { name: "a", summary: "", skips: &[], configure: parse_flavour_settings::<NoSettings> };
    static B: Flavour = Flavour { name: "b", summary: "", skips: &[], configure: parse_flavour_settings::<NoSettings> };
    static A_X: Mapper = Mapper { flavour: "a", event_name: "x", map: never };
    static B_X: Mapper = Mapper { flavour: "b", event_name: "x", map: never };
    static B_Y: Mapper = Mapper { flavour: "b", event_name: "y", map: never };
    static C_Z: Mapper = Mapper { flavour: "c", event_name: "z", map: never };

    #[test]
    fn order_of_registration_does_not_matter() {
        let one = Registry::new(vec![&B, &A], vec![&B_Y, &A_X]).unwrap();
        let two = Registry::new(vec![&A, &B], vec![&A_X, &B_Y]).unwrap();
        assert_eq!(one.listing(), two.listing());
        assert_eq!(one.listing(), [("a", "x"), ("b", "y")]);
    }

    #[test]
    fn duplicates_and_orphans_are_refused() {
        let err = Registry::new(vec![&A, &B], vec![&B_X, &A_X]).unwrap_err().to_string();
        assert_eq!(err, r#"mapper registry: event name "x" has two mappers, in flavours "a" and "b""#);
        assert!(Registry::new(vec![&A, &A], vec![]).is_err());
        assert!(Registry::new(vec![&A], vec![&C_Z]).unwrap_err().to_string().contains("\"c\""));
    }
}
