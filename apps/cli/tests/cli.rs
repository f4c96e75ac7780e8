//! The `snowplow-personalize` binary end to end: what a data engineer sees on stdout, stderr and in
//! the bad-rows file.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use synthetic_events::{Corpus, DEMO_EVENTS, DEMO_SEED, Mix};

mod common;
use common::{accepted_lines, bin, demo, root, start_server, stdout_lines, temp};

#[test]
fn demo_fixture_is_current() {
    let mut expected = Vec::new();
    for line in Corpus::new(DEMO_SEED, Mix::Realistic).take(DEMO_EVENTS) {
        expected.extend_from_slice(&line);
        expected.push(b'\n');
    }
    assert!(
        std::fs::read(demo()).unwrap() == expected,
        "fixtures/demo/events.tsv is stale: run `cargo xtask fixtures`"
    );
}

#[test]
fn run_prints_interactions_with_exactly_the_seed_keys() {
    let output = bin(&["run", demo().to_str().unwrap()], b"");
    assert!(output.status.success());
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 50);
    for line in &lines {
        let keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        let required = ["event_id", "event_type", "session_id", "item_ids", "sent_at"];
        assert!(required.iter().all(|k| keys.contains(k)), "{line}");
        assert!(keys.iter().all(|k| required.contains(k) || *k == "user_id" || *k == "impression_id"), "{line}");
        assert!(line["sent_at"].is_i64());
        if line.get("impression_id").is_some() {
            assert_eq!(line["event_type"], "Click", "{line}");
        }
    }
    assert!(lines.iter().any(|l| l.get("impression_id").is_some()));
    let summary = String::from_utf8(output.stderr).unwrap();
    assert!(
        summary.starts_with("events read: 300, filtered: 227, interactions: 50, skipped: 23, bad rows: 0\n"),
        "{summary}"
    );
    assert!(summary.contains("interactions  hyper-t: View"), "{summary}");
    assert!(summary.contains("skipped       element-tracking: no element entity"), "{summary}");
}

#[test]
fn stdin_and_compressed_files_give_the_same_output() {
    let plain = std::fs::read(demo()).unwrap();
    let from_file = bin(&["run", demo().to_str().unwrap()], b"").stdout;
    assert_eq!(bin(&["run"], &plain).stdout, from_file);
    assert_eq!(bin(&["run", "-"], &plain).stdout, from_file);

    let gz = temp("events.tsv.gz");
    let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    encoder.write_all(&plain).unwrap();
    encoder.finish().unwrap();
    assert_eq!(bin(&["run", gz.to_str().unwrap()], b"").stdout, from_file);

    let zst = temp("events.tsv.zst");
    std::fs::write(&zst, zstd::encode_all(plain.as_slice(), 3).unwrap()).unwrap();
    assert_eq!(bin(&["run", zst.to_str().unwrap()], b"").stdout, from_file);

    // Several files are read in order.
    let twice = bin(&["run", demo().to_str().unwrap(), zst.to_str().unwrap()], b"").stdout;
    assert_eq!(twice, [from_file.clone(), from_file].concat());
}

