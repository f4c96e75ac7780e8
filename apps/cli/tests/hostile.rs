//! `serve` under a load generator on loopback: many concurrent connections sending good batches and
//! hostile requests (oversized, deeply nested, not UTF-8, wrong content types, path tricks, wrong
//! credentials, wrong methods). Every request gets its status, the server stays up with bounded
//! memory, and its output holds neither the credentials nor a user id.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

mod common;

const USER: &str = "user-5d1e-not-for-logs";
const AUTH: &str = "Basic c25vd2JyaWRnZTpwYTU1"; // snowbridge:pa55

/// One request on its own connection; the status of the answer.
fn send(address: &str, head: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // The server stops reading an oversized body once it knows; what it did not read is its business.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer to {head:?}: {text:?}"))
}

fn request(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8], declared: usize) -> u16 {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {declared}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    send(address, &head, body)
}

/// Peak resident memory of a process, in kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn serve_under_concurrent_hostile_load() {
    let (mut emulator, emulator_url) = common::start_server(&["emulator", "--listen", "127.0.0.1:0"]);
    let (mut server, base, mut server_stderr) = common::serve_shop(&emulator_url);
    let address = base.trim_start_matches("http://").to_owned();
    let limit = 1 << 20;
    let json = [("content-type", "application/json"), ("authorization", AUTH)];

    let threads: Vec<_> = (0..16)
        .map(|t| {
            let address = address.clone();
            std::thread::spawn(move || {
                let mut statuses = std::collections::BTreeMap::<(&str, u16), u32>::new();
                for i in 0..60 {
                    let id = format!("t{t}-{i}");
                    let good = format!(
                        r#"[{{"event_id":"{id}","event_type":"View","user_id":"{USER}","session_id":"s{t}","item_ids":["P{i}"],"sent_at":1714558501951}}]"#
                    );
                    let nested = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
                    let (kind, expected, status) = match i % 12 {
                        0..=2 => ("good", 200, request(&address, "POST", "/interaction/shop", &json, good.as_bytes(), good.len())),
                        // Declares 8 MB, sends a little more than the limit: answered 413 without reading the rest.
                        3 => ("oversized", 413, request(&address, "POST", "/interaction/shop", &json, &vec![b'['; limit + 4096], 8 << 20)),
                        4 => ("nested", 400, request(&address, "POST", "/interaction/shop", &json, nested.as_bytes(), nested.len())),
                        5 => ("not utf-8", 400, request(&address, "POST", "/interaction/shop", &json, b"[\"\xff\xfe\"]", 6)),
                        6 => ("form", 415, request(&address, "POST", "/interaction/shop", &[("content-type", "application/x-www-form-urlencoded"), ("authorization", AUTH)], b"a=b", 3)),
                        7 => ("path trick", 404, request(&address, "POST", "/interaction/..%2F..%2Fetc", &json, good.as_bytes(), good.len())),
                        8 => {
                            let wrong = format!("Basic {}", "A".repeat(i * 37 % 5000));
                            ("wrong credentials", 401, request(&address, "POST", "/interaction/shop", &[("authorization", wrong.as_str())], good.as_bytes(), good.len()))
                        }
                        9 => ("no credentials", 401, request(&address, "POST", "/interaction/shop", &[], good.as_bytes(), good.len())),
                        10 => ("get", 405, request(&address, "GET", "/interaction/shop", &json, b"", 0)),
                        _ => ("unknown group", 404, request(&address, "POST", "/interaction/other", &json, good.as_bytes(), good.len())),
                    };
                    assert_eq!(status, expected, "{kind} from thread {t}, request {i}");
                    *statuses.entry((kind, status)).or_default() += 1;
                }
                statuses
            })
        })
        .collect();
    let mut total = std::collections::BTreeMap::new();
    for thread in threads {
        for (key, n) in thread.join().unwrap() {
            *total.entry(key).or_insert(0) += n;
        }
    }
    eprintln!("requests by kind and status: {total:?}");
    assert_eq!(total.values().sum::<u32>(), 16 * 60);

    // Still answering, within bounded memory: 16 connections at a time, each holding at most one
    // body of at most the limit.
    let peak = peak_rss_kb(server.id());
    eprintln!("serve peak RSS: {peak} kB");
    assert!(peak < 128 * 1024, "serve peaked at {peak} kB");
    let good = r#"{"event_id":"last","event_type":"View","session_id":"s","item_ids":["P1"],"sent_at":1}"#;
    assert_eq!(request(&address, "POST", "/interaction/shop", &json, good.as_bytes(), good.len()), 200);

    server.kill().unwrap();
    server.wait().unwrap();
    emulator.kill().unwrap();
    emulator.wait().unwrap();
    let mut log = String::new();
    server_stderr.read_to_string(&mut log).unwrap();
    let mut stdout = String::new();
    server.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    for secret in ["pa55", USER, "c25vd2JyaWRnZTpwYTU1"] {
        assert!(!log.contains(secret) && !stdout.contains(secret), "{secret:?} in serve's output");
    }
}

/// Idle and slow clients cannot hold `serve`: with 4 connections allowed, 6 clients that connect and
/// send nothing (or half their headers) are disconnected after the read timeout and a real request
/// behind them is answered; a body that stops short is answered 408.
#[test]
fn idle_and_slow_clients_cannot_hold_serve() {
    let (mut emulator, emulator_url) = common::start_server(&["emulator", "--listen", "127.0.0.1:0"]);
    let settings = common::temp("slow-clients.toml");
    std::fs::write(&settings, "[personalize]\ntracking_ids = { shop = \"t-shop\" }\n").unwrap();
    let extra = ["--settings", settings.to_str().unwrap(), "--max-connections", "4", "--read-timeout-ms", "300"];
    let (mut server, base, _) = common::serve_with(&emulator_url, &extra);
    let address = base.trim_start_matches("http://").to_owned();

    let mut idle: Vec<TcpStream> = (0..6).map(|_| TcpStream::connect(&address).unwrap()).collect();
    for stream in &mut idle[4..] {
        stream.write_all(b"POST /interaction/shop HTTP/1.1\r\nhost: x\r\n").unwrap();
    }
    let good = r#"{"event_id":"patient","event_type":"View","session_id":"s","item_ids":["P1"],"sent_at":1}"#;
    let json = [("content-type", "application/json"), ("authorization", AUTH)];
    // Waits behind the idle clients, and is answered once they are disconnected.
    assert_eq!(request(&address, "POST", "/interaction/shop", &json, good.as_bytes(), good.len()), 200);
    for stream in &mut idle {
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = Vec::new();
        // Closed by the server: end of stream (or a reset), never a read that times out.
        if let Err(e) = stream.read_to_end(&mut rest) {
            assert!(!matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{e}");
        }
    }
    // Headers on time, then a body that stops after 10 of its 100 bytes.
    let head = format!(
        "POST /interaction/shop HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\nauthorization: {AUTH}\r\ncontent-length: 100\r\n\r\n"
    );
    let mut stream = TcpStream::connect(&address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(b"[{\"event_i").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");

    server.kill().unwrap();
    server.wait().unwrap();
    emulator.kill().unwrap();
    emulator.wait().unwrap();
}
