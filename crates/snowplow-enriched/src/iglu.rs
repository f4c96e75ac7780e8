//! Iglu schema URIs (`iglu:vendor/name/format/model-revision-addition`) and the key flavours use to
//! address entities: vendor, name and model, because revisions of one model are compatible.

use std::fmt;

/// A parsed Iglu URI, borrowing from the schema string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgluUri<'s> {
    pub vendor: &'s str,
    pub name: &'s str,
    pub format: &'s str,
    pub model: u32,
    pub revision: u32,
    pub addition: u32,
}

impl<'s> IgluUri<'s> {
    /// Parses a URI with the grammar of the Analytics SDKs' regular expression:
    /// `^iglu:[a-zA-Z0-9-_.]+/[a-zA-Z0-9-_]+/[a-zA-Z0-9-_]+/[1-9][0-9]*(-(0|[1-9][0-9]*)){2}$`.
    pub fn parse(uri: &'s str) -> Option<IgluUri<'s>> {
        let rest = uri.strip_prefix("iglu:")?;
        let (vendor, rest) = rest.split_once('/')?;
        let (name, rest) = rest.split_once('/')?;
        let (format, version) = rest.split_once('/')?;
        if !(is_word(vendor, true) && is_word(name, false) && is_word(format, false)) {
            return None;
        }
        let (model, rest) = version.split_once('-')?;
        let (revision, addition) = rest.split_once('-')?;
        let (model, revision, addition) = (number(model, false)?, number(revision, true)?, number(addition, true)?);
        Some(IgluUri { vendor, name, format, model, revision, addition })
    }

    /// The (vendor, name, model) this URI belongs to.
    pub fn key(&self) -> SchemaKey<'s> {
        SchemaKey { vendor: self.vendor, name: self.name, model: self.model }
    }
}

/// Whether `s` is a non-empty run of `[a-zA-Z0-9-_]` (and `.` when `dots`).
fn is_word(s: &str, dots: bool) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (dots && b == b'.'))
}

/// A version number without leading zeros; the model may not be zero.
fn number(text: &str, zero_allowed: bool) -> Option<u32> {
    let ok = match text.as_bytes() {
        [b'0'] => zero_allowed,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if ok { text.parse().ok() } else { None }
}

/// The address of an entity: Iglu vendor, name and model (major version).
///
/// Addressing by these three parts sidesteps the Analytics SDKs' disagreements on how to spell JSON
/// keys (Go keeps dashes in vendors, JS and Scala turn them into underscores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaKey<'k> {
    pub vendor: &'k str,
    pub name: &'k str,
    pub model: u32,
}

impl<'k> SchemaKey<'k> {
    pub const fn new(vendor: &'k str, name: &'k str, model: u32) -> Self {
        SchemaKey { vendor, name, model }
    }

    /// Whether an entity's schema URI has this vendor, name and model (any format, revision and
    /// addition). An unparsable URI matches nothing.
    pub fn matches(&self, schema_uri: &str) -> bool {
        // Most entities of an event are not the one asked for: reject them on the vendor and name
        // before validating the whole URI.
        self.names_match(schema_uri) && IgluUri::parse(schema_uri).is_some_and(|uri| uri.model == self.model)
    }

    /// Whether `schema_uri` starts with `iglu:<vendor>/<name>/`, which a matching URI does; a cheap
    /// test that rejects nearly every other entity.
    fn names_match(&self, schema_uri: &str) -> bool {
        schema_uri
            .strip_prefix("iglu:")
            .and_then(|rest| rest.strip_prefix(self.vendor))
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_prefix(self.name))
            .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl fmt::Display for SchemaKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.vendor, self.name, self.model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_uris() {
        let uri =
            IgluUri::parse("iglu:com.google.analytics.enhanced-ecommerce/productFieldObject/jsonschema/1-0-0").unwrap();
        assert_eq!(uri.vendor, "com.google.analytics.enhanced-ecommerce");
        assert_eq!(uri.name, "productFieldObject");
        assert_eq!((uri.model, uri.revision, uri.addition), (1, 0, 0));
        let uri = IgluUri::parse("iglu:com.acme.self-desc/my-schema_Name/jsonschema/12-10-3").unwrap();
        assert_eq!((uri.model, uri.revision, uri.addition), (12, 10, 3));
    }

    #[test]
    fn rejects_what_the_sdk_regex_rejects() {
        for bad in [
            "",
            "iglu:com.acme/bad/jsonschema/1.0.0",
            "iglu:com.acme/bad/jsonschema/0-0-0",
            "iglu:com.acme/bad/jsonschema/1-01-0",
            "iglu:com.acme/bad/jsonschema/1-0",
            "iglu:com.acme/bad/jsonschema/1-0-0-0",
            "iglu:com.acme/b.ad/jsonschema/1-0-0",
            "iglu:com.acme/bad/jsonschema/1-0-0/x",
            "iglu:/bad/jsonschema/1-0-0",
            "igloo:com.acme/bad/jsonschema/1-0-0",
            "iglu:com.acme/bad/jsonschema/99999999999-0-0",
        ] {
            assert_eq!(IgluUri::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_match_any_revision_of_their_model() {
        let key = SchemaKey::new("io.snowplow.ecomm", "cart", 1);
        assert!(key.matches("iglu:io.snowplow.ecomm/cart/jsonschema/1-0-0"));
        assert!(key.matches("iglu:io.snowplow.ecomm/cart/jsonschema/1-2-3"));
        assert!(!key.matches("iglu:io.snowplow.ecomm/cart/jsonschema/2-0-0"));
        assert!(!key.matches("iglu:io.snowplow.ecomm/Cart/jsonschema/1-0-0"));
        assert!(!key.matches("not a uri"));
        assert!(!key.matches("iglu:io.snowplow.ecomm/cart/jsonschema/1-0"));
        assert!(!key.matches("iglu:io.snowplow.ecomm/cart/json.schema/1-0-0"));
        assert!(!SchemaKey::new("a/b", "c", 1).matches("iglu:a/b/c/jsonschema/1-0-0"));
        assert_eq!(key.to_string(), "io.snowplow.ecomm/cart/1");
    }
}
