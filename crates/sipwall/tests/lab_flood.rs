//! Issue 13, "Floods beyond what the daemon can inspect", in the real
//! kernel. The inline daemon's capacity is measured first (verdicts a
//! second for an allowlisted sender blasting OPTIONS, as
//! `benches/inline.rs` does); then 1,000 sources (500 IPv4 addresses from
//! 198.51.100.0/24 and 203.0.113.0/24, 500 IPv6 addresses from
//! 2001:db8:f::/64, all on the attacker's interface) flood the SIP port
//! faster than that, while the peer (a trunk in `guard.allow`) places
//! calls whose media goes through the daemon's pinholes (pinholes alone:
//! the kernel's SIP helper, which would make RTP RELATED without them, is
//! off, so the RTP shows that the daemon kept up). The first line
//! in the kernel must drop the flood before the daemon's queue: calls
//! complete with their RTP, and the daemon's verdict rate stays below
//! what it can handle.

mod lab;

use lab::Lab;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const POLICY: &str =
    "[zones]\nbench = [\"192.0.2.66\"]\ntrunks = [\"192.0.2.2\", \"2001:db8::2\"]\n\
[guard]\nallow = [\"bench\", \"trunks\"]\n\
[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n\
[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n\
[media]\nmode = \"pinhole\"\n[helpers.sip]\nassign = false\n";

/// The flooding sources: 250 + 250 IPv4 and 500 IPv6 addresses.
fn sources() -> Vec<IpAddr> {
    let mut out = Vec::new();
    for i in 1..=250u8 {
        out.push(IpAddr::from([198, 51, 100, i]));
        out.push(IpAddr::from([203, 0, 113, i]));
    }
    for i in 1..=500u16 {
        out.push(IpAddr::from([0x2001, 0xdb8, 0xf, 0, 0, 0, 0, i]));
    }
    out
}

/// Verdicts the inline daemon has given so far.
fn verdicts(lab: &Lab) -> u64 {
    let out = lab.sipwall("fw", &["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["packets"]["accepted"].as_u64().unwrap_or(0) + v["packets"]["dropped"].as_u64().unwrap_or(0)
}

/// Runs `f` on a thread inside `ns`.
fn within<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let fd = std::fs::File::open(&path).expect("netns");
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("sender thread")
    })
}

