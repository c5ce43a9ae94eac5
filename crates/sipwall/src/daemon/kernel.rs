//! The engine's actions as set updates in sipwall's table.

use ipnet::IpNet;
use sipwall_control::MAX_BAN;
use sipwall_engine::{Action, CloseReason, PinholeKey, Timestamp};
use sipwall_netfilter::{Key, NetfilterError, SetWriter};
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

    /// Bans `addr` for `length` (between a second and [`MAX_BAN`]).
    pub fn ban(&mut self, addr: IpAddr, length: Duration) -> Result<(), NetfilterError> {
        self.writer.add(
            ban_set(addr),
            &[(
                Key::Addr(addr),
                length.clamp(Duration::from_secs(1), MAX_BAN),
            )],
        )
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

    /// Carries one action out; actions the kernel does by itself (expiries) do nothing.
    pub fn apply(&mut self, action: &Action, now: Timestamp) -> Result<(), NetfilterError> {
        match action {
            Action::Ban { addr, until, .. } => self.ban(*addr, until.since(now)),
            Action::Unban { addr } => self.writer.delete(ban_set(*addr), Key::Addr(*addr)),
            // The single bans inside the prefix stay and end with their
            // own timeouts: the interval element covers them meanwhile.
            Action::BanPrefix { prefix, until, .. } => self.ban_prefix(*prefix, until.since(now)),
            Action::UnbanPrefix { prefix } => self.unban_prefix(*prefix),
            // The first line exempts it from its flood bans until then.
            Action::Verified { addr, until } => self.writer.add(
                verified_set(*addr),
                &[(
                    Key::Addr(*addr),
                    until.since(now).clamp(Duration::from_secs(1), MAX_BAN),
                )],
            ),
            Action::OpenPinhole { key, until } => {
                let (set, k) = pinhole(*key);
                self.writer
                    .add(set, &[(k, until.since(now).max(Duration::from_secs(1)))])
            }
            Action::ClosePinhole { key, reason } if *reason != CloseReason::Expired => {
                let (set, k) = pinhole(*key);
                self.writer.delete(set, k)
            }
            _ => Ok(()),
        }
    }
}
