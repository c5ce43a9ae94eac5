//! From a list's entries to the elements of its kernel set.
//!
//! An interval set refuses overlapping elements, and lists overlap: a feed
//! names a /24 and addresses inside it, CrowdSec holds a `Range` decision
//! and `Ip` decisions within it. The set holds the cover instead: every
//! entry not inside another one, each once, with the longest time any
//! entry of that exact network gives it. An entry inside a shorter-lived
//! network is hidden while that network lasts; the owner computes the
//! cover again when an entry ends, which brings it back.
//!
//! Allowlisted networks win over every list: [`without`] cuts them out of
//! an entry before it reaches the cover, splitting it into the prefixes
//! around them.
//!
//! Times are microseconds since the Unix epoch; `None` is "until the list
//! drops it".

use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};

/// When an element ends: `None` never (until its list drops it).
pub type Until = Option<u64>;

/// The elements a set should hold: disjoint networks and their end.
pub type Elements = BTreeMap<IpNet, Until>;

/// The later of two ends (`None`, never, is the latest).
fn later(a: Until, b: Until) -> Until {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

/// The cover of `entries` alive at `now`: networks not inside another
/// live entry's network, each with its latest end.
pub fn cover(entries: impl IntoIterator<Item = (IpNet, Until)>, now: u64) -> Elements {
    let mut live: HashMap<IpNet, Until> = HashMap::new();
    for (net, until) in entries {
        if until.is_some_and(|u| u <= now) {
            continue;
        }
        let net = net.trunc();
        live.entry(net)
            .and_modify(|u| *u = later(*u, until))
            .or_insert(until);
    }
    // Looking up each shorter prefix of a network is at most 32 or 128
    // hash lookups: linear in the entries, whatever their nesting. Only
    // the lengths some entry has are looked up: 100,000 single addresses
    // and no range cost no lookup at all (128 each took seconds).
    let mut lengths = [0u128; 2];
    for net in live.keys() {
        if net.prefix_len() < 128 {
            lengths[usize::from(matches!(net, IpNet::V6(_)))] |= 1 << net.prefix_len();
        }
    }
    let covered = |net: &IpNet| {
        let present = lengths[usize::from(matches!(net, IpNet::V6(_)))];
        (0..net.prefix_len())
            .filter(|len| present >> len & 1 == 1)
            .any(|len| {
                IpNet::new(net.addr(), len)
                    .map(|n| live.contains_key(&n.trunc()))
                    .unwrap_or(false)
            })
    };
    live.iter()
        .filter(|(net, _)| !covered(net))
        .map(|(net, until)| (*net, *until))
        .collect()
}

/// What changes a set from `old` to `new`: the networks to delete, then
/// the ones to add (new, or with another end). Deletions go first in the
/// same transaction: an addition may cover a network being deleted.
pub fn diff(old: &Elements, new: &Elements) -> (Vec<IpNet>, Vec<(IpNet, Until)>) {
    let deletes = old
        .keys()
        .filter(|net| !new.contains_key(net))
        .copied()
        .collect();
    let adds = new
        .iter()
        .filter(|(net, until)| old.get(net) != Some(until))
        .map(|(net, until)| (*net, *until))
        .collect();
    (deletes, adds)
}

/// `net` without the networks of `allow`: `net` itself when none meets
/// it, nothing when one holds it, else the prefixes of `net` around them
/// (at most one per bit of prefix length for each allowlisted network).
pub fn without(net: IpNet, allow: &[IpNet]) -> Vec<IpNet> {
    let net = net.trunc();
    let meets = |a: &IpNet| a.contains(&net) || net.contains(a);
    if !allow.iter().any(meets) {
        return vec![net];
    }
    if allow.iter().any(|a| a.contains(&net)) {
        return Vec::new();
    }
    // An allowlisted network lies inside: halve and look again.
    match net.subnets(net.prefix_len() + 1) {
        Ok(halves) => halves.flat_map(|half| without(half, allow)).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_inside_a_listed_network_is_not_a_second_element() {
        let c = cover(
            [
                (net("203.0.113.0/24"), Some(100)),
                (net("203.0.113.9/32"), Some(500)),
                (net("198.51.100.7/32"), None),
                (net("198.51.100.7/32"), Some(50)),
            ],
            10,
        );
        assert_eq!(
            c.into_iter().collect::<Vec<_>>(),
            [
                (net("198.51.100.7/32"), None),
                (net("203.0.113.0/24"), Some(100)),
            ]
        );
        // Once the network ended, the address inside shows.
        let c = cover(
            [
                (net("203.0.113.0/24"), Some(100)),
                (net("203.0.113.9/32"), Some(500)),
            ],
            100,
        );
        assert_eq!(c.get(&net("203.0.113.9/32")), Some(&Some(500)));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn host_bits_of_a_listed_network_are_cleared() {
        let c = cover([(net("203.0.113.77/24"), None)], 0);
        assert!(c.contains_key(&net("203.0.113.0/24")));
    }

    #[test]
    fn an_allowlisted_network_is_cut_out_of_a_listed_range() {
        let allow = [net("203.0.113.8/30"), net("2001:db8::/48")];
        let pieces = without(net("203.0.113.0/24"), &allow);
        assert_eq!(pieces.len(), 6, "{pieces:?}");
        for p in &pieces {
            assert!(!p.contains(&net("203.0.113.9/32")), "{p}");
            assert!(!allow[0].contains(p), "{p}");
        }
        let total: u32 = pieces.iter().map(|p| 1 << (32 - p.prefix_len())).sum();
        assert_eq!(total, 256 - 4);
        assert!(without(net("2001:db8::5/128"), &allow).is_empty());
        assert_eq!(
            without(net("2001:db8:1::/48"), &allow),
            [net("2001:db8:1::/48")]
        );
        // A range that holds the whole address space still leaves the rest.
        assert_eq!(without(net("0.0.0.0/0"), &allow).len(), 30);
    }

    #[test]
    fn the_diff_deletes_what_went_and_adds_what_is_new_or_moved() {
        let old: Elements = [
            (net("203.0.113.9/32"), Some(5)),
            (net("198.51.100.1/32"), None),
        ]
        .into_iter()
        .collect();
        let new: Elements = [
            (net("203.0.113.0/24"), Some(9)),
            (net("198.51.100.1/32"), Some(7)),
        ]
        .into_iter()
        .collect();
        let (deletes, adds) = diff(&old, &new);
        assert_eq!(deletes, [net("203.0.113.9/32")]);
        assert_eq!(
            adds,
            [
                (net("198.51.100.1/32"), Some(7)),
                (net("203.0.113.0/24"), Some(9))
            ]
        );
        assert_eq!(diff(&new, &new), (vec![], vec![]));
    }
}
