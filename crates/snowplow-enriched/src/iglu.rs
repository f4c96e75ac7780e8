//! Iglu schema URIs (`iglu:vendor/name/format/model-revision-addition`) and the key flavours use to
//! address entities: vendor, name and model, because revisions of one model are compatible.

use std::fmt;

use crate::short::short_eq;

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
        // One pass over the bytes with a class table, rather than splitting the URI and checking each
        // part on its own, which cost several times as much.
        let rest = uri.strip_prefix("iglu:")?;
        let bytes = rest.as_bytes();
        let vendor_end = word_end(bytes, 0, VENDOR)?;
        let name_end = word_end(bytes, vendor_end + 1, WORD)?;
        let Tail { format_end, model, revision, addition } = tail(bytes, name_end + 1)?;
        Some(IgluUri {
            vendor: &rest[..vendor_end],
            name: &rest[vendor_end + 1..name_end],
            format: &rest[name_end + 1..format_end],
            model,
            revision,
            addition,
        })
    }

    /// The (vendor, name, model) this URI belongs to.
    pub fn key(&self) -> SchemaKey<'s> {
        SchemaKey::new(self.vendor, self.name, self.model)
    }
}

/// What follows the name in a URI: `format/model-revision-addition`.
struct Tail {
    format_end: usize,
    model: u32,
    revision: u32,
    addition: u32,
}

/// The tail of a URI whose format starts at `from` and which ends with the addition.
fn tail(bytes: &[u8], from: usize) -> Option<Tail> {
    // Nearly every URI has the format `jsonschema` and single-digit versions: that shape is a few
    // comparisons, where the general reading below took some 270 instructions (a tenth of the
    // instructions of looking up entities, callgrind on uniform).
    if let Some(&[model @ b'1'..=b'9', b'-', revision @ b'0'..=b'9', b'-', addition @ b'0'..=b'9']) =
        bytes.get(from..).and_then(|rest| rest.strip_prefix(b"jsonschema/"))
    {
        let digit = |d: u8| u32::from(d - b'0');
        return Some(Tail {
            format_end: from + "jsonschema".len(),
            model: digit(model),
            revision: digit(revision),
            addition: digit(addition),
        });
    }
    let format_end = word_end(bytes, from, WORD)?;
    let (model, at) = number(bytes, format_end + 1, false)?;
    let (revision, at) = number(bytes, expect(bytes, at, b'-')?, true)?;
    let (addition, at) = number(bytes, expect(bytes, at, b'-')?, true)?;
    (at == bytes.len()).then_some(Tail { format_end, model, revision, addition })
}

/// Where the non-empty run of bytes of `class` from `from` ends, when a slash follows it.
fn word_end(bytes: &[u8], from: usize, class: u8) -> Option<usize> {
    let len = bytes.get(from..)?.iter().take_while(|&&b| CLASS[usize::from(b)] & class != 0).count();
    (len > 0 && bytes.get(from + len) == Some(&b'/')).then_some(from + len)
}

/// Whether `word` is a non-empty run of bytes of `class`.
const fn is_word(word: &str, class: u8) -> bool {
    let bytes = word.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if CLASS[bytes[i] as usize] & class == 0 {
            return false;
        }
        i += 1;
    }
    !bytes.is_empty()
}

/// Byte classes of URI parts: [`WORD`] is `[a-zA-Z0-9-_]`, [`VENDOR`] that and `.`.
const WORD: u8 = 1;
const VENDOR: u8 = 2;
const CLASS: [u8; 256] = {
    let mut class = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            class[b] = WORD | VENDOR;
        } else if c == b'.' {
            class[b] = VENDOR;
        }
        b += 1;
    }
    class
};

/// The position after `byte` when it is at `at`.
fn expect(bytes: &[u8], at: usize, byte: u8) -> Option<usize> {
    (bytes.get(at) == Some(&byte)).then_some(at + 1)
}

/// A version number at `from` without leading zeros (the model may not be zero), and where it ends.
fn number(bytes: &[u8], from: usize, zero_allowed: bool) -> Option<(u32, usize)> {
    let digits = bytes.get(from..)?.iter().take_while(|b| b.is_ascii_digit()).count();
    let text = &bytes[from..from + digits];
    let ok = match text {
        [b'0'] => zero_allowed,
        [b'1'..=b'9', ..] => true,
        _ => false,
    };
    if !ok {
        return None;
    }
    let value = text.iter().try_fold(0u32, |n, &b| n.checked_mul(10)?.checked_add(u32::from(b - b'0')))?;
    Some((value, from + digits))
}

