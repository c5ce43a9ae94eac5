//! Lists of addresses banned elsewhere (CrowdSec's decisions, each feed),
//! as the loop keeps them and writes them into their own kernel sets.
//!
//! Fetchers run on threads of their own and never touch the kernel: each
//! sends an [`Update`] through the inbox, and the loop applies it here,
//! between packets, like every other set change. Per list the loop keeps
//! the entries with their provenance (for `bans explain` and `status`)
//! and the elements the kernel holds, so an update costs the kernel only
//! its difference (see [`sipwall_blocklist::cover`]).
//!
//! Allowlisted zones (`guard.allow`) and loopback win over every list:
//! they are cut out of each entry before it reaches a set. An entry
//! inside another one of its list is folded into it (an interval set
//! refuses overlaps) and shows again when the outer one ends.
//!
//! Memory is bounded: at most [`MAX_ENTRIES`] entries a list (what its
//! set holds), provenance texts of at most [`MAX_DETAIL`] bytes.

use super::kernel::KernelSets;
use ipnet::IpNet;
use sipwall_blocklist::cover::{self, Elements, Until};
use sipwall_blocklist::Entry;
use sipwall_control::ListMatch;
use sipwall_engine::remote_text::printable;
use sipwall_engine::Timestamp;
use sipwall_netfilter::NetfilterError;
use sipwall_ruleset::sets::ListSets;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Entries a list holds at most: its set's size.
pub const MAX_ENTRIES: usize = sipwall_ruleset::compile::LIST_SET_SIZE as usize;
/// The longest provenance text kept per entry, in bytes.
pub const MAX_DETAIL: usize = 160;

/// Which list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListId {
    /// CrowdSec's decisions.
    CrowdSec,
    /// A `[[feeds]]` entry, by name.
    Feed(String),
}

impl ListId {
    /// Its kernel sets: addresses and networks, IPv4 and IPv6.
    fn sets(&self) -> ListSets {
        match self {
            ListId::CrowdSec => ListSets::crowdsec(),
            ListId::Feed(name) => ListSets::feed(name),
        }
    }
}

impl fmt::Display for ListId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListId::CrowdSec => f.write_str("crowdsec"),
            ListId::Feed(name) => write!(f, "feed {name}"),
        }
    }
}

/// One entry of a list, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The network and how long.
    pub entry: Entry,
    /// Its id at the source (a CrowdSec decision's id; 0 for a feed).
    pub id: u64,
    /// Where it came from (a scenario and origin, a feed's URL), as the
    /// source wrote it: escaped wherever it is shown.
    pub detail: String,
}

/// What a fetcher sends the loop.
#[derive(Debug)]
pub enum Update {
    /// A list's whole content (a feed's download, CrowdSec's startup stream).
    Replace {
        /// The list.
        list: ListId,
        /// Everything it holds now.
        entries: Vec<Listed>,
    },
    /// Entries that came (CrowdSec's new decisions).
    Add {
        /// The list.
        list: ListId,
        /// The new entries.
        entries: Vec<Listed>,
    },
    /// Entries that went (CrowdSec's deleted decisions), by network and id.
    Remove {
        /// The list.
        list: ListId,
        /// The entries gone.
        gone: Vec<(IpNet, u64)>,
    },
    /// How the list's source is doing, for `status` (`None`: fine).
    Health {
        /// The list.
        list: ListId,
        /// The last problem, when the last attempt failed.
        problem: Option<String>,
    },
}

/// An entry as kept.
#[derive(Debug, Clone)]
struct Held {
    until: Until,
    detail: Box<str>,
}

/// One list: its entries and what its sets hold.
#[derive(Debug)]
struct List {
    id: ListId,
    sets: ListSets,
    entries: HashMap<(IpNet, u64), Held>,
    /// What the kernel holds; `None` until the first write, when the sets
    /// may still hold a previous daemon's elements (the first write
    /// replaces them whole).
    kernel: Option<Elements>,
    updated: Option<Timestamp>,
    problem: Option<String>,
    /// Entries refused because the list was full.
    refused: u64,
    /// When its first entry ends (as of its last write).
    next_end: Option<u64>,
}

/// Every external list of the policy.
#[derive(Debug)]
pub struct Blocklists {
    allow: Vec<IpNet>,
    lists: Vec<List>,
}

