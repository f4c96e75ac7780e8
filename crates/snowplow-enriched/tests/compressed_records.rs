//! Every vector in fixtures/upstream/compressed-records/ decodes to the events (by line of
//! expected_events.tsv) and the fault this table expects; a vector without an expectation fails.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use snowplow_enriched::{Compression, RecordEvents, RecordLimits};

/// File → (compression, what decoding yields: `event <n>` for line n of expected_events.tsv, or the
/// error's text).
const EXPECTED: &[(&str, Compression, &[&str])] = &[
    ("uncompressed_1_event.bin", Compression::Plain, &["event 1"]),
    ("zstd_1_event.bin", Compression::Zstd, &["event 1"]),
    ("zstd_3_events.bin", Compression::Zstd, &["event 1", "event 2", "event 3"]),
    ("gzip_1_event.bin", Compression::Gzip, &["event 1"]),
    ("gzip_3_events.bin", Compression::Gzip, &["event 1", "event 2", "event 3"]),
    // Snowplow's reader accepts any payload version.
    ("gzip_payload_version_42.bin", Compression::Gzip, &["event 1"]),
    (
        "zstd_unsupported_format_v2.bin",
        Compression::Zstd,
        &["zstd record, event 1 at byte 2 of the decompressed payload: format version 2 is not supported (only 1 is)"],
    ),
    (
        "zstd_truncated_record.bin",
        Compression::Zstd,
        &[
            "zstd record, event 1 at byte 9 of the decompressed payload: the payload ends 3 bytes into an event of 10 bytes",
        ],
    ),
    (
        "gzip_truncated_stream.bin",
        Compression::Gzip,
        &[
            "event 1",
            "event 2",
            "gzip record, event 3 at byte 1253 of the decompressed payload: the compressed stream is corrupt or truncated (incomplete deflate stream)",
        ],
    ),
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/upstream/compressed-records")
}

#[test]
fn every_vector_decodes_as_expected() {
    let expected_events = std::fs::read_to_string(dir().join("expected_events.tsv")).unwrap();
    let lines: Vec<&str> = expected_events.lines().collect();
    let manifest: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap()).unwrap();
    let table: BTreeMap<&str, _> = EXPECTED.iter().map(|(f, c, o)| (*f, (*c, *o))).collect();
    assert_eq!(manifest.keys().map(String::as_str).collect::<Vec<_>>(), table.keys().copied().collect::<Vec<_>>());
    for (file, entry) in &manifest {
        let bytes = std::fs::read(dir().join(file)).unwrap();
        // The copy is the one the manifest describes.
        assert_eq!(bytes.len() as u64, entry["bytes"].as_u64().unwrap(), "{file}");
        let head: String = bytes.iter().take(12).map(|b| format!("{b:02x}")).collect();
        assert_eq!(head, entry["first_bytes_hex"].as_str().unwrap(), "{file}");

        let (compression, outcomes) = table[file.as_str()];
        let mut events = RecordEvents::new(&bytes, RecordLimits::default());
        assert_eq!(events.compression(), compression, "{file}");
        let mut got = Vec::new();
        while let Some(next) = events.next_event() {
            got.push(match next {
                Ok(event) => match lines.iter().position(|l| l.as_bytes() == event) {
                    Some(i) => format!("event {}", i + 1),
                    None => format!("an unexpected event of {} bytes", event.len()),
                },
                Err(e) => e.to_string(),
            });
        }
        assert_eq!(got, outcomes, "{file}");
    }
}
