//! What each fuzz target checks, one function per target, each taking the fuzzer's bytes and
//! panicking when a property does not hold. `crates/fuzz` hands them to libFuzzer; the tests here run
//! them over every seed (`seeds`) and every input a fuzzer ever found (`fixtures/fuzz/<target>/`).
//!
//! A check must never panic for a reason other than a broken property: every `expect` below is on
//! something that cannot fail (in-memory writes, the default settings).

use std::borrow::Cow;
use std::io::Write;
use std::sync::LazyLock;

use arbitrary::{Result as Arbitrary, Unstructured};
use interactions::{Interaction, Outcome, Pipeline, Settings};
use personalize_events::{Batcher, MAX_EVENTS_PER_CALL, PutEventsRequest, Translation, translate, validate_request};
use snowplow_enriched::{
    Event, Field, FieldKind, Line, RecordEvents, RecordFault, RecordLimits, SchemaKey, TabPositions, peek_field,
};

// Links every flavour crate, and with them their mapper registrations.
use flavours as _;

pub mod seeds;

/// A check: panics when a property does not hold for the input.
pub type Check = fn(&[u8]);

/// Every fuzz target: its name (the binary in crates/fuzz) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("enriched_line", enriched_line),
    ("dispatcher", dispatcher),
    ("http_body", http_body),
    ("put_events", put_events),
    ("record_decoder", record_decoder),
];

/// Any bytes as an enriched line: parsing, every typed accessor, entity access and the SDK JSON
/// rendering either succeed or return an error, `peek_field` agrees with `parse`, a line found in
/// the bytes has the tabs it holds, and its fields found from the tab positions written as it was
/// found are those `parse` finds, and the fast entity scanner agrees with serde_json on each entity
/// field, and the quick data parser on each entity's data.
pub fn enriched_line(line: &[u8]) {
    if let Some(first) = Line::first(line) {
        assert_eq!(first.tabs(), first.bytes().iter().filter(|&&b| b == b'\t').count());
        assert!(!first.bytes().contains(&b'\n') && line.get(first.len()) == Some(&b'\n'));
        let positions = TabPositions::default();
        let found = Line::first_in(line, &positions).expect("a line where `first` found one");
        assert_eq!((found.bytes(), found.tabs()), (first.bytes(), first.tabs()));
        snowplow_enriched::assert_split_paths_agree(found);
    }
    let parsed = Event::parse(line);
    if let Ok(event) = &parsed {
        for field in [Field::EventName, Field::AppId, Field::DomainSessionid, Field::Contexts] {
            if let Ok(peeked) = peek_field(line, field) {
                assert_eq!(event.raw(field), peeked, "{field:?}");
            }
        }
    }
    let Ok(event) = parsed else { return };
    for field in [Field::Contexts, Field::DerivedContexts, Field::UnstructEvent] {
        if let Ok(Some(text)) = event.str(field) {
            snowplow_enriched::assert_envelope_paths_agree(text);
        }
    }
    for field in Field::ALL {
        let _ = event.str(field);
        match field.kind() {
            FieldKind::Timestamp => drop(event.timestamp(field)),
            FieldKind::Int => drop(event.int(field)),
            FieldKind::Double => drop(event.double(field)),
            FieldKind::Bool => drop(event.bool(field)),
            FieldKind::Str | FieldKind::Contexts | FieldKind::Unstruct => {}
        }
    }
    if let Ok(contexts) = event.contexts() {
        for entity in contexts {
            snowplow_enriched::assert_loose_paths_agree(entity.raw_data());
            let _ = (entity.uri(), entity.data().get("id").and_then(|v| v.scalar_text()));
        }
    }
    let _ = event.derived_contexts();
    if let Ok(Some(entity)) = event.unstruct_event() {
        let data = entity.data();
        let _ = (data.as_array().map(<[_]>::len), data.is_truthy());
    }
    let _ = event.context(&SchemaKey::new("com.snowplowanalytics.snowplow", "web_page", 1));
    let _ = event.unstruct(&SchemaKey::new("io.snowplow.ecomm", "view_item", 1));
    if let Ok(json) = event.to_json() {
        let text = serde_json::to_string(&json).expect("a JSON map serialises");
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "the SDK rendering reads back");
    }
    let _ = event.to_json_with_geo();
}

static PIPELINE: LazyLock<Pipeline> =
    LazyLock::new(|| Pipeline::new(&Settings::default()).expect("the default settings are valid"));

/// Any bytes through the dispatcher with every flavour: an outcome, never a panic; an interaction has
/// an id, a session and items, and its events pass Personalize's limits once batched.
pub fn dispatcher(line: &[u8]) {
    let outcome = PIPELINE.process(line);
    assert!(serde_json::to_string(&outcome).is_ok());
    if let Outcome::Interaction { interaction, .. } = outcome {
        assert!(!interaction.event_id.is_empty());
        assert!(!interaction.session_id.is_empty());
        assert!(!interaction.item_ids.is_empty());
        if let Ok(translation) = translate(&interaction) {
            check_batches(Batcher::new(usize::MAX), [translation]);
        }
    }
}

/// Any bytes as the body of `POST /interaction/{group}`: items or a reason, never a panic (deep nesting
/// included); what it accepts translates into requests within the limits, or is refused with a reason.
pub fn http_body(body: &[u8]) {
    let Ok(items) = Interaction::parse_body(body) else { return };
    check_batches(Batcher::new(usize::MAX), items.into_iter().flatten().filter_map(|i| translate(&i).ok()));
}

