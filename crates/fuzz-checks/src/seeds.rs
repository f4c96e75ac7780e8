//! Seed inputs for each fuzz target, made from `fixtures/`: the golden cases' events, the demo and
//! upstream lines, the golden interactions as request bodies, and the compressed-record vectors.

use std::fs;
use std::path::Path;

/// The seeds of `target`, from the fixtures under `fixtures` (the repository's `fixtures/`).
pub fn seeds(target: &str, fixtures: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    Ok(match target {
        "enriched_line" | "dispatcher" => lines(fixtures)?,
        "http_body" | "put_events" => bodies(fixtures)?,
        "record_decoder" => records(fixtures)?,
        _ => Vec::new(),
    })
}

/// Directories directly under `dir`, sorted, so that seeds come in the same order everywhere.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    Ok(entries)
}

fn golden_case_files(fixtures: &Path, name: &str) -> std::io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for flavour in sorted_entries(fixtures)? {
        if !flavour.is_dir() {
            continue;
        }
        for case in sorted_entries(&flavour)? {
            let file = case.join(name);
            if file.is_file() {
                out.push(fs::read(file)?);
            }
        }
    }
    Ok(out)
}

fn lines(fixtures: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = golden_case_files(fixtures, "event.tsv")?
        .into_iter()
        .map(|mut line| {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            line
        })
        .collect();
    let demo = fs::read(fixtures.join("demo/events.tsv"))?;
    out.extend(demo.split(|&b| b == b'\n').filter(|l| !l.is_empty()).take(60).map(<[u8]>::to_vec));
    for dir in sorted_entries(&fixtures.join("upstream"))? {
        if !dir.is_dir() {
            continue;
        }
        for file in sorted_entries(&dir)? {
            if file.extension().is_some_and(|e| e == "tsv") {
                out.extend(fs::read(&file)?.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
            }
        }
    }
    Ok(out)
}

fn bodies(fixtures: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut interactions = Vec::new();
    for expected in golden_case_files(fixtures, "expected.json")? {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&expected)
            && let Some(interaction) = value.get("interaction")
        {
            interactions.push(interaction.clone());
        }
    }
    let mut out: Vec<Vec<u8>> = interactions.iter().map(|i| i.to_string().into_bytes()).collect();
    out.push(serde_json::Value::Array(interactions).to_string().into_bytes());
    Ok(out)
}

fn records(fixtures: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for file in sorted_entries(&fixtures.join("upstream/compressed-records"))? {
        if file.extension().is_some_and(|e| e == "bin") {
            out.push([&[0u8][..], &fs::read(file)?].concat());
        }
    }
    // Payloads for the fuzzer to compress itself: header, then length-prefixed events.
    let events = lines(fixtures)?;
    let mut payload = vec![1u8, 1];
    for event in events.iter().take(3) {
        payload.extend_from_slice(&(event.len() as u32).to_be_bytes());
        payload.extend_from_slice(event);
    }
    for mode in [1u8, 2] {
        out.push([&[mode][..], &payload].concat());
        out.push(vec![mode, 1, 1, 0, 0, 0, 2, b'o', b'k']);
    }
    Ok(out)
}