impl Blocklists {
    /// The lists the policy names (CrowdSec, then each feed), empty.
    pub fn new(policy: &sipwall_policy::Policy) -> Blocklists {
        let any = policy
            .guard
            .allow
            .iter()
            .any(|z| policy.zone(z).is_some_and(|z| z.is_any()));
        let mut allow = if any {
            // Everyone is allowlisted: no list bans anybody.
            vec![
                "0.0.0.0/0".parse().expect("valid"),
                "::/0".parse().expect("valid"),
            ]
        } else {
            policy.guard_allow_nets()
        };
        allow.extend(["127.0.0.0/8", "::1/128"].map(|n| n.parse::<IpNet>().expect("valid")));
        let ids = policy
            .crowdsec
            .as_ref()
            .map(|_| ListId::CrowdSec)
            .into_iter()
            .chain(policy.feeds.iter().map(|f| ListId::Feed(f.name.clone())));
        Blocklists {
            allow,
            lists: ids
                .map(|id| List {
                    sets: id.sets(),
                    id,
                    entries: HashMap::new(),
                    kernel: None,
                    updated: None,
                    problem: None,
                    refused: 0,
                    next_end: None,
                })
                .collect(),
        }
    }

    /// Applies a fetcher's update at `now` and writes the difference to
    /// the list's sets. An update for a list the policy does not name is
    /// ignored. On a kernel error the list's record is kept and the next
    /// write replaces its sets whole.
    pub fn apply(
        &mut self,
        update: Update,
        now: Timestamp,
        sets: &mut KernelSets,
    ) -> Result<(), NetfilterError> {
        let id = match &update {
            Update::Replace { list, .. }
            | Update::Add { list, .. }
            | Update::Remove { list, .. }
            | Update::Health { list, .. } => list.clone(),
        };
        let Some(list) = self.lists.iter_mut().find(|l| l.id == id) else {
            return Ok(());
        };
        match update {
            Update::Health { problem, .. } => {
                list.problem = problem;
                return Ok(());
            }
            Update::Replace { entries, .. } => {
                list.entries.clear();
                list.insert(entries, now);
            }
            Update::Add { entries, .. } => list.insert(entries, now),
            Update::Remove { gone, .. } => {
                for key in gone {
                    list.entries.remove(&(key.0.trunc(), key.1));
                }
            }
        }
        list.problem = None;
        list.updated = Some(now);
        list.write(&self.allow, now, sets)
    }

    /// When an entry of some list ends next: then [`Blocklists::expire`]
    /// brings back what it hid.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        // Each list keeps its own next end: the loop asks every pass, and
        // a list holds up to a million entries.
        self.lists
            .iter()
            .filter_map(|l| l.next_end)
            .min()
            .map(Timestamp::from_micros)
    }

    /// Forgets the entries that ended by `now` and writes what changes
    /// (an entry a shorter-lived network hid shows again).
    pub fn expire(&mut self, now: Timestamp, sets: &mut KernelSets) -> Result<(), NetfilterError> {
        let t = now.micros();
        let mut result = Ok(());
        for list in &mut self.lists {
            let before = list.entries.len();
            list.entries.retain(|_, h| h.until.is_none_or(|u| u > t));
            if list.entries.len() != before {
                if let Err(e) = list.write(&self.allow, now, sets) {
                    result = Err(e);
                }
            }
        }
        result
    }

    /// Whether the policy names no list (no `[crowdsec]`, no `[[feeds]]`).
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Which lists hold `addr`, and by which entries (provenance escaped).
    pub fn matches(&self, addr: IpAddr) -> Vec<ListMatch> {
        let mut out = Vec::new();
        for list in &self.lists {
            for ((net, _), held) in &list.entries {
                if net.contains(&addr) {
                    out.push(ListMatch {
                        list: list.id.to_string(),
                        net: net.to_string(),
                        detail: printable(held.detail.as_bytes(), MAX_DETAIL),
                        until: held.until.map(|u| u / 1_000_000),
                    });
                }
            }
        }
        out
    }

    /// Each list's state, for `status`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.lists
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "list": l.id.to_string(),
                        "sets": l.sets.addrs.iter().chain(&l.sets.nets).collect::<Vec<_>>(),
                        "entries": l.entries.len(),
                        "elements": l.kernel.as_ref().map(|k| k.len()),
                        "updated": l.updated.map(|t| t.micros() / 1_000_000),
                        "problem": l.problem.as_deref().map(|p| printable(p.as_bytes(), 400)),
                        "refused_full": l.refused,
                    })
                })
                .collect(),
        )
    }
}

