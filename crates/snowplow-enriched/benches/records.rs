//! Decoding compressed stream records: throughput in bytes of decompressed payload, for records of
//! 500 realistic events (Enrich's records carry hundreds), zstd and gzip.

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use snowplow_enriched::{Compression, RecordEvents, RecordLimits, encode_record};
use synthetic_events::{Corpus, Mix};

fn decode(c: &mut Criterion) {
    let events: Vec<Vec<u8>> = Corpus::new(7, Mix::Realistic).take(500).collect();
    // Payload bytes: header, then a 4-byte length before each event.
    let decompressed: usize = 2 + events.iter().map(|e| 4 + e.len()).sum::<usize>();
    let mut group = c.benchmark_group("record_decode");
    group.throughput(Throughput::Bytes(decompressed as u64));
    for compression in [Compression::Zstd, Compression::Gzip] {
        let record = encode_record(compression, &events).unwrap();
        group.bench_function(format!("{compression}_500_events"), |b| {
            b.iter(|| {
                let mut events = RecordEvents::new(&record, RecordLimits::default());
                let mut bytes = 0;
                while let Some(event) = events.next_event() {
                    bytes += event.unwrap().len();
                }
                bytes
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
