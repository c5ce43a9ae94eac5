//! The engine's actions as set updates in sipwall's table.

use ipnet::IpNet;
use sipwall_control::MAX_BAN;
use sipwall_engine::{Action, CloseReason, PinholeKey, Timestamp};
use sipwall_netfilter::{Addition, Key, NetfilterError, SetWriter};
use sipwall_ruleset::sets::{self, ListSets};
use std::net::IpAddr;
use std::time::Duration;

/// The kernel sets the daemon fills.
#[derive(Debug)]
pub struct KernelSets {
    writer: SetWriter,
}

/// A list's elements of one family (IPv4 when `v4`), split into single
/// addresses and networks.
type Split = (Vec<(IpNet, Duration)>, Vec<(IpNet, Duration)>);

fn split(elements: impl Iterator<Item = (IpNet, Duration)>, v4: bool) -> Split {
    elements
        .filter(|(net, _)| matches!(net, IpNet::V4(_)) == v4)
        .partition(|(net, _)| net.prefix_len() == net.max_prefix_len())
}

fn keys_of(hosts: &[(IpNet, Duration)]) -> Vec<(Key, Duration)> {
    hosts
        .iter()
        .map(|(n, t)| (Key::Addr(n.addr()), *t))
        .collect()
}

fn prefixes_of(nets: &[(IpNet, Duration)]) -> Vec<(IpAddr, u8, Duration)> {
    nets.iter()
        .map(|(n, t)| (n.addr(), n.prefix_len(), *t))
        .collect()
}

fn ban_set(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() {
        sets::BAN_V4
    } else {
        sets::BAN_V6
    }
}

/// The interval set that holds prefix bans of `prefix`'s family.
fn ban_net_set(prefix: &IpNet) -> &'static str {
    match prefix {
        IpNet::V4(_) => sets::BAN_NET_V4,
        IpNet::V6(_) => sets::BAN_NET_V6,
    }
}

/// The set of verified sources of `addr`'s family.
fn verified_set(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() {
        sets::VERIFIED_V4
    } else {
        sets::VERIFIED_V6
    }
}

fn pinhole(key: PinholeKey) -> (&'static str, Key) {
    match key.remote {
        None => (sets::PINHOLE_PORT, Key::Port(key.port)),
        Some(r) if r.is_ipv4() => (sets::PINHOLE_V4, Key::AddrPort(r, key.port)),
        Some(r) => (sets::PINHOLE_V6, Key::AddrPort(r, key.port)),
    }
}

impl KernelSets {
    /// Writes through `writer`.
    pub fn new(writer: SetWriter) -> Self {
        KernelSets { writer }
    }

    /// Makes `elements` the whole content of a list's sets: single
    /// addresses into its hash sets, networks into its interval sets.
    pub fn replace_list(
        &mut self,
        sets: &ListSets,
        elements: &[(IpNet, Duration)],
    ) -> Result<(), NetfilterError> {
        for (family, v4) in [0, 1].into_iter().zip([true, false]) {
            let (hosts, nets) = split(elements.iter().copied(), v4);
            self.writer
                .replace_keys(&sets.addrs[family], &keys_of(&hosts))?;
            self.writer
                .replace_prefixes(&sets.nets[family], &prefixes_of(&nets))?;
        }
        Ok(())
    }

    /// Deletes then adds elements of a list's sets, each set's change in
    /// one transaction when it fits.
    pub fn update_list(
        &mut self,
        sets: &ListSets,
        deletes: &[IpNet],
        adds: &[(IpNet, Duration)],
    ) -> Result<(), NetfilterError> {
        for (family, v4) in [0, 1].into_iter().zip([true, false]) {
            let (gone_hosts, gone_nets) = split(deletes.iter().map(|n| (*n, Duration::ZERO)), v4);
            let (new_hosts, new_nets) = split(adds.iter().copied(), v4);
            if !gone_hosts.is_empty() || !new_hosts.is_empty() {
                let gone: Vec<Key> = keys_of(&gone_hosts).into_iter().map(|(k, _)| k).collect();
                self.writer
                    .update_keys(&sets.addrs[family], &gone, &keys_of(&new_hosts))?;
            }
            if !gone_nets.is_empty() || !new_nets.is_empty() {
                let gone: Vec<_> = gone_nets
                    .iter()
                    .map(|(n, _)| (n.addr(), n.prefix_len()))
                    .collect();
                self.writer
                    .update_prefixes(&sets.nets[family], &gone, &prefixes_of(&new_nets))?;
            }
        }
        Ok(())
    }

