//! One parsing path over the benchmark mix, a fixed number of times, for
//! an instruction count that does not depend on the machine's load:
//!
//! ```text
//! cargo bench -p sipwall-sip --bench instructions --no-run
//! valgrind --tool=callgrind target/release/deps/instructions-* full 20
//! ```
//!
//! Wall-clock figures come from `benches/parse.rs`; this counts work.

use std::hint::black_box;

mod mix;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "full".into());
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let f: fn(&[u8]) -> usize = match path.as_str() {
        "full" => mix::full,
        "fast" => mix::fast,
        "rsip" => mix::rsip_parse,
        "scan" => mix::scan,
        other => {
            eprintln!("unknown path {other:?}: full, fast, scan or rsip");
            std::process::exit(2);
        }
    };
    let msgs = mix::corpus();
    let mut total = 0usize;
    for _ in 0..rounds {
        total += msgs.iter().map(|m| f(black_box(m))).sum::<usize>();
    }
    println!(
        "{path}: {rounds} rounds of {} messages, checksum {total}",
        msgs.len()
    );
}
