//! Set elements written through netlink into a real kernel: a network
//! namespace made for the test (never the root namespace's firewall),
//! entered by one thread only.

use sipwall_netfilter::{Key, SetWriter};
use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

struct Netns(String);

impl Netns {
    /// A fresh namespace, or `None` (with the reason printed) where root or
    /// `ip netns` is missing; under CI=true that is a failure.
    fn new(tag: &str) -> Option<Netns> {
        let ok = Command::new("ip")
            .args(["netns", "add", &format!("swnl{tag}{}", std::process::id())])
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            let why = "needs root, `ip netns` and nftables";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{why}; under CI=true this test must run"
            );
            eprintln!("skipped: {why}");
            return None;
        }
        Some(Netns(format!("swnl{tag}{}", std::process::id())))
    }

    fn nft(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `f` on a thread that lives in this namespace.
    fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let fd = std::fs::File::open(&path).unwrap();
                nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

const TABLE: &str = "table inet sipwall {
  set ban_v4 { type ipv4_addr; flags timeout; }
  set ban_v6 { type ipv6_addr; flags timeout; }
  set pinhole_port { type inet_service; flags timeout; }
  set pinhole_v4 { type ipv4_addr . inet_service; flags timeout; }
  set pinhole_v6 { type ipv6_addr . inet_service; flags timeout; }
}
";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn bans_and_pinholes_of_every_key_type_land_in_the_kernel() {
    let Some(ns) = Netns::new("a") else { return };
    ns.nft(&["-f", "-"], Some(TABLE));
    ns.within(|| {
        let mut w = SetWriter::open("sipwall").unwrap();
        let hour = Duration::from_secs(3600);
        w.add(
            "ban_v4",
            &[
                (Key::Addr(ip("192.0.2.66")), hour),
                (Key::Addr(ip("192.0.2.67")), hour),
            ],
        )
        .unwrap();
        w.add("ban_v6", &[(Key::Addr(ip("2001:db8::66")), hour)])
            .unwrap();
        w.add(
            "pinhole_port",
            &[(Key::Port(20000), Duration::from_secs(90))],
        )
        .unwrap();
        w.add(
            "pinhole_v4",
            &[(
                Key::AddrPort(ip("192.0.2.2"), 20002),
                Duration::from_secs(90),
            )],
        )
        .unwrap();
        w.add(
            "pinhole_v6",
            &[(
                Key::AddrPort(ip("2001:db8::2"), 20004),
                Duration::from_secs(90),
            )],
        )
        .unwrap();
        w.delete("ban_v4", Key::Addr(ip("192.0.2.67"))).unwrap();
        // Already gone (or never there): not an error, and nothing else is undone.
        w.delete("ban_v4", Key::Addr(ip("192.0.2.99"))).unwrap();
    });
    let listing = ns.nft(&["list", "table", "inet", "sipwall"], None);
    for needle in [
        "192.0.2.66 timeout 1h",
        "2001:db8::66 timeout 1h",
        "20000 timeout 1m30s",
        "192.0.2.2 . 20002",
        "2001:db8::2 . 20004",
    ] {
        assert!(listing.contains(needle), "{needle} missing:\n{listing}");
    }
    assert!(!listing.contains("192.0.2.67"), "deleted:\n{listing}");
}

#[test]
fn a_refused_update_is_an_error_not_a_silent_loss() {
    let Some(ns) = Netns::new("b") else { return };
    ns.nft(&["-f", "-"], Some(TABLE));
    let err = ns.within(|| {
        let mut w = SetWriter::open("sipwall").unwrap();
        w.add(
            "no_such_set",
            &[(Key::Addr(ip("192.0.2.66")), Duration::from_secs(60))],
        )
        .unwrap_err()
    });
    assert!(err.to_string().contains("refused"), "{err}");
}

#[test]
fn one_bad_element_in_a_restore_batch_is_skipped_and_the_rest_goes_in() {
    let Some(ns) = Netns::new("e") else { return };
    ns.nft(&["-f", "-"], Some(TABLE));
    let hour = Duration::from_secs(3600);
    // Past what the kernel's timeouts hold (64-bit nanoseconds: about 584 years).
    let forever = Duration::from_secs(1000 * 365 * 86_400);
    let batch = [
        (Key::Addr(ip("192.0.2.66")), hour),
        (Key::Addr(ip("192.0.2.67")), forever),
        (Key::Addr(ip("192.0.2.68")), hour),
    ];
    let (whole, refused, after) = ns.within(|| {
        let mut w = SetWriter::open("sipwall").unwrap();
        let whole = w.add("ban_v4", &batch);
        let refused = w.add_each("ban_v4", &batch).unwrap();
        // The socket is still in step: a later update is answered as its own.
        let after = w.add("ban_v6", &[(Key::Addr(ip("2001:db8::66")), hour)]);
        (whole, refused, after)
    });
    assert!(whole.is_err(), "the kernel refuses the batch as a whole");
    assert_eq!(
        refused.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        vec![Key::Addr(ip("192.0.2.67"))]
    );
    assert!(
        refused[0].1.to_string().contains("refused"),
        "{}",
        refused[0].1
    );
    after.unwrap();
    let listing = ns.nft(&["list", "table", "inet", "sipwall"], None);
    assert!(listing.contains("192.0.2.66"), "{listing}");
    assert!(listing.contains("192.0.2.68"), "{listing}");
    assert!(!listing.contains("192.0.2.67"), "{listing}");
    assert!(listing.contains("2001:db8::66"), "{listing}");
}