    /// Bans many addresses at once (a restore), in batches per family.
    /// What the kernel refuses is skipped and returned with its reason, so
    /// one bad element never keeps the others out.
    pub fn ban_many(
        &mut self,
        bans: &[(IpAddr, Duration)],
    ) -> Result<Vec<(IpAddr, NetfilterError)>, NetfilterError> {
        let mut refused = Vec::new();
        for v4 in [true, false] {
            let family: Vec<(Key, Duration)> = bans
                .iter()
                .filter(|(a, _)| a.is_ipv4() == v4)
                .map(|(a, d)| (Key::Addr(*a), (*d).clamp(Duration::from_secs(1), MAX_BAN)))
                .collect();
            if !family.is_empty() {
                let set = if v4 { sets::BAN_V4 } else { sets::BAN_V6 };
                for (key, why) in self.writer.add_each(set, &family)? {
                    if let Key::Addr(a) = key {
                        refused.push((a, why));
                    }
                }
            }
        }
        Ok(refused)
    }

    /// Bans the network `prefix` for `length` (clamped like [`Self::ban_many`]'s)
    /// as one interval element of `ban_net_v4`/`ban_net_v6`.
    pub fn ban_prefix(&mut self, prefix: IpNet, length: Duration) -> Result<(), NetfilterError> {
        self.writer.add_prefixes(
            ban_net_set(&prefix),
            &[(
                prefix.network(),
                prefix.prefix_len(),
                length.clamp(Duration::from_secs(1), MAX_BAN),
            )],
        )
    }

    /// Removes the prefix ban element of `prefix` (gone already is fine).
    pub fn unban_prefix(&mut self, prefix: IpNet) -> Result<(), NetfilterError> {
        self.writer
            .delete_prefix(ban_net_set(&prefix), prefix.network(), prefix.prefix_len())
    }

    /// Removes the ban element of `addr` (gone already is fine).
    pub fn unban(&mut self, addr: IpAddr) -> Result<(), NetfilterError> {
        self.writer.delete(ban_set(addr), Key::Addr(addr))
    }

    /// Carries a loop pass's actions out, in order: the additions among
    /// them (bans, verifications, pinholes) in one transaction, any other
    /// update (a deletion, a prefix) alone after the additions before it,
    /// so an element added then removed in one pass ends removed (see
    /// [`plan`]). Returns the positions in `actions` of the updates that
    /// failed, and why; an element the kernel refuses never keeps the
    /// others out.
    pub fn apply_all(
        &mut self,
        actions: &[Action],
        now: Timestamp,
    ) -> Vec<(usize, NetfilterError)> {
        let mut failed = Vec::new();
        for step in plan(actions, now) {
            match step {
                Step::Add(batch) => {
                    let adds: Vec<Addition<'static>> = batch.iter().map(|(_, a)| *a).collect();
                    match self.writer.add_each_of(&adds) {
                        Ok(refused) => {
                            failed.extend(refused.into_iter().map(|(j, e)| (batch[j].0, e)))
                        }
                        // The conversation failed: none of them is known to be in.
                        Err(e) => failed.extend(
                            batch
                                .iter()
                                .map(|(i, _)| (*i, NetfilterError::Netlink(e.to_string()))),
                        ),
                    }
                }
                Step::Alone(i) => {
                    if let Err(e) = self.apply_alone(&actions[i], now) {
                        failed.push((i, e));
                    }
                }
            }
        }
        failed.sort_by_key(|(i, _)| *i);
        failed
    }

