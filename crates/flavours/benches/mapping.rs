//! Criterion benches of the hot path: splitting a line, the filter, and each flavour's mapper (through
//! the pipeline, so the shared rules count too). `cargo bench -p flavours`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use interactions::{Pipeline, Settings};
use snowplow_enriched::{Event, Field, peek_field};
use synthetic_events::{Corpus, Kind, Mix};

use flavours as _;

fn lines(kind: Kind, n: usize) -> Vec<Vec<u8>> {
    let mut corpus = Corpus::new(42, Mix::Uniform);
    (0..n).map(|_| snowplow_enriched::tsv::line_from_fields(&corpus.event(kind)).unwrap()).collect()
}

fn parse_and_filter(c: &mut Criterion) {
    let page_views = lines(Kind::PageView, 256);
    let bytes: usize = page_views.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("enriched");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("Event::parse", |b| {
        b.iter(|| page_views.iter().filter(|l| Event::parse(l).is_ok()).count());
    });
    group.bench_function("peek_field(event_name)", |b| {
        b.iter(|| page_views.iter().filter(|l| peek_field(l, Field::EventName).is_ok()).count());
    });
    let pipeline = Pipeline::new(&Settings::default()).unwrap();
    group.bench_function("Pipeline::process (filtered page views)", |b| {
        b.iter(|| page_views.iter().for_each(|l| drop(black_box(pipeline.process(l)))));
    });
    group.finish();
}

fn mappers(c: &mut Criterion) {
    let pipeline = Pipeline::new(&Settings::default()).unwrap();
    let mut group = c.benchmark_group("mapper");
    for (name, kind) in [
        ("classic-ecommerce transaction_item", Kind::TransactionItem),
        ("enhanced-ecommerce action", Kind::GaAction),
        ("snowplow-ecommerce snowplow_ecommerce_action", Kind::SnowplowEcommerceAction),
        ("hyper-t view_item", Kind::ViewItem),
        ("hyper-t create_order", Kind::CreateOrder),
        ("element-tracking link_click", Kind::RecommendationClick),
    ] {
        let events = lines(kind, 64);
        group.throughput(Throughput::Elements(events.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| events.iter().for_each(|l| drop(black_box(pipeline.process(l)))));
        });
    }
    group.finish();
}

criterion_group!(benches, parse_and_filter, mappers);
criterion_main!(benches);