#[test]
fn one_pass_of_bans_and_pinholes_of_several_sets_goes_in_one_call_and_a_refused_one_is_named() {
    let Some(ns) = Netns::new("m") else { return };
    ns.nft(&["-f", "-"], Some(TABLE));
    let hour = Duration::from_secs(3600);
    let forever = Duration::from_secs(1000 * 365 * 86_400);
    let pass = [
        ("ban_v4", Key::Addr(ip("192.0.2.66")), hour),
        ("ban_v4", Key::Addr(ip("192.0.2.67")), hour),
        ("ban_v6", Key::Addr(ip("2001:db8::66")), hour),
        ("pinhole_v4", Key::AddrPort(ip("198.51.100.7"), 16400), hour),
        ("ban_v4", Key::Addr(ip("192.0.2.68")), forever),
        ("pinhole_port", Key::Port(16402), hour),
    ];
    let (refused, after) = ns.within(|| {
        let mut w = SetWriter::open("sipwall").unwrap();
        let refused = w.add_each_of(&pass).unwrap();
        let after = w.add("ban_v4", &[(Key::Addr(ip("192.0.2.69")), hour)]);
        (refused, after)
    });
    assert_eq!(
        refused.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![4],
        "only the element the kernel cannot hold"
    );
    after.unwrap();
    let listing = ns.nft(&["list", "table", "inet", "sipwall"], None);
    for present in [
        "192.0.2.66",
        "192.0.2.67",
        "2001:db8::66",
        "198.51.100.7 . 16400",
        "16402",
        "192.0.2.69",
    ] {
        assert!(listing.contains(present), "{present} missing:\n{listing}");
    }
    assert!(!listing.contains("192.0.2.68"), "{listing}");
}

#[test]
fn a_hundred_thousand_bans_go_in_batches() {
    let Some(ns) = Netns::new("c") else { return };
    ns.nft(&["-f", "-"], Some(TABLE));
    ns.within(|| {
        let mut w = SetWriter::open("sipwall").unwrap();
        let bans: Vec<(Key, Duration)> = (0..100_000u32)
            .map(|i| {
                (
                    Key::Addr(IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + i))),
                    Duration::from_secs(3600),
                )
            })
            .collect();
        w.add("ban_v4", &bans).unwrap();
    });
    let json = ns.nft(&["-j", "list", "set", "inet", "sipwall", "ban_v4"], None);
    assert_eq!(
        json.matches("\"elem\": {").count() + json.matches("\"elem\":{").count(),
        100_000
    );
}

#[test]
fn nflog_copies_arrive_at_once_with_their_group() {
    let Some(ns) = Netns::new("d") else { return };
    let _ = Command::new("ip")
        .args(["-n", &ns.0, "link", "set", "lo", "up"])
        .status();
    ns.nft(
        &["-f", "-"],
        Some("table inet tap {\n chain input {\n  type filter hook input priority 10; policy accept;\n  udp dport 5060 log group 7\n }\n}\n"),
    );
    let got = ns.within(|| {
        let mut r = sipwall_netfilter::NflogReader::open(&[7]).unwrap();
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(b"not logged", "127.0.0.1:5061").unwrap();
        s.send_to(b"OPTIONS sip:x SIP/2.0\r\n\r\n", "127.0.0.1:5060")
            .unwrap();
        r.recv().unwrap()
    });
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].group, 7);
    let p = &got[0].packet;
    assert_eq!(p[0] >> 4, 4, "an IPv4 packet");
    assert!(p.ends_with(b"OPTIONS sip:x SIP/2.0\r\n\r\n"));
}

#[test]
fn a_replaced_address_set_holds_exactly_the_new_list_and_an_update_survives_an_expired_delete() {
    let Some(ns) = Netns::new("r") else { return };
    ns.nft(&["-f", "-"], Some(TABLE));
    let doc = 0x2001_0db8_u128 << 96;
    // More than one transaction's worth, so the tail goes after the flush.
    let old: Vec<(Key, Duration)> = (0..5000u128)
        .map(|i| {
            (
                Key::Addr(IpAddr::from(std::net::Ipv6Addr::from(doc + i))),
                Duration::ZERO,
            )
        })
        .collect();
    ns.within(|| {
        let mut w = SetWriter::open("sipwall").unwrap();
        w.replace_keys("ban_v6", &old).unwrap();
        w.replace_keys(
            "ban_v4",
            &[
                (Key::Addr(ip("192.0.2.66")), Duration::ZERO),
                (Key::Addr(ip("192.0.2.67")), Duration::from_secs(600)),
            ],
        )
        .unwrap();
        w.replace_keys(
            "ban_v6",
            &[(Key::Addr(ip("2001:db8::ffff")), Duration::ZERO)],
        )
        .unwrap();
        // 192.0.2.99 is not there (an expired element): the transaction
        // fails and the update goes one step at a time.
        w.update_keys(
            "ban_v4",
            &[Key::Addr(ip("192.0.2.99")), Key::Addr(ip("192.0.2.66"))],
            &[(Key::Addr(ip("198.51.100.1")), Duration::ZERO)],
        )
        .unwrap();
    });
    let v4 = ns.nft(&["list", "set", "inet", "sipwall", "ban_v4"], None);
    assert!(v4.contains("192.0.2.67 timeout 10m"), "{v4}");
    assert!(v4.contains("198.51.100.1"), "{v4}");
    assert!(!v4.contains("192.0.2.66"), "{v4}");
    let v6 = ns.nft(&["list", "set", "inet", "sipwall", "ban_v6"], None);
    assert!(v6.contains("2001:db8::ffff"), "{v6}");
    assert!(
        !v6.contains("2001:db8::1,") && !v6.contains("2001:db8::1 "),
        "the old list is gone: {v6}"
    );
}
