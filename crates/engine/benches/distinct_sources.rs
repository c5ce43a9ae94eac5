//! Memory and CPU of the engine under a flood from a million distinct
//! sources: every table must stay bounded (flows, flood buckets,
//! transactions), and the only state that grows with the attack is the
//! ban table, by design (one entry per banned source, as in the kernel).
//!
//! Both paths: `replay` (`handle_packet`, rules evaluated) and `daemon`
//! (`handle_accepted` on IP bytes, what `sipwall run` calls).
//!
//! Run: `cargo bench -p sipwall-engine --bench distinct_sources`

use sipwall_engine::{Direction, Engine, Packet, Timestamp, Transport};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

/// Peak resident memory of this process (kB), from /proc.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn options(ua: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK-1\r\nFrom: <sip:100@example.com>;tag=1\r\n\
         To: <sip:100@192.0.2.1>\r\nCall-ID: flood\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: {ua}\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn run(label: &str, ua: &str, sources: u32, daemon: bool) {
    let policy = sipwall_policy::builtin();
    let mut e = Engine::new(&policy, "<built-in>");
    let payload = options(ua);
    let dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let before = peak_rss_kb();
    let t0 = Timestamp::from_secs(1_000_000);
    // The daemon's path: IP bytes as the kernel hands them over, one
    // template whose source address is rewritten per packet.
    let mut ip = Vec::new();
    etherparse::PacketBuilder::ipv4([11, 0, 0, 0], [192, 0, 2, 1], 64)
        .udp(5060, 5060)
        .write(&mut ip, &payload)
        .expect("an IPv4 packet");
    let started = Instant::now();
    for i in 0..sources {
        let now = t0 + Duration::from_micros(u64::from(i) * 10);
        if daemon {
            ip[12..16].copy_from_slice(&(0x0B00_0000 + i).to_be_bytes());
            e.handle_accepted(now, Direction::In, &ip);
            while e.poll_action().is_some() {}
            continue;
        }
        let p = Packet {
            src: IpAddr::V4(Ipv4Addr::from(0x0B00_0000 + i)),
            dst,
            transport: Transport::Udp {
                sport: 5060,
                dport: 5060,
            },
            payload: &payload,
        };
        // 100k packets per second of attack time.
        e.handle_packet(
            t0 + Duration::from_micros(u64::from(i) * 10),
            Direction::In,
            &p,
        );
        while e.poll_action().is_some() {}
    }
    let took = started.elapsed();
    let after = peak_rss_kb();
    println!(
        "| {label} | {sources} | {:.0} ns | {:.2} M/s | {} MB | {} | {} |",
        took.as_nanos() as f64 / f64::from(sources),
        f64::from(sources) / took.as_secs_f64() / 1e6,
        after.saturating_sub(before) / 1024,
        e.bans().len(),
        e.stats().sip_messages
    );
}

fn main() {
    println!("| flood | distinct sources | per packet | rate | peak memory growth | bans held | SIP messages read |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (daemon, path) in [(false, "replay"), (true, "daemon")] {
        run(
            &format!("{path}: OPTIONS, ordinary User-Agent (nothing to ban)"),
            "Zoiper rv2.10",
            1_000_000,
            daemon,
        );
        run(
            &format!("{path}: OPTIONS from scanners (every source banned)"),
            "friendly-scanner",
            1_000_000,
            daemon,
        );
    }
}