impl List {
    /// Keeps `entries`, up to the list's bound.
    fn insert(&mut self, entries: Vec<Listed>, now: Timestamp) {
        for l in entries {
            let key = (l.entry.net.trunc(), l.id);
            if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&key) {
                self.refused += 1;
                continue;
            }
            let until = l
                .entry
                .ttl
                .map(|ttl| now.micros().saturating_add(ttl.as_micros() as u64));
            let mut detail = l.detail;
            if detail.len() > MAX_DETAIL {
                let mut cut = MAX_DETAIL;
                while !detail.is_char_boundary(cut) {
                    cut -= 1;
                }
                detail.truncate(cut);
            }
            self.entries.insert(
                key,
                Held {
                    until,
                    detail: detail.into_boxed_str(),
                },
            );
        }
    }

    /// Writes the difference between what the kernel holds and this
    /// list's cover at `now` (the whole cover, the first time).
    fn write(
        &mut self,
        allow: &[IpNet],
        now: Timestamp,
        sets: &mut KernelSets,
    ) -> Result<(), NetfilterError> {
        let t = now.micros();
        self.next_end = self.entries.values().filter_map(|h| h.until).min();
        let wanted = cover::cover(
            self.entries.iter().flat_map(|((net, _), held)| {
                cover::without(*net, allow)
                    .into_iter()
                    .map(move |piece| (piece, held.until))
            }),
            t,
        );
        let timeout = |until: Until| {
            until.map_or(Duration::ZERO, |u| {
                // At least a second: a zero timeout is the set's default,
                // which for these sets is forever.
                Duration::from_micros(u.saturating_sub(t)).max(Duration::from_secs(1))
            })
        };
        let result = match &self.kernel {
            None => sets.replace_list(
                &self.sets,
                &wanted
                    .iter()
                    .map(|(net, until)| (*net, timeout(*until)))
                    .collect::<Vec<_>>(),
            ),
            Some(old) => {
                let (deletes, adds) = cover::diff(old, &wanted);
                sets.update_list(
                    &self.sets,
                    &deletes,
                    &adds
                        .into_iter()
                        .map(|(net, until)| (net, timeout(until)))
                        .collect::<Vec<_>>(),
                )
            }
        };
        self.kernel = match result {
            Ok(()) => Some(wanted),
            // Unknown now: the next write replaces the sets whole.
            Err(_) => None,
        };
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(net: &str, ttl: Option<u64>, id: u64) -> Listed {
        Listed {
            entry: Entry {
                net: net.parse().unwrap(),
                ttl: ttl.map(Duration::from_secs),
            },
            id,
            detail: format!("decision {id}"),
        }
    }

    #[test]
    fn a_list_never_holds_more_than_its_bound_and_counts_the_rest() {
        let mut list = List {
            id: ListId::Feed("x".into()),
            sets: ListId::Feed("x".into()).sets(),
            entries: HashMap::new(),
            kernel: None,
            updated: None,
            problem: None,
            refused: 0,
            next_end: None,
        };
        let many: Vec<Listed> = (0..MAX_ENTRIES as u128 + 5)
            .map(|i| {
                let addr = std::net::Ipv6Addr::from((0x2001_0db8_u128 << 96) + i);
                Listed {
                    entry: Entry {
                        net: IpNet::from(IpAddr::V6(addr)),
                        ttl: None,
                    },
                    id: 0,
                    detail: "x".repeat(1000),
                }
            })
            .collect();
        list.insert(many, Timestamp::from_micros(0));
        assert_eq!(list.entries.len(), MAX_ENTRIES);
        assert_eq!(list.refused, 5);
        assert!(list.entries.values().all(|h| h.detail.len() == MAX_DETAIL));
    }

    #[test]
    fn two_decisions_on_one_address_end_one_at_a_time() {
        let mut list = List {
            id: ListId::CrowdSec,
            sets: ListId::CrowdSec.sets(),
            entries: HashMap::new(),
            kernel: None,
            updated: None,
            problem: None,
            refused: 0,
            next_end: None,
        };
        list.insert(
            vec![
                listed("203.0.113.9/32", Some(60), 1),
                listed("203.0.113.9/32", Some(3600), 2),
            ],
            Timestamp::from_micros(0),
        );
        assert_eq!(list.entries.len(), 2);
        list.entries.remove(&("203.0.113.9/32".parse().unwrap(), 2));
        assert_eq!(list.entries.len(), 1);
    }

    /// A network namespace of the test's own with sipwall's table compiled
    /// from `policy`, removed on drop.
    struct Netns(String);

    impl Netns {
        fn new(policy: &sipwall_policy::Policy) -> Option<Netns> {
            let name = format!("swlist{}", std::process::id());
            let ok = std::process::Command::new("ip")
                .args(["netns", "add", &name])
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
            let ns = Netns(name);
            let text = sipwall_ruleset::nft::render(&sipwall_ruleset::compile(policy, "t"));
            let file = format!("/tmp/{}.nft", ns.0);
            std::fs::write(&file, text).unwrap();
            let out = ns.nft(&["-f", &file]);
            let _ = std::fs::remove_file(&file);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(ns)
        }

        fn nft(&self, args: &[&str]) -> std::process::Output {
            std::process::Command::new("ip")
                .args(["netns", "exec", &self.0, "nft"])
                .args(args)
                .output()
                .unwrap()
        }

        fn holds(&self, set: &str, addr: &str) -> bool {
            self.nft(&[
                "get",
                "element",
                "inet",
                "sipwall",
                set,
                &format!("{{ {addr} }}"),
            ])
            .status
            .success()
        }

        fn list(&self, set: &str) -> String {
            String::from_utf8_lossy(&self.nft(&["list", "set", "inet", "sipwall", set]).stdout)
                .into_owned()
        }

        /// Runs `f` on a thread inside the namespace.
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
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }

    #[test]
    fn lists_fill_their_own_sets_around_the_allowlist_and_follow_their_updates() {
        let policy = sipwall_policy::parse(
            "p.toml",
            "[zones]\npartners = [\"203.0.113.8/30\"]\n\
             [guard]\nallow = [\"partners\"]\n\
             [crowdsec]\nlapi = \"http://192.0.2.1:8080\"\n\
             [[feeds]]\nname = \"voipbl\"\nkind = \"list\"\nfile = \"/etc/sipwall/voipbl.txt\"\n",
        )
        .unwrap();
        let Some(ns) = Netns::new(&policy) else {
            return;
        };
        let mut lists = Blocklists::new(&policy);
        let t0 = Timestamp::from_micros(1_000_000_000_000);
        let later = |secs: u64| Timestamp::from_micros(t0.micros() + secs * 1_000_000);
        ns.within(|| {
            let mut sets = KernelSets::new(sipwall_netfilter::SetWriter::open("sipwall").unwrap());
            // A feed: a network holding an allowlisted one, an address
            // inside another listed network, a v6 address.
            let feed = ListId::Feed("voipbl".into());
            let entries = [
                "203.0.113.0/24",
                "198.51.100.0/25",
                "198.51.100.7/32",
                "2001:db8::66/128",
            ]
            .map(|n| listed(n, None, 0))
            .to_vec();
            lists
                .apply(
                    Update::Replace {
                        list: feed.clone(),
                        entries,
                    },
                    t0,
                    &mut sets,
                )
                .unwrap();
            // CrowdSec: an address for 60 s inside a range for 10 s.
            let cs = ListId::CrowdSec;
            lists
                .apply(
                    Update::Add {
                        list: cs.clone(),
                        entries: vec![
                            listed("192.0.2.0/24", Some(10), 1),
                            listed("192.0.2.77/32", Some(60), 2),
                        ],
                    },
                    t0,
                    &mut sets,
                )
                .unwrap();
            // The feed's next download drops the /25.
            let entries = ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::66/128"]
                .map(|n| listed(n, None, 0))
                .to_vec();
            lists
                .apply(
                    Update::Replace {
                        list: feed,
                        entries,
                    },
                    later(1),
                    &mut sets,
                )
                .unwrap();
        });
        // Networks in the interval sets, single addresses in the hash sets.
        assert!(ns.holds("feed_voipbl_net_v4", "203.0.113.200"));
        assert!(
            !ns.holds("feed_voipbl_net_v4", "203.0.113.9")
                && !ns.holds("feed_voipbl_v4", "203.0.113.9"),
            "allowlisted wins"
        );
        assert!(ns.holds("feed_voipbl_v4", "198.51.100.7"));
        assert!(
            !ns.holds("feed_voipbl_net_v4", "198.51.100.8"),
            "the /25 left"
        );
        assert!(ns.holds("feed_voipbl_v6", "2001:db8::66"));
        assert!(ns.holds("crowdsec_net_v4", "192.0.2.200"));
        let nets = ns.list("crowdsec_net_v4");
        assert!(nets.contains("192.0.2.0/24 timeout 10s"), "{nets}");
        let addrs = ns.list("crowdsec_v4");
        assert!(
            !addrs.contains("192.0.2.77"),
            "folded into the range: {addrs}"
        );
        let m = lists.matches("192.0.2.77".parse().unwrap());
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m.iter().all(|m| m.list == "crowdsec"));
        // The range ends: the address inside shows, with its own time left.
        assert_eq!(lists.poll_timeout(), Some(later(10)));
        ns.within(|| {
            let mut sets = KernelSets::new(sipwall_netfilter::SetWriter::open("sipwall").unwrap());
            lists.expire(later(10), &mut sets).unwrap();
            lists
                .apply(
                    Update::Remove {
                        list: ListId::CrowdSec,
                        gone: vec![("203.0.113.1/32".parse().unwrap(), 9)],
                    },
                    later(10),
                    &mut sets,
                )
                .unwrap();
        });
        let addrs = ns.list("crowdsec_v4");
        assert!(addrs.contains("192.0.2.77 timeout 50s"), "{addrs}");
        let nets = ns.list("crowdsec_net_v4");
        assert!(!nets.contains("192.0.2.0/24"), "{nets}");
        let status = lists.status();
        assert_eq!(status[0]["list"], "crowdsec");
        assert_eq!(status[0]["entries"], 1);
        // The /24 around the allowlisted /30 is six prefixes.
        assert_eq!(status[1]["elements"], 8, "{status}");
    }
}