    /// An update that is not a plain addition, on its own.
    fn apply_alone(&mut self, action: &Action, now: Timestamp) -> Result<(), NetfilterError> {
        match action {
            Action::Unban { addr } => self.unban(*addr),
            // The single bans inside the prefix stay and end with their
            // own timeouts: the interval element covers them meanwhile.
            Action::BanPrefix { prefix, until, .. } => self.ban_prefix(*prefix, until.since(now)),
            Action::UnbanPrefix { prefix } => self.unban_prefix(*prefix),
            Action::ClosePinhole { key, .. } => {
                let (set, k) = pinhole(*key);
                self.writer.delete(set, k)
            }
            _ => Ok(()),
        }
    }
}

/// One step of a pass's kernel updates.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Additions sent as one transaction: (position in the pass, element).
    Add(Vec<(usize, Addition<'static>)>),
    /// The update of the action at this position, alone (deletions each
    /// go alone: one of an element already gone would roll back a batch).
    Alone(usize),
}

/// A pass's actions as kernel steps, in their order: consecutive
/// additions share a step. Actions the kernel does by itself (expiries,
/// ends of bans) and those with no kernel side are left out.
fn plan(actions: &[Action], now: Timestamp) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        if let Some(add) = addition(action, now) {
            match steps.last_mut() {
                Some(Step::Add(batch)) => batch.push((i, add)),
                _ => steps.push(Step::Add(vec![(i, add)])),
            }
            continue;
        }
        let alone = match action {
            Action::Unban { .. } | Action::BanPrefix { .. } | Action::UnbanPrefix { .. } => true,
            Action::ClosePinhole { reason, .. } => *reason != CloseReason::Expired,
            _ => false,
        };
        if alone {
            steps.push(Step::Alone(i));
        }
    }
    steps
}

/// The set element an action adds, if it adds one: `(set, key, timeout)`.
fn addition(action: &Action, now: Timestamp) -> Option<Addition<'static>> {
    let one_second = Duration::from_secs(1);
    match action {
        Action::Ban { addr, until, .. } => Some((
            ban_set(*addr),
            Key::Addr(*addr),
            until.since(now).clamp(one_second, MAX_BAN),
        )),
        // The first line exempts it from its flood bans until then.
        Action::Verified { addr, until } => Some((
            verified_set(*addr),
            Key::Addr(*addr),
            until.since(now).clamp(one_second, MAX_BAN),
        )),
        Action::OpenPinhole { key, until } => {
            let (set, k) = pinhole(*key);
            Some((set, k, until.since(now).max(one_second)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipwall_engine::BanReason;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_pinhole_opened_and_closed_in_one_pass_ends_closed_and_the_bans_around_share_batches() {
        let now = Timestamp::from_micros(1_000_000_000);
        let until = now + Duration::from_secs(60);
        let key = PinholeKey {
            remote: None,
            port: 16400,
        };
        let ban = |a: &str| Action::Ban {
            addr: ip(a),
            until,
            reason: BanReason::Flood,
            evidence: String::new(),
        };
        let actions = [
            ban("192.0.2.1"),
            Action::OpenPinhole { key, until },
            Action::ClosePinhole {
                key,
                reason: CloseReason::CallEnded,
            },
            ban("192.0.2.2"),
            ban("2001:db8::2"),
            Action::BanExpired {
                addr: ip("192.0.2.3"),
            },
            Action::ClosePinhole {
                key,
                reason: CloseReason::Expired,
            },
        ];
        let steps = plan(&actions, now);
        let positions: Vec<Vec<usize>> = steps
            .iter()
            .map(|s| match s {
                Step::Add(b) => b.iter().map(|(i, _)| *i).collect(),
                Step::Alone(i) => vec![100 + i],
            })
            .collect();
        // The close after its open; expiries are the kernel's own.
        assert_eq!(positions, vec![vec![0, 1], vec![102], vec![3, 4]]);
        let Step::Add(last) = &steps[2] else {
            unreachable!()
        };
        assert_eq!(
            last[1].1,
            (
                sets::BAN_V6,
                Key::Addr(ip("2001:db8::2")),
                Duration::from_secs(60)
            )
        );
    }
}
