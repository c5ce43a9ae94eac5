//! Parsing throughput on a generated traffic mix (20% INVITE+SDP, 20%
//! 200 OK+SDP, 40% REGISTER with Digest, 20% scanner OPTIONS; about 560
//! bytes a message): the full parse with typed accessors, the lenient
//! summary, and `rsip` 0.4 on the same input.

use criterion::{black_box, criterion_main, Criterion, Throughput};
mod mix;
use mix::{corpus, full, rsip_parse, rsip_typed, summary};

fn bench(c: &mut Criterion) {
    let msgs = corpus();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    eprintln!(
        "corpus: {} messages, {} bytes, {} bytes on average; rsip parses {} of them",
        msgs.len(),
        bytes,
        bytes / msgs.len(),
        msgs.iter()
            .filter(|m| rsip::SipMessage::try_from(m.as_slice()).is_ok())
            .count()
    );
    for (group, throughput) in [
        ("sip_bytes", Throughput::Bytes(bytes as u64)),
        ("sip_messages", Throughput::Elements(msgs.len() as u64)),
    ] {
        let mut g = c.benchmark_group(group);
        g.throughput(throughput);
        let run = |f: fn(&[u8]) -> usize| {
            let msgs = &msgs;
            move || msgs.iter().map(|m| f(black_box(m))).sum::<usize>()
        };
        g.bench_function("full", |b| b.iter(run(full)));
        g.bench_function("summary", |b| b.iter(run(summary)));
        g.bench_function("rsip", |b| b.iter(run(rsip_parse)));
        g.bench_function("rsip-typed", |b| b.iter(run(rsip_typed)));
        g.finish();
    }
}

/// The benchmark group, configured from the command line.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