fn options(from: &IpAddr, n: usize) -> Vec<u8> {
    format!(
        "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {from}:5070;branch=z9hG4bK-flood{n}\r\n\
         From: <sip:flood@192.0.2.1>;tag={n}\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: flood-{n}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: flood\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Blasts OPTIONS from `from` (round robin) until `stop`; packets sent.
fn blast(from: &[IpAddr], stop: &AtomicBool) -> u64 {
    let socks: Vec<(UdpSocket, SocketAddr, Vec<u8>)> = from
        .iter()
        .enumerate()
        .map(|(n, a)| {
            let s = UdpSocket::bind(SocketAddr::new(*a, 5070)).expect("bind a flood source");
            let to: SocketAddr = if a.is_ipv4() {
                "192.0.2.1:5060".parse().unwrap()
            } else {
                "[2001:db8::1]:5060".parse().unwrap()
            };
            s.set_nonblocking(true).unwrap();
            (s, to, options(a, n))
        })
        .collect();
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..16 {
            for (s, to, msg) in &socks {
                if s.send_to(msg, to).is_ok() {
                    sent += 1;
                }
            }
        }
    }
    sent
}

/// Sets its flag when dropped: a failed assertion inside a thread scope
/// then stops the flooder instead of leaving the scope waiting for it.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The tests of this file measure the daemon against the machine's
/// capacity: one at a time, or each is the other's load.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn elements(lab: &Lab, set: &str) -> usize {
    let out = lab.ok("fw", &["nft", "-j", "list", "set", "inet", "sipwall", set]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["nftables"][1]["set"]["elem"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn a_sip_flood_from_a_thousand_sources_above_the_daemons_capacity_is_dropped_in_the_kernel_and_calls_keep_their_media(
) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::up("flood", &["sipp", "iptables"]) else {
        return;
    };
    let srcs = sources();
    // The flooding addresses live on the attacker; the firewall routes
    // them back (reverse-path filtering, and answers go somewhere).
    let mut batch = String::new();
    for a in &srcs {
        let len = if a.is_ipv4() { 32 } else { 128 };
        let nodad = if a.is_ipv4() { "" } else { " nodad" };
        batch.push_str(&format!("addr add {a}/{len} dev eth0{nodad}\n"));
    }
    let file = lab.state.path().join("addrs.batch");
    std::fs::write(&file, batch).unwrap();
    lab.ok("attacker", &["ip", "-batch", file.to_str().unwrap()]);
    for (net, via) in [
        ("198.51.100.0/24", "192.0.2.66"),
        ("203.0.113.0/24", "192.0.2.66"),
        ("2001:db8:f::/64", "2001:db8::66"),
    ] {
        lab.ok("fw", &["ip", "route", "add", net, "via", via]);
    }
    let policy = lab.apply_policy(POLICY);
    // Every flood packet that reaches the firewall, before any filter.
    lab.nft(
        "fw",
        "table inet labflood {\n  chain pre {\n    type filter hook prerouting priority -300; policy accept;\n\
         ip saddr { 198.51.100.0/24, 203.0.113.0/24 } udp dport 5060 counter\n\
         ip6 saddr 2001:db8:f::/64 udp dport 5060 counter\n  }\n}\n",
    );
    let arrived = || -> u64 {
        lab::packet_counts(&lab.ok("fw", &["nft", "list", "table", "inet", "labflood"]))
            .iter()
            .sum()
    };
    lab.counters(
        "fw",
        "input",
        &["ip saddr 192.0.2.2 udp dport 20000 counter"],
    );
    lab.counters("peer", "output", &["udp dport 20000 counter"]);
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(
        &log,
        &[
            "-c",
            policy.to_str().unwrap(),
            "--mode",
            "inline",
            "--metrics",
            "off",
        ],
    );
    std::thread::sleep(Duration::from_secs(1));

    // 1. The daemon's capacity, here and now: an allowlisted sender
    // (never metered, never banned) blasting as fast as it can for 3 s.
    let stop = AtomicBool::new(false);
    let before = verdicts(&lab);
    let t = Instant::now();
    let bench_sent = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            within(&lab.ns("attacker"), || {
                blast(&["192.0.2.66".parse().unwrap()], &stop)
            })
        });
        let _stop = StopOnDrop(&stop);
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
        sender.join().unwrap()
    });
    let took = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let judged = verdicts(&lab) - before;
    let capacity = judged as f64 / took;
    // When the daemon judged (nearly) all that was sent, the sender was the
    // bottleneck and the figure is only a lower bound of the capacity.
    let saturated = judged * 10 < bench_sent * 9;
    eprintln!(
        "flood: inline capacity {capacity:.0} verdicts/s ({bench_sent} sent in {took:.1} s, {:.0}/s; {})",
        bench_sent as f64 / took,
        if saturated {
            "the daemon saturated"
        } else {
            "the sender was the bottleneck: a lower bound"
        }
    );
    assert!(capacity > 1000.0, "the daemon gave verdicts: {capacity}");

    // 2. The flood. All 1,000 sources start at once, the worst case for
    // the first line: each gets one bucket (rate + burst packets) through
    // before its kernel ban, so the daemon sees a transient of about
    // 1,000 x 45 packets, then next to nothing.
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    std::thread::sleep(Duration::from_millis(300));
    let calls_n = 100u32;
    let stop = AtomicBool::new(false);
    let banned_all =
        || elements(&lab, "flood_ban_v4") + elements(&lab, "flood_ban_v6") >= srcs.len() * 99 / 100;
    let (flood_sent, flood_secs, arrivals, transient, samples, screen, calls_ok) =
        std::thread::scope(|s| {
            let arrived_before = arrived();
            let verdicts_before = verdicts(&lab);
            let t = Instant::now();
            let flooder = s.spawn(|| within(&lab.ns("attacker"), || blast(&srcs, &stop)));
            let _stop = StopOnDrop(&stop);
            // 3. Calls, once the transient is over, while the flood goes on.
            assert!(
                lab.wait_for(Duration::from_secs(15), banned_all),
                "the first line banned the flooding sources"
            );
            std::thread::sleep(Duration::from_millis(500));
            let transient = (t.elapsed(), verdicts(&lab) - verdicts_before);
            let calls = s.spawn(|| {
                let dir = tempfile::tempdir().unwrap();
                std::os::unix::fs::symlink("/usr/share/sip-tester", dir.path().join("pcap"))
                    .unwrap();
                lab.cmd("peer", "timeout")
                    .args([
                        "50",
                        "sipp",
                        "-sn",
                        "uac_pcap",
                        "192.0.2.1:5060",
                        "-i",
                        "192.0.2.2",
                        "-m",
                        &calls_n.to_string(),
                        "-r",
                        "10",
                        "-l",
                        "100",
                        "-nostdin",
                        "-timeout",
                        "45",
                    ])
                    .current_dir(dir.path())
                    .output()
                    .unwrap()
            });
            // The daemon's verdicts, once a second, while the calls run.
            let mut samples = vec![(Instant::now(), verdicts(&lab))];
            while !calls.is_finished() {
                std::thread::sleep(Duration::from_secs(1));
                samples.push((Instant::now(), verdicts(&lab)));
            }
            let out = calls.join().unwrap();
            stop.store(true, Ordering::Relaxed);
            let sent = flooder.join().unwrap();
            let secs = t.elapsed().as_secs_f64();
            (
                sent,
                secs,
                arrived() - arrived_before,
                transient,
                samples,
                String::from_utf8_lossy(&out.stdout).into_owned(),
                out.status.success(),
            )
        });
    let rates: Vec<f64> = samples
        .windows(2)
        .map(|w| (w[1].1 - w[0].1) as f64 / (w[1].0 - w[0].0).as_secs_f64())
        .collect();
    let peak = rates.iter().copied().fold(0.0, f64::max);
    let total = samples.last().unwrap().1 - samples[0].1;
    let mean = total as f64 / (samples.last().unwrap().0 - samples[0].0).as_secs_f64();
    let flood_rate = arrivals as f64 / flood_secs;
    let successful = screen
        .lines()
        .rev()
        .find(|l| l.contains("Successful call"))
        .and_then(|l| l.split('|').nth(2))
        .and_then(|c| c.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let (rtp_got, rtp_sent) = (lab.counts("fw")[0], lab.counts("peer")[0]);
    let banned = elements(&lab, "flood_ban_v4") + elements(&lab, "flood_ban_v6");
    eprintln!(
        "flood: {} sources, {flood_sent} sent, {arrivals} arrived in {flood_secs:.1} s = {flood_rate:.0} packets/s \
         ({:.1}x the capacity); transient: every source banned in the kernel {:.1?} after the start, \
         {} verdicts until then; daemon verdicts during the calls: mean {mean:.0}/s, peak {peak:.0}/s \
         ({:.0}% of capacity); {banned} sources in the kernel's flood bans; \
         calls {successful}/{calls_n}; RTP {rtp_got}/{rtp_sent}",
        srcs.len(),
        flood_rate / capacity,
        transient.0,
        transient.1,
        100.0 * peak / capacity
    );
    assert!(
        flood_rate > capacity,
        "the flood ({flood_rate:.0}/s) must be above the daemon's capacity ({capacity:.0}/s)"
    );
    assert!(
        banned >= srcs.len() * 99 / 100,
        "the first line banned the flooding sources: {banned}"
    );
    assert!(
        successful * 1000 >= calls_n * 999 && calls_ok,
        "at least 99.9% of {calls_n} calls: {successful}\n{screen}"
    );
    assert!(
        rtp_sent >= u64::from(calls_n) * 200 && rtp_got * 1000 >= rtp_sent * 999,
        "calls complete with their RTP: {rtp_got} of {rtp_sent} accepted"
    );
    assert!(
        peak < capacity * 0.5,
        "the daemon stays below saturation: peak {peak:.0}/s of {capacity:.0}/s ({rates:?})"
    );
}

