//! The engine's actions as set updates in sipwall's table.

use ipnet::IpNet;
use sipwall_control::MAX_BAN;
use sipwall_engine::{Action, CloseReason, PinholeKey, Timestamp};
use sipwall_netfilter::{Addition, Key, NetfilterError, SetWriter};
use sipwall_ruleset::sets;
use std::net::IpAddr;
use std::time::Duration;

/// The kernel sets the daemon fills.
#[derive(Debug)]
pub struct KernelSets {
    writer: SetWriter,
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

    /// Bans the network `prefix` for `length` (clamped like [`Self::ban`])
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
    /// so an element added then removed in one pass ends removed. Actions
    /// the kernel does by itself (expiries) do nothing. Returns the
    /// positions in `actions` of the updates that failed, and why; an
    /// element the kernel refuses never keeps the others out.
    pub fn apply_all(
        &mut self,
        actions: &[Action],
        now: Timestamp,
    ) -> Vec<(usize, NetfilterError)> {
        let mut failed = Vec::new();
        let mut pending: Vec<(usize, Addition<'static>)> = Vec::new();
        for (i, action) in actions.iter().enumerate() {
            if let Some(add) = addition(action, now) {
                pending.push((i, add));
                continue;
            }
            let other = match action {
                Action::Unban { addr } => Some(self.unban(*addr)),
                // The single bans inside the prefix stay and end with their
                // own timeouts: the interval element covers them meanwhile.
                Action::BanPrefix { prefix, until, .. } => {
                    Some(self.ban_prefix(*prefix, until.since(now)))
                }
                Action::UnbanPrefix { prefix } => Some(self.unban_prefix(*prefix)),
                Action::ClosePinhole { key, reason } if *reason != CloseReason::Expired => {
                    let (set, k) = pinhole(*key);
                    Some(self.writer.delete(set, k))
                }
                _ => None,
            };
            if let Some(result) = other {
                // Order within the pass: what was added before goes first.
                self.add_pending(&mut pending, &mut failed);
                if let Err(e) = result {
                    failed.push((i, e));
                }
            }
        }
        self.add_pending(&mut pending, &mut failed);
        failed.sort_by_key(|(i, _)| *i);
        failed
    }

    /// Sends the additions waiting in `pending` as one batch.
    fn add_pending(
        &mut self,
        pending: &mut Vec<(usize, Addition<'static>)>,
        failed: &mut Vec<(usize, NetfilterError)>,
    ) {
        if pending.is_empty() {
            return;
        }
        let adds: Vec<Addition<'static>> = pending.iter().map(|(_, a)| *a).collect();
        match self.writer.add_each_of(&adds) {
            Ok(refused) => failed.extend(refused.into_iter().map(|(j, e)| (pending[j].0, e))),
            // The conversation failed: none of them is known to be in.
            Err(e) => failed.extend(
                pending
                    .iter()
                    .map(|(i, _)| (*i, NetfilterError::Netlink(e.to_string()))),
            ),
        }
        pending.clear();
    }
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