/// Interactions built field by field from the bytes (any text, any length, up to 30 items), translated
/// and batched together with a small group limit: refused with a reason, or within every limit.
pub fn put_events(data: &[u8]) {
    fn text(u: &mut Unstructured<'_>) -> Arbitrary<Cow<'static, str>> {
        // Mostly short strings from a small alphabet, so that sessions and users repeat and group;
        // now and then anything at all.
        let text: String = if u.ratio(1, 8)? {
            u.arbitrary()?
        } else {
            let len = u.int_in_range(0..=3)?;
            (0..len).map(|_| Ok(char::from(b'a' + u.int_in_range(0..=2)?))).collect::<Arbitrary<_>>()?
        };
        Ok(text.into())
    }
    fn interaction(u: &mut Unstructured<'_>) -> Arbitrary<Interaction<'static>> {
        let items = u.int_in_range(0..=30)?;
        Ok(Interaction {
            event_id: text(u)?,
            event_type: if u.ratio(1, 4)? { text(u)? } else { "View".into() },
            user_id: if u.arbitrary()? { Some(text(u)?) } else { None },
            session_id: text(u)?,
            item_ids: (0..items).map(|_| text(u)).collect::<Arbitrary<_>>()?,
            sent_at: u.arbitrary()?,
            impression_id: if u.arbitrary()? { Some(text(u)?) } else { None },
        })
    }
    let mut u = Unstructured::new(data);
    let open_groups = usize::from(u.int_in_range(1u8..=50).unwrap_or(1));
    let mut translations = Vec::new();
    while !u.is_empty() {
        let Ok(interaction) = interaction(&mut u) else { break };
        translations.extend(translate(&interaction).ok());
    }
    check_batches(Batcher::new(open_groups), translations);
}

/// Batches translations; no event is lost or invented, and every request passes every limit.
fn check_batches(mut batcher: Batcher, translations: impl IntoIterator<Item = Translation>) {
    let mut events = 0;
    let mut requests: Vec<PutEventsRequest> = Vec::new();
    for translation in translations {
        events += translation.events.len();
        requests.extend(batcher.push("tracking-id", translation));
    }
    requests.extend(batcher.flush());
    assert_eq!(requests.iter().map(|r| r.event_list.len()).sum::<usize>(), events, "events lost or invented");
    for request in &requests {
        assert!((1..=MAX_EVENTS_PER_CALL).contains(&request.event_list.len()));
        assert_eq!(validate_request(request), [], "{request:?}");
    }
}

const LIMITS: RecordLimits = RecordLimits { max_event_bytes: 4096, max_record_bytes: 64 * 1024 };

/// Stream records. The first byte chooses: decode the rest as a record as it is (any bytes after any
/// magic number), or compress the rest with zstd or gzip first, so that the fuzzer explores the payload
/// format behind the decompressor. For payloads compressed here, the decoder must agree with a plain
/// reading of the format: the same events, then a fault at the same event, and never a stream fault.
pub fn record_decoder(data: &[u8]) {
    let Some((&mode, payload)) = data.split_first() else { return };
    let record = match mode % 3 {
        0 => {
            decode(payload);
            return;
        }
        1 => {
            let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("zstd starts");
            encoder.write_all(payload).expect("in memory");
            encoder.finish().expect("in memory")
        }
        _ => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(payload).expect("in memory");
            encoder.finish().expect("in memory")
        }
    };
    let (events, fault) = decode(&record);
    let (expected, expected_fault) = read_payload(payload);
    assert_eq!(events, expected);
    assert_eq!(fault.as_ref().map(|(event, _)| *event), expected_fault, "{fault:?}");
    assert!(!matches!(fault, Some((_, RecordFault::Stream(_)))), "a stream compressed here is never corrupt");
}

fn decode(record: &[u8]) -> (Vec<Vec<u8>>, Option<(u64, RecordFault)>) {
    let mut decoder = RecordEvents::new(record, LIMITS);
    let mut events = Vec::new();
    while let Some(next) = decoder.next_event() {
        match next {
            Ok(event) => events.push(event.to_vec()),
            Err(e) => {
                assert!(decoder.next_event().is_none(), "a fault ends the record");
                return (events, Some((e.event, e.fault)));
            }
        }
    }
    (events, None)
}

/// The payload format read directly from a slice: its events, and the position of the event where it
/// went wrong.
fn read_payload(payload: &[u8]) -> (Vec<Vec<u8>>, Option<u64>) {
    let mut events = Vec::new();
    if payload.len() < 2 || payload[0] != 1 {
        return (events, Some(1));
    }
    let mut rest = &payload[2..];
    let mut total = 2u64;
    while !rest.is_empty() {
        let fault = Some(events.len() as u64 + 1);
        let Some((prefix, body)) = rest.split_first_chunk::<4>() else { return (events, fault) };
        let length = u32::from_be_bytes(*prefix) as usize;
        total += 4 + length as u64;
        if length > LIMITS.max_event_bytes || total > LIMITS.max_record_bytes || body.len() < length {
            return (events, fault);
        }
        events.push(body[..length].to_vec());
        rest = &body[length..];
    }
    (events, None)
}
