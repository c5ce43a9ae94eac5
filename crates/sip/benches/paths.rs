//! The parsing paths of the benchmark mix outside criterion, in two ways:
//!
//! - one path a fixed number of times, for an instruction count that does
//!   not depend on the machine's load:
//!
//!   ```text
//!   cargo bench -p sipwall-sip --bench paths --no-run
//!   valgrind --tool=callgrind target/release/deps/paths-* full 20
//!   ```
//!
//!   (a third word, `invite`, `ok`, `register` or `scanner`, keeps only
//!   the messages of that kind; the same works for `interleaved`)
//!
//! - every path interleaved, corpus by corpus, so that a machine whose
//!   speed drifts (shared cores) slows them all alike and their ratios
//!   hold: `cargo bench -p sipwall-sip --bench paths -- interleaved 300`.
//!
//! Criterion's figures come from `benches/parse.rs`.

use std::hint::black_box;
use std::time::{Duration, Instant};

mod mix;

type Path = fn(&[u8]) -> usize;

/// The paths; rsip's parse alone comes last, every ratio is against it.
const PATHS: [(&str, Path); 4] = [
    ("full", mix::full),
    ("summary", mix::summary),
    ("rsip-typed", mix::rsip_typed),
    ("rsip", mix::rsip_parse),
];

fn main() {
    // `cargo bench` passes `--bench`; only the words after it are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let path = args.first().map_or("interleaved", String::as_str);
    let rounds: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100);
    let msgs = match args.get(2) {
        None => mix::corpus(),
        Some(kind) => mix::corpus_of(kind).unwrap_or_else(|| {
            eprintln!("unknown kind {kind:?}: {}", mix::KINDS.join(", "));
            std::process::exit(2);
        }),
    };
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let run = |f: Path| msgs.iter().map(|m| f(black_box(m))).sum::<usize>();
    if path == "interleaved" {
        let mut spent = [Duration::ZERO; PATHS.len()];
        for _ in 0..rounds {
            for (i, (_, f)) in PATHS.iter().enumerate() {
                let t = Instant::now();
                black_box(run(*f));
                spent[i] += t.elapsed();
            }
        }
        let rsip = spent[PATHS.len() - 1];
        for (i, (name, _)) in PATHS.iter().enumerate() {
            let per_msg = spent[i].as_nanos() as f64 / (rounds * msgs.len()) as f64;
            let gbps = (rounds * bytes) as f64 / spent[i].as_secs_f64() / 1e9;
            let vs_rsip = rsip.as_secs_f64() / spent[i].as_secs_f64();
            println!("{name:>10}: {per_msg:7.0} ns/message  {gbps:5.2} GB/s  {vs_rsip:5.2}x rsip");
        }
        return;
    }
    let Some((_, f)) = PATHS.iter().find(|(name, _)| *name == path) else {
        eprintln!("unknown path {path:?}: interleaved, full, summary, rsip-typed or rsip");
        std::process::exit(2);
    };
    let mut total = 0usize;
    for _ in 0..rounds {
        total += run(*f);
    }
    println!(
        "{path}: {rounds} rounds of {} messages, checksum {total}",
        msgs.len()
    );
}