/// The packet count of the input rule that names `set`.
fn rule_count(lab: &Lab, set: &str) -> u64 {
    let t = lab.sipwall_table("fw").unwrap();
    let line = t
        .lines()
        .find(|l| l.contains(&format!("saddr @{set} ")))
        .unwrap_or_else(|| panic!("a rule for {set}:\n{t}"))
        .to_owned();
    lab::packet_counts(&line)[0]
}

#[test]
fn a_source_rotating_through_its_slash_64_is_dropped_by_one_prefix_ban_that_survives_an_apply() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::up("prefix_ban", &[]) else {
        return;
    };
    // The attacker owns a /64 (and a /24) of its own, routed by the firewall.
    for (addr, net, via) in [
        ("2001:db8:66::1/128", "2001:db8:66::/64", "2001:db8::66"),
        ("2001:db8:66::beef/128", "2001:db8:66::/64", "2001:db8::66"),
        ("198.51.100.1/32", "198.51.100.0/24", "192.0.2.66"),
        ("198.51.100.200/32", "198.51.100.0/24", "192.0.2.66"),
    ] {
        lab.ok(
            "attacker",
            &["ip", "addr", "add", addr, "dev", "eth0", "nodad"],
        );
        let _ = lab.run("fw", &["ip", "route", "add", net, "via", via]);
    }
    let out = lab.sipwall("fw", &["apply"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lab.counters(
        "fw",
        "input",
        &[
            "ip6 saddr 2001:db8:66::/64 udp dport 5060 counter",
            "ip saddr 198.51.100.0/24 udp dport 5060 counter",
        ],
    );
    let send = |from: &str| {
        let from: IpAddr = from.parse().unwrap();
        within(&lab.ns("attacker"), || {
            let s = UdpSocket::bind(SocketAddr::new(from, 0)).unwrap();
            let to: SocketAddr = if from.is_ipv4() {
                "192.0.2.1:5060".parse().unwrap()
            } else {
                "[2001:db8::1]:5060".parse().unwrap()
            };
            for n in 0..5 {
                s.send_to(&options(&from, n), to).unwrap();
            }
        });
        std::thread::sleep(Duration::from_millis(200));
    };
    // Before the ban, both get in.
    send("2001:db8:66::1");
    send("198.51.100.1");
    assert_eq!(lab.counts("fw"), vec![5, 5]);
    // One element per prefix, as the daemon adds them.
    lab.nft(
        "fw",
        "add element inet sipwall ban_net_v6 { 2001:db8:66::/64 timeout 1h }\n\
         add element inet sipwall ban_net_v4 { 198.51.100.0/24 timeout 1h }\n",
    );
    // Other addresses of the same prefixes are dropped by the ban.
    send("2001:db8:66::beef");
    send("198.51.100.200");
    assert_eq!(lab.counts("fw"), vec![5, 5], "nothing more got in");
    assert_eq!(rule_count(&lab, "ban_net_v6"), 5);
    assert_eq!(rule_count(&lab, "ban_net_v4"), 5);
    // An apply replaces the table and carries the prefix elements over.
    let out = lab.sipwall("fw", &["apply"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = lab.sipwall_table("fw").unwrap();
    assert!(
        table.contains("2001:db8:66::/64 ") && table.contains("198.51.100.0/24 "),
        "the prefix bans survived the apply:\n{table}"
    );
    send("2001:db8:66::1");
    assert_eq!(
        rule_count(&lab, "ban_net_v6"),
        5,
        "counted afresh after the apply"
    );
    assert_eq!(lab.counts("fw"), vec![5, 5], "and still dropped");
}
