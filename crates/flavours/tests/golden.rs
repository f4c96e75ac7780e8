//! Golden tests: every `fixtures/<flavour>/<case>/` holds `event.json` (the event's fields, readable),
//! `event.tsv` (the enriched line written from it), optionally `settings.toml`, and `expected.json`
//! (the pipeline's outcome). `cargo xtask fixtures` rewrites `event.tsv` and `expected.json`; review the
//! diff before committing it.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use interactions::{Outcome, Pipeline, Registry, Settings, skip};
use serde_json::{Map, Value};
use snowplow_enriched::tsv::line_from_fields;

use flavours as _;

const UPDATE: &str = "UPDATE_FIXTURES";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Every case folder, sorted: `fixtures/<group>/<case>/event.json`.
fn cases() -> Vec<PathBuf> {
    let mut cases = Vec::new();
    for group in std::fs::read_dir(fixtures_dir()).unwrap() {
        let group = group.unwrap().path();
        if !group.is_dir() {
            continue;
        }
        for case in std::fs::read_dir(&group).unwrap() {
            let case = case.unwrap().path();
            if case.join("event.json").exists() {
                cases.push(case);
            }
        }
    }
    cases.sort();
    cases
}

struct Case {
    dir: PathBuf,
    tsv: Vec<u8>,
    outcome: Outcome<'static>,
}

fn run(dir: &Path) -> Case {
    let fields: Map<String, Value> = serde_json::from_str(&std::fs::read_to_string(dir.join("event.json")).unwrap())
        .unwrap_or_else(|e| panic!("{}: event.json: {e}", dir.display()));
    let tsv = line_from_fields(&fields).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let settings = match std::fs::read_to_string(dir.join("settings.toml")) {
        Ok(text) => Settings::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
        Err(_) => Settings::default(),
    };
    let pipeline = Pipeline::new(&settings).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let outcome = pipeline.process(&tsv);
    // The ids of an interaction are read where the line holds them, not copied (see `Interaction`).
    if let Outcome::Interaction { interaction, .. } = &outcome {
        let ids = [&interaction.event_id, &interaction.session_id, &interaction.event_type];
        assert!(ids.iter().all(|id| matches!(id, Cow::Borrowed(_))), "{}: ids copied", dir.display());
    }
    let outcome = outcome.into_owned();
    Case { dir: dir.to_owned(), tsv, outcome }
}

/// Compares a generated file with the one on disk, or rewrites it when `UPDATE_FIXTURES` is set.
fn check(path: &Path, actual: &[u8], stale: &mut Vec<String>) {
    let current = std::fs::read(path).unwrap_or_default();
    if current == actual {
        return;
    }
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(path, actual).unwrap();
    } else {
        stale.push(path.display().to_string());
    }
}

#[test]
fn fixtures_match_the_pipeline() {
    let mut stale = Vec::new();
    let cases = cases();
    for dir in &cases {
        let case = run(dir);
        let mut tsv = case.tsv.clone();
        tsv.push(b'\n');
        check(&case.dir.join("event.tsv"), &tsv, &mut stale);
        let mut expected = serde_json::to_string_pretty(&case.outcome).unwrap().into_bytes();
        expected.push(b'\n');
        check(&case.dir.join("expected.json"), &expected, &mut stale);
    }
    assert!(
        stale.is_empty(),
        "{} fixture files differ from what the code produces; run `cargo xtask fixtures` and review the diff:\n{}",
        stale.len(),
        stale.join("\n")
    );
    assert!(cases.len() >= 70, "only {} fixture cases found", cases.len());
}

/// Every skip reason a flavour declares, and every shared-rule outcome, has a fixture; every mapper
/// has a case that yields an interaction.
#[test]
fn fixtures_cover_every_branch() {
    let registry = Registry::linked().unwrap();
    let mut reasons: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let mut interactions: BTreeSet<(String, String)> = BTreeSet::new();
    let mut bad = 0;
    for dir in cases() {
        let group = dir.parent().unwrap().file_name().unwrap().to_str().unwrap().to_owned();
        let fields: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("event.json")).unwrap()).unwrap();
        let event_name = fields["event_name"].as_str().unwrap_or_default().to_owned();
        match run(&dir).outcome {
            Outcome::Skipped { reason, .. } => {
                reasons.entry(group).or_default().insert(reason);
            }
            Outcome::Interaction { flavour, .. } => {
                interactions.insert((flavour.to_owned(), event_name));
            }
            Outcome::Bad { .. } => bad += 1,
            Outcome::Filtered => {}
        }
    }
    let mut missing = Vec::new();
    for flavour in registry.flavours() {
        let seen = reasons.get(flavour.name).cloned().unwrap_or_default();
        missing.extend(
            flavour.skips.iter().filter(|r| !seen.contains(*r)).map(|r| format!("{}: skip {r:?}", flavour.name)),
        );
    }
    let core = reasons.get("core").cloned().unwrap_or_default();
    for reason in [skip::NO_MAPPER, skip::FLAVOUR_DISABLED, skip::NO_ITEM_IDS, skip::NO_SESSION_ID] {
        if !core.contains(reason) && !reasons.values().any(|r| r.contains(reason)) {
            missing.push(format!("core: skip {reason:?}"));
        }
    }
    for (flavour, event_name) in registry.listing() {
        if !interactions.contains(&(flavour.to_owned(), event_name.to_owned())) {
            missing.push(format!("{flavour}: no case where {event_name} becomes an interaction"));
        }
    }
    assert!(missing.is_empty(), "fixtures missing:\n{}", missing.join("\n"));
    assert!(bad >= 10, "expected bad-row cases, found {bad}");
}