#[test]
fn bad_rows_name_file_and_line_and_the_rest_flows_on() {
    let good: Vec<Vec<u8>> =
        std::fs::read(demo()).unwrap().split(|&b| b == b'\n').take(40).map(<[u8]>::to_vec).collect();
    let mut input = Vec::new();
    for (i, line) in good.iter().enumerate() {
        input.extend_from_slice(line);
        input.push(b'\n');
        if i == 10 {
            input.extend_from_slice(b"not an event\n");
        }
        if i == 20 {
            input.extend_from_slice(&vec![b'x'; 5000]);
            input.push(b'\n');
        }
    }
    let path = temp("mixed.tsv");
    std::fs::write(&path, &input).unwrap();
    let bad_rows = temp("bad-rows.jsonl");
    let output = bin(
        &["run", path.to_str().unwrap(), "--bad-rows", bad_rows.to_str().unwrap(), "--max-line-bytes", "4096"],
        b"",
    );
    assert!(output.status.success());
    let clean = bin(&["run"], &good.iter().flat_map(|l| [l.as_slice(), b"\n"].concat()).collect::<Vec<u8>>());
    assert_eq!(output.stdout, clean.stdout, "bad lines must not change what good lines give");
    let rows: Vec<Value> =
        std::fs::read_to_string(&bad_rows).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["line"], 12);
    assert_eq!(rows[0]["file"], path.to_str().unwrap());
    assert_eq!(rows[0]["error"], "expected 131 tab-separated fields, found 1");
    assert_eq!(rows[1]["line"], 23);
    assert_eq!(rows[1]["error"], "line is 5000 bytes long, over the limit of 4096 (--max-line-bytes)");
    let summary = String::from_utf8(output.stderr).unwrap();
    assert!(summary.contains("bad rows: 2"), "{summary}");
}

#[test]
fn outcomes_explain_every_line() {
    let lines = stdout_lines(&bin(&["run", "--outcomes", demo().to_str().unwrap()], b""));
    assert_eq!(lines.len(), 300);
    assert!(lines.iter().enumerate().all(|(i, l)| l["line"] == i as u64 + 1));
    let count = |status: &str| lines.iter().filter(|l| l["status"] == status).count();
    assert_eq!((count("interaction"), count("skipped"), count("filtered"), count("bad")), (50, 23, 227, 0));
}

#[test]
fn settings_file_changes_the_mapping() {
    let settings = temp("settings.toml");
    std::fs::write(&settings, "[event_types]\nview = \"view\"\n\n[flavours.hyper-t]\nenabled = false\n").unwrap();
    let output = bin(&["run", "--settings", settings.to_str().unwrap(), demo().to_str().unwrap()], b"");
    assert!(output.status.success());
    let lines = stdout_lines(&output);
    assert!(lines.iter().all(|l| l["event_type"] != "View"));
    assert!(lines.iter().any(|l| l["event_type"] == "view"));
    assert!(String::from_utf8(output.stderr).unwrap().contains("skipped       hyper-t: flavour disabled in settings"));

    std::fs::write(&settings, "[flavours.hyper_t]\nenabled = false\n").unwrap();
    let output = bin(&["run", "--settings", settings.to_str().unwrap(), demo().to_str().unwrap()], b"");
    assert!(!output.status.success());
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(error.contains("\"hyper_t\", which is not registered"), "{error}");
}

#[test]
fn mappers_lists_the_registry() {
    let output = bin(&["mappers"], b"");
    let text = String::from_utf8(output.stdout).unwrap();
    let listed: Vec<(&str, &str)> = text
        .lines()
        .map(|l| {
            let columns: Vec<&str> = l.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
            (columns[0], columns[1])
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("classic-ecommerce", "transaction_item"),
            ("element-tracking", "link_click"),
            ("enhanced-ecommerce", "action"),
            ("hyper-t", "create_order, view_item"),
            ("snowplow-ecommerce", "snowplow_ecommerce_action"),
        ]
    );
}

#[test]
fn inspect_renders_analytics_sdk_json() {
    let vector = root().join("fixtures/upstream/synthetic/ecommerce_and_web.tsv");
    let output = bin(&["inspect", vector.to_str().unwrap()], b"");
    assert!(output.status.success());
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[1]["event_name"], "transaction_item");
    assert_eq!(lines[1]["ti_sku"], "1002");
    let geo = stdout_lines(&bin(&["inspect", "--geo", vector.to_str().unwrap()], b""));
    assert_eq!(geo[0]["geo_location"], "51.5142,-0.0931");
}

