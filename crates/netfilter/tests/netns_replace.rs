//! Replacing sipwall's table in a real kernel (a network namespace made
//! for the test): what happens to the elements the daemon put in its sets.

use sipwall_netfilter::{Firewall, NetfilterError, NftCli, Nftables, Table};
use std::cell::RefCell;
use std::process::Command;

struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Option<Netns> {
        let name = format!("swrp{tag}{}", std::process::id());
        let ok = Command::new("ip").args(["netns", "add", &name]).status();
        if !ok.is_ok_and(|s| s.success()) {
            let why = "needs root, `ip netns` and nftables";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{why}; under CI=true this test must run"
            );
            eprintln!("skipped: {why}");
            return None;
        }
        Some(Netns(name))
    }

    /// Runs `f` on a thread that lives in this namespace (and so do the
    /// `nft` processes it starts).
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

/// nft, with a daemon that adds a ban after apply listed the table and
/// before it loads the replacement: the moment the attack needs.
struct DaemonMeanwhile {
    nft: NftCli,
    ban: RefCell<Option<&'static str>>,
}

impl Nftables for DaemonMeanwhile {
    fn check(&self, script: &str) -> Result<(), NetfilterError> {
        self.nft.check(script)
    }
    fn load(&self, script: &str) -> Result<(), NetfilterError> {
        if let Some(addr) = self.ban.borrow_mut().take() {
            self.nft.load(&format!(
                "add element inet sipwall ban_v4 {{ {addr} timeout 1h }}\n"
            ))?;
        }
        self.nft.load(script)
    }
    fn list_table(&self, table: &str) -> Result<Option<String>, NetfilterError> {
        self.nft.list_table(table)
    }
    fn list_table_json(&self, table: &str) -> Result<Option<String>, NetfilterError> {
        self.nft.list_table_json(table)
    }
    fn list_ruleset_json(&self) -> Result<String, NetfilterError> {
        self.nft.list_ruleset_json()
    }
    fn list_tables(&self) -> Result<Vec<(String, String)>, NetfilterError> {
        self.nft.list_tables()
    }
    fn list_ruleset_text(&self) -> Result<String, NetfilterError> {
        self.nft.list_ruleset_text()
    }
}

/// A table as sipwall's renderer writes it; `port` tells versions apart.
fn table(port: u16, ban_timeout: &str) -> Table {
    Table {
        name: "sipwall".into(),
        text: format!(
            "table inet sipwall {{\n\t# bans: filled by sipwall run\n\tset ban_v4 {{\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\ttimeout {ban_timeout}\n\t\tgc-interval 1m\n\t}}\n\tset pinhole_v4 {{\n\t\ttype ipv4_addr . inet_service\n\t\tflags timeout\n\t\ttimeout 1m30s\n\t\tgc-interval 1m\n\t}}\n\tchain input {{\n\t\ttype filter hook input priority filter; policy accept;\n\t\tip saddr @ban_v4 counter drop comment \"bans\"\n\t\tip saddr . udp dport @pinhole_v4 accept\n\t\ttcp dport {port} accept\n\t}}\n}}\n"
        ),
        sets: vec![
            ("ban_v4".into(), "ipv4_addr".into()),
            ("pinhole_v4".into(), "ipv4_addr . inet_service".into()),
        ],
        never_banned: Vec::new(),
    }
}

fn listing() -> String {
    NftCli::default()
        .list_table("sipwall")
        .unwrap()
        .unwrap_or_default()
}

#[test]
fn a_ban_added_between_applys_listing_and_loading_is_not_lost() {
    let Some(ns) = Netns::new("a") else { return };
    ns.within(|| {
        let nft = NftCli::default();
        Firewall::new(nft.clone()).replace(&table(4001, "1h")).unwrap();
        nft.load("add element inet sipwall ban_v4 { 192.0.2.66 timeout 1h }\nadd element inet sipwall pinhole_v4 { 192.0.2.2 . 20000 timeout 90s }\n")
            .unwrap();
        let fw = Firewall::new(DaemonMeanwhile {
            nft: nft.clone(),
            ban: RefCell::new(Some("192.0.2.77")),
        });
        let done = fw.replace(&table(4002, "1h")).unwrap();
        let t = listing();
        assert!(t.contains("dport 4002") && !t.contains("dport 4001"), "{t}");
        assert!(t.contains("192.0.2.66"), "the listed ban was kept:\n{t}");
        assert!(t.contains("192.0.2.2 . 20000"), "the pinhole was kept:\n{t}");
        assert!(
            t.contains("192.0.2.77"),
            "the ban added while apply ran was kept:\n{t}"
        );
        assert_eq!(done.kept, ["ban_v4", "pinhole_v4"]);
        assert!(done.recreated.is_empty());
    });
}

#[test]
fn a_set_whose_declaration_changes_is_recreated_with_its_elements() {
    let Some(ns) = Netns::new("b") else { return };
    ns.within(|| {
        let nft = NftCli::default();
        let fw = Firewall::new(nft.clone());
        fw.replace(&table(4001, "1h")).unwrap();
        nft.load("add element inet sipwall ban_v4 { 192.0.2.66 timeout 30m }\n")
            .unwrap();
        let done = fw.replace(&table(4001, "2h")).unwrap();
        assert_eq!(done.recreated, ["ban_v4"]);
        assert_eq!(done.kept, ["pinhole_v4"]);
        let t = listing();
        assert!(t.contains("timeout 2h"), "the new declaration holds:\n{t}");
        assert!(t.contains("192.0.2.66"), "its ban was carried:\n{t}");
        // The same replacement again keeps everything in place.
        let again = fw.replace(&table(4001, "2h")).unwrap();
        assert_eq!(again.kept, ["ban_v4", "pinhole_v4"]);
    });
}

#[test]
fn bans_of_allowlisted_addresses_are_not_carried_into_the_new_table() {
    let Some(ns) = Netns::new("c") else { return };
    ns.within(|| {
        let nft = NftCli::default();
        let fw = Firewall::new(nft.clone());
        fw.replace(&table(4001, "1h")).unwrap();
        // A spoofed-source ban of the trunk, a loopback ban, a real one.
        nft.load("add element inet sipwall ban_v4 { 198.51.100.7 timeout 1h, 127.0.0.1 timeout 1h, 192.0.2.66 timeout 1h }\n")
            .unwrap();
        let mut allowing = table(4001, "1h");
        allowing.never_banned = vec!["198.51.100.0/28".parse().unwrap()];
        let done = fw.replace(&allowing).unwrap();
        let mut dropped: Vec<&str> = done.dropped.iter().map(|e| e.key.as_str()).collect();
        dropped.sort_unstable();
        assert_eq!(dropped, ["127.0.0.1", "198.51.100.7"]);
        let t = listing();
        assert!(!t.contains("198.51.100.7") && !t.contains("127.0.0.1"), "{t}");
        assert!(t.contains("192.0.2.66"), "other bans stay:\n{t}");
        // Also where the set is recreated (the old way of carrying over).
        nft.load("add element inet sipwall ban_v4 { 198.51.100.8 timeout 1h }\n")
            .unwrap();
        let mut changed = table(4001, "2h");
        changed.never_banned = allowing.never_banned.clone();
        let done = fw.replace(&changed).unwrap();
        assert_eq!(done.recreated, ["ban_v4"]);
        let t = listing();
        assert!(!t.contains("198.51.100.8") && t.contains("192.0.2.66"), "{t}");
    });
}
