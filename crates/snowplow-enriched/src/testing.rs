//! Helpers shared by the crate's tests.

/// Every small corruption of `text` that is still UTF-8: each truncation, and each deletion, replacement
/// and insertion at every position with bytes that matter to JSON. The fast paths' differential tests
/// hold them to serde_json's answers on all of these.
pub(crate) fn corruptions(text: &str) -> Vec<String> {
    let replacements = b"\"\\{}[],:0-+.eE \n\x01tnux9/";
    let bytes = text.as_bytes();
    let mut variants = Vec::new();
    for at in 0..=bytes.len() {
        variants.push(bytes[..at].to_vec());
        if at < bytes.len() {
            variants.push([&bytes[..at], &bytes[at + 1..]].concat());
            for &r in replacements {
                variants.push([&bytes[..at], &[r], &bytes[at + 1..]].concat());
                variants.push([&bytes[..at], &[r], &bytes[at..]].concat());
            }
        }
    }
    variants.into_iter().filter_map(|v| String::from_utf8(v).ok()).collect()
}