/// A stream that breaks off (here a truncated gzip file) fails the run naming the file, after the
/// events before the fault, whatever the number of threads.
#[test]
fn a_broken_stream_fails_after_the_events_before_its_fault() {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(&std::fs::read(demo()).unwrap()).unwrap();
    let gzip = gzip.finish().unwrap();
    let path = temp("broken.tsv.gz");
    std::fs::write(&path, &gzip[..gzip.len() / 2]).unwrap();
    let run = |threads: &str| bin(&["run", "--threads", threads, path.to_str().unwrap()], b"");
    let one = run("1");
    assert!(!one.status.success());
    let error = String::from_utf8(one.stderr.clone()).unwrap();
    assert!(error.contains(&format!("cannot read {}", path.display())), "{error}");
    assert!(!stdout_lines(&one).is_empty());
    for threads in ["2", "3"] {
        let many = run(threads);
        assert!(!many.status.success());
        assert_eq!(String::from_utf8(many.stderr).unwrap(), error, "{threads} threads");
        assert!(many.stdout == one.stdout, "stdout differs with {threads} threads");
    }
}

#[test]
fn missing_file_is_an_error_and_a_closed_pipe_is_not() {
    let output = bin(&["run", "/nonexistent/events.tsv"], b"");
    assert!(!output.status.success());
    assert!(String::from_utf8(output.stderr).unwrap().contains("cannot open /nonexistent/events.tsv"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_snowplow-personalize"))
        .args(["run", "--outcomes", demo().to_str().unwrap(), demo().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn put_events_prints_the_requests_it_would_send() {
    let output = bin(&["run", "--to", "put-events", "--tracking-id", "t-1", demo().to_str().unwrap()], b"");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let requests = stdout_lines(&output);
    let events: usize = requests.iter().map(|r| r["eventList"].as_array().unwrap().len()).sum();
    assert_eq!(events, 74);
    assert!(
        requests
            .iter()
            .all(|r| r["trackingId"] == "t-1" && (1..=10).contains(&r["eventList"].as_array().unwrap().len()))
    );
    let summary = String::from_utf8(output.stderr).unwrap();
    assert!(summary.contains("delivery: interactions in: 50, events sent: 0, calls: 0"), "{summary}");

    // Without a tracking id there is nothing to address the requests to.
    let output = bin(&["run", "--to", "put-events", demo().to_str().unwrap()], b"");
    assert!(!output.status.success());
    assert!(String::from_utf8(output.stderr).unwrap().contains("--tracking-id"));
}

#[test]
fn demo_sends_through_the_sdk_to_the_emulator() {
    let output = bin(&["demo"], b"");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let accepted = stdout_lines(&output);
    assert_eq!(accepted.len(), 74);
    assert!(accepted.iter().all(|a| a["trackingId"] == "demo-tracking-id" && a["event"]["eventId"].is_string()));
    let summary = String::from_utf8(output.stderr).unwrap();
    assert!(summary.contains("74 events accepted, 0 duplicates"), "{summary}");
}

#[test]
fn run_sends_to_a_standalone_emulator() {
    let (mut emulator, url) =
        start_server(&["emulator", "--listen", "127.0.0.1:0", "--throttle-rate", "0.2", "--error-rate", "0.05"]);
    let dead = temp("dead.jsonl");
    let output = common::command()
        .args([
            "run",
            "--to",
            "personalize",
            "--tracking-id",
            "t-2",
            "--endpoint-url",
            &url,
            "--dead-letters",
            dead.to_str().unwrap(),
        ])
        .arg(demo())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = String::from_utf8(output.stderr).unwrap();
    // Checked before reading what the emulator accepted, which would wait for events never sent.
    assert!(summary.contains("events sent: 74"), "{summary}");
    let accepted = accepted_lines(&mut emulator, 74);
    emulator.kill().unwrap();
    emulator.wait().unwrap();
    assert!(summary.contains("dead-lettered events: 0") && !dead.exists(), "{summary}");
    assert_eq!(accepted.len(), 74);
    let ids: std::collections::BTreeSet<&str> =
        accepted.iter().map(|a| a["event"]["eventId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 74, "no event accepted twice");
}

fn http_post(base: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    use std::io::Read;
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let auth = auth.map(|a| format!("authorization: Basic {}\r\n", base64_encode(a.as_bytes()))).unwrap_or_default();
    write!(stream, "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, response.split_once("\r\n\r\n").unwrap().1.to_owned())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn serve_is_the_lambda_endpoint_on_a_local_port() {
    let (mut emulator, emulator_url) = start_server(&["emulator", "--listen", "127.0.0.1:0"]);
    let (mut server, base, _) = common::serve_with(&emulator_url, &[]);
    let interactions = r#"[{"event_id":"e1","event_type":"View","session_id":"s1","item_ids":["P1","P2"],"sent_at":1714558501951},{"nope":1}]"#;
    // The tracking ids come from the environment the server was started with; none is set here, so
    // first an unknown group…
    assert_eq!(http_post(&base, "/interaction/shop", Some("snowbridge:pa55"), interactions).0, 404);
    assert_eq!(http_post(&base, "/interaction/shop", None, interactions).0, 401);
    assert_eq!(http_post(&base, "/interaction/shop", Some("snowbridge:nope"), interactions).0, 401);
    server.kill().unwrap();
    server.wait().unwrap();

    // …then with the group configured.
    let (mut server, base, _) = common::serve_shop(&emulator_url);
    let (status, body) = http_post(&base, "/interaction/shop", Some("snowbridge:pa55"), interactions);
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((report["accepted"].as_u64(), report["events"].as_u64()), (Some(1), Some(2)));
    assert_eq!(report["rejected"][0]["index"], 1);
    server.kill().unwrap();
    server.wait().unwrap();
    // The emulator prints what it accepted as it goes; read that before stopping it.
    let ids: Vec<String> =
        accepted_lines(&mut emulator, 2).iter().map(|l| l["event"]["eventId"].as_str().unwrap().to_owned()).collect();
    emulator.kill().unwrap();
    emulator.wait().unwrap();
    assert_eq!(ids, ["e1:0", "e1:1"]);
}

#[test]
fn threads_change_nothing_but_speed() {
    let mut input = Vec::new();
    for (i, line) in Corpus::new(5, Mix::Uniform).take(3000).enumerate() {
        input.extend_from_slice(&line);
        input.push(b'\n');
        if i % 500 == 7 {
            input.extend_from_slice(&vec![b'x'; 3000]);
            input.push(b'\n');
        }
    }
    let path = temp("threads.tsv");
    std::fs::write(&path, &input).unwrap();
    let file = path.to_str().unwrap();
    // Files are cut into segments that the threads read; stdin into chunks that they take turns
    // reading. Stdin is the file itself, not a pipe this test would have to keep writing to while the
    // run writes its output.
    let run = |threads: &str, extra: &[&str], stdin: bool| {
        let rows = temp(&format!("rows-{threads}-{}-{stdin}.jsonl", extra.len()));
        let mut args =
            vec!["run", "--threads", threads, "--max-line-bytes", "2900", "--bad-rows", rows.to_str().unwrap()];
        args.extend_from_slice(extra);
        let output = if stdin {
            args.push("-");
            let input = std::fs::File::open(&path).unwrap();
            Command::new(env!("CARGO_BIN_EXE_snowplow-personalize")).args(&args).stdin(input).output().unwrap()
        } else {
            args.extend([file, file]);
            bin(&args, b"")
        };
        assert!(output.status.success());
        // The summary's last line names the bad-rows file, which differs by design.
        let summary = String::from_utf8(output.stderr).unwrap();
        let summary: Vec<String> =
            summary.lines().filter(|l| !l.starts_with("bad rows written")).map(str::to_owned).collect();
        (output.stdout, std::fs::read(&rows).unwrap(), summary)
    };
    for extra in [&[][..], &["--outcomes"], &["--to", "put-events", "--tracking-id", "t"]] {
        for stdin in [false, true] {
            let one = run("1", extra, stdin);
            for threads in ["2", "3"] {
                let many = run(threads, extra, stdin);
                assert!(one.0 == many.0, "stdout differs with {threads} threads {extra:?}, stdin {stdin}");
                assert!(one.1 == many.1, "bad rows differ with {threads} threads {extra:?}, stdin {stdin}");
                assert_eq!(one.2, many.2, "summaries differ with {threads} threads {extra:?}, stdin {stdin}");
            }
            assert!(!one.1.is_empty());
        }
    }
}

/// `--record-lines`: base64 stream records, plain, zstd and gzip mixed (as after Enrich switches
/// compression on), give what the same events give as TSV; a broken record keeps the events before
/// its fault, and its bad row names the line and the event.
#[test]
fn record_lines_mix_plain_and_compressed_records() {
    use snowplow_enriched::{Compression, encode_record};
    let events: Vec<Vec<u8>> =
        std::fs::read(demo()).unwrap().split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect();
    let mut lines = Vec::new();
    let mut rest = events.as_slice();
    let mut turn = 0;
    while !rest.is_empty() {
        let (compression, n) = [(Compression::Zstd, 7), (Compression::Plain, 1), (Compression::Gzip, 12)][turn % 3];
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        let compression = if chunk.len() == 1 { Compression::Plain } else { compression };
        lines.push(base64_encode(&encode_record(compression, chunk).unwrap()));
        rest = tail;
        turn += 1;
    }
    let records = lines.len();
    lines.push("this is not base64!".to_owned());
    let cut = std::fs::read(root().join("fixtures/upstream/compressed-records/gzip_truncated_stream.bin")).unwrap();
    lines.push(base64_encode(&cut));
    let path = temp("records.b64");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let plain = bin(&["run", "--outcomes", demo().to_str().unwrap()], b"");
    let bad_rows = temp("record-bad-rows.jsonl");
    for threads in ["1", "2", "3"] {
        let args = ["run", "--record-lines", "--threads", threads, "--bad-rows", bad_rows.to_str().unwrap()];
        let output = bin(&[&args[..], &[path.to_str().unwrap()]].concat(), b"");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let clean = bin(&["run", "--threads", threads, demo().to_str().unwrap()], b"");
        assert!(output.stdout == clean.stdout, "records and TSV lines give different interactions ({threads} threads)");
        let rows: Vec<Value> =
            std::fs::read_to_string(&bad_rows).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!((rows[0]["line"].as_u64(), rows[0]["event"].as_u64()), (Some(records as u64 + 1), None));
        assert!(rows[0]["error"].as_str().unwrap().starts_with("the line is not a base64 stream record"));
        assert_eq!((rows[1]["line"].as_u64(), rows[1]["event"].as_u64()), (Some(records as u64 + 2), Some(3)));
        assert!(rows[1]["error"].as_str().unwrap().starts_with("gzip record, event 3 at byte 1253"), "{}", rows[1]);
    }
    // Every event is accounted for: the demo's 300, the two before the cut, and the two bad rows.
    let output = bin(&["run", "--record-lines", "--outcomes", path.to_str().unwrap()], b"");
    let outcomes = stdout_lines(&output);
    assert_eq!(outcomes.len(), DEMO_EVENTS + 2);
    // Each outcome names its line and its place in the record, whatever the threads, from a file or
    // from stdin.
    let records = std::fs::read(&path).unwrap();
    for (threads, input) in [("2", path.to_str().unwrap()), ("3", path.to_str().unwrap()), ("2", "-")] {
        let stdin = if input == "-" { &records[..] } else { b"" };
        let many = bin(&["run", "--record-lines", "--outcomes", "--threads", threads, input], stdin);
        assert!(many.stdout == output.stdout, "outcomes differ with {threads} threads reading {input}");
    }
    assert_eq!(stdout_lines(&plain).len(), DEMO_EVENTS);
    let summary = String::from_utf8(output.stderr).unwrap();
    assert!(summary.contains("bad rows: 2"), "{summary}");
}