/// The address of an entity: Iglu vendor, name and model (major version).
///
/// Addressing by these three parts sidesteps the Analytics SDKs' disagreements on how to spell JSON
/// keys (Go keeps dashes in vendors, JS and Scala turn them into underscores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaKey<'k> {
    vendor: &'k str,
    name: &'k str,
    model: u32,
    /// Whether the vendor and name are ones a URI can hold, so that a URI starting with them needs only
    /// its tail checked (worked out once, when the key is made, mostly at compile time).
    valid: bool,
}

impl<'k> SchemaKey<'k> {
    pub const fn new(vendor: &'k str, name: &'k str, model: u32) -> Self {
        SchemaKey { vendor, name, model, valid: is_word(vendor, VENDOR) && is_word(name, WORD) }
    }

    /// Whether an entity's schema URI has this vendor, name and model (any format, revision and
    /// addition). An unparsable URI matches nothing.
    #[inline]
    pub fn matches(&self, schema_uri: &str) -> bool {
        // Most entities of an event are not the one asked for, and nearly all of those are told apart
        // by where the slashes after their vendor and name are, which is checked where the key is
        // asked about: a call for each entity cost more than the check (SchemaKey::matches was 2.5%
        // of a uniform run, mostly its entry and exit).
        let uri = schema_uri.as_bytes();
        let vendor_end = "iglu:".len() + self.vendor.len();
        self.valid
            && uri.get(vendor_end) == Some(&b'/')
            && uri.get(vendor_end + 1 + self.name.len()) == Some(&b'/')
            && self.names_and_tail_match(uri)
    }

    /// The rest of [`SchemaKey::matches`], for a URI with slashes where the key's would be: whether it
    /// starts with `iglu:<vendor>/<name>/`, and then whether its tail is valid with the key's model.
    /// What is left to check is the same as in `IgluUri::parse`, since the vendor and name are valid
    /// and end where the URI's do.
    fn names_and_tail_match(&self, uri: &[u8]) -> bool {
        let (vendor, name) = (self.vendor.as_bytes(), self.name.as_bytes());
        let vendor_end = "iglu:".len() + vendor.len();
        let name_end = vendor_end + 1 + name.len();
        uri.starts_with(b"iglu:")
            && uri.get("iglu:".len()..vendor_end).is_some_and(|found| short_eq(found, vendor))
            && uri.get(vendor_end + 1..name_end).is_some_and(|found| short_eq(found, name))
            && tail(uri, name_end + 1).is_some_and(|tail| tail.model == self.model)
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
    fn agrees_with_the_sdk_regex_on_random_uris() {
        let sdk =
            regex::Regex::new(r"^iglu:[a-zA-Z0-9-_.]+/[a-zA-Z0-9-_]+/[a-zA-Z0-9-_]+/[1-9][0-9]*(-(0|[1-9][0-9]*)){2}$")
                .unwrap();
        // Mostly the bytes a URI is made of, so that many of the strings come close to valid.
        let alphabet = [
            "iglu:",
            "iglu:a.b/c/jsonschema/1-0-0",
            "iglu:a.b/c/",
            "jsonschema/",
            "1-0-0",
            "9-9-9",
            "/",
            "-",
            ".",
            "_",
            "0",
            "1",
            "9",
            "a",
            "Z",
            " ",
            "é",
        ];
        let mut state = 11u32;
        let mut valid = 0;
        for _ in 0..200_000 {
            let mut uri = String::new();
            for _ in 0..1 + (state >> 28) {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                uri.push_str(alphabet[(state >> 16) as usize % alphabet.len()]);
            }
            let parsed = IgluUri::parse(&uri);
            valid += usize::from(parsed.is_some());
            assert_eq!(parsed.is_some(), sdk.is_match(&uri), "{uri:?}");
            for key in [SchemaKey::new("a.b", "c", 1), SchemaKey::new("a.b", "c", 2), SchemaKey::new("a", "b.c", 1)] {
                assert_eq!(key.matches(&uri), parsed.is_some_and(|p| p.key() == key), "{key} {uri:?}");
            }
            if let Some(p) = parsed {
                let version = format!("{}-{}-{}", p.model, p.revision, p.addition);
                assert_eq!(format!("iglu:{}/{}/{}/{version}", p.vendor, p.name, p.format), uri);
            }
        }
        assert!(valid > 500, "only {valid} valid URIs generated");
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
