//! Replay throughput: a synthetic capture of mostly RTP (20 calls, 50
//! packets a second each way, their SIP set-up and tear-down) through
//! `Engine::handle_packet` with advancing timestamps, as `sipwall replay` drives
//! it. The target is at least 1M packets/s on one core (docs/performance.md).

use criterion::{criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use sipwall_engine::{Direction, Engine, Packet, Timestamp};

const HOST: [u8; 4] = [192, 0, 2, 1];
const CALLS: u8 = 20;
const SECONDS: u64 = 10;

fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(28 + payload.len());
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .expect("a packet");
    out
}

fn sip(start: &str, call: u8, cseq: &str, sdp: Option<([u8; 4], u16)>) -> Vec<u8> {
    let body = sdp.map_or(String::new(), |(a, port)| {
        let addr = format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        format!("v=0\r\no=- 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    });
    let ct = if sdp.is_some() {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    format!(
        "{start}\r\nVia: SIP/2.0/UDP 203.0.113.{call}:5060;branch=z9hG4bK-{call}-{}\r\nFrom: <sip:100@example.com>;tag=f{call}\r\n\
         To: <sip:200@example.com>;tag=t{call}\r\nCall-ID: bench-{call}\r\nCSeq: {cseq}\r\nMax-Forwards: 70\r\n\
         User-Agent: bench-phone\r\nContact: <sip:100@203.0.113.{call}>\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        cseq.replace(' ', "-"),
        body.len()
    )
    .into_bytes()
}

/// The capture: (time in microseconds, direction, IP packet), in time order.
fn capture() -> Vec<(u64, Direction, Vec<u8>)> {
    let mut v = Vec::new();
    for c in 0..CALLS {
        let peer = [203, 0, 113, c + 1];
        let (local, remote) = (20_000 + 2 * u16::from(c), 40_000 + 2 * u16::from(c));
        let t0 = u64::from(c) * 1000;
        let invite = "INVITE sip:200@192.0.2.1 SIP/2.0";
        v.push((
            t0,
            Direction::In,
            udp(
                peer,
                5060,
                HOST,
                5060,
                &sip(invite, c, "1 INVITE", Some((peer, remote))),
            ),
        ));
        v.push((
            t0 + 100,
            Direction::Out,
            udp(
                HOST,
                5060,
                peer,
                5060,
                &sip("SIP/2.0 200 OK", c, "1 INVITE", Some((HOST, local))),
            ),
        ));
        v.push((
            t0 + 200,
            Direction::In,
            udp(
                peer,
                5060,
                HOST,
                5060,
                &sip("ACK sip:200@192.0.2.1 SIP/2.0", c, "1 ACK", None),
            ),
        ));
        for i in 0..SECONDS * 50 {
            let t = t0 + 1000 + i * 20_000;
            v.push((
                t,
                Direction::In,
                udp(peer, remote, HOST, local, &[0x80; 172]),
            ));
            v.push((
                t + 5,
                Direction::Out,
                udp(HOST, local, peer, remote, &[0x80; 172]),
            ));
        }
        let end = t0 + 1000 + SECONDS * 1_000_000;
        v.push((
            end,
            Direction::In,
            udp(
                peer,
                5060,
                HOST,
                5060,
                &sip("BYE sip:200@192.0.2.1 SIP/2.0", c, "2 BYE", None),
            ),
        ));
        v.push((
            end + 100,
            Direction::Out,
            udp(
                HOST,
                5060,
                peer,
                5060,
                &sip("SIP/2.0 200 OK", c, "2 BYE", None),
            ),
        ));
    }
    v.sort_by_key(|p| p.0);
    v
}

fn bench(c: &mut Criterion) {
    let packets = capture();
    let sip = packets.iter().filter(|p| p.2.len() > 300).count();
    eprintln!(
        "replay bench: {} packets ({sip} SIP, the rest RTP)",
        packets.len()
    );
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(packets.len() as u64));
    for mode in ["pinhole", "range", "helper"] {
        let policy = sipwall_policy::parse(
            "bench.toml",
            &format!(
                "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"{mode}\"\n"
            ),
        )
        .expect("policy");
        g.bench_function(format!("mostly_rtp/{mode}"), |b| {
            b.iter(|| {
                let mut e = Engine::new(&policy, "bench.toml");
                let base = 1_700_000_000_000_000;
                let mut accepted = 0u64;
                for (t, dir, ip) in &packets {
                    let now = Timestamp::from_micros(base + t);
                    // Time is the caller's, as in `sipwall replay`.
                    while let Some(at) = e.poll_timeout().filter(|d| *d <= now) {
                        e.handle_timeout(at);
                    }
                    let p = Packet::parse(ip).expect("the capture is IP");
                    let d = e.handle_packet(now, *dir, &p);
                    accepted += u64::from(d.verdict == sipwall_engine::Verdict::Accept);
                    while e.poll_action().is_some() {}
                }
                assert_eq!(
                    accepted as usize,
                    packets.len(),
                    "the capture is all legitimate"
                );
                accepted
            })
        });
    }
    g.finish();
}

/// The benchmark group, configured from the command line.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
