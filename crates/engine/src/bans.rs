//! Who is banned, for how long, and who must never be: allowlisted zones,
//! loopback, and sources that registered successfully (FreePBX-style).
//! Repeat offenders get escalating ban times.
//!
//! Source rotation: an IPv6 attacker holds a whole /64 and can bring a new
//! address for every ban (30,000 bans at 17k/s in the issue). With
//! [`PrefixBans::after`] set for the family (the policy's
//! `bans.ipv6_prefix_after`, 8, and `bans.ipv4_prefix_after`, off), that many bans inside one prefix within the
//! ban time ban the prefix itself, as one element; addresses inside it are
//! then banned already, so no further per-address bans are made. A prefix
//! that holds an allowlisted network is never banned whole.

use crate::action::BanReason;
use crate::deadlines::Deadlines;
use crate::keyed::Map;
use crate::time::Timestamp;
use ipnet::IpNet;
use lru::LruCache;
pub use sipwall_policy::PrefixBans;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

/// A ban in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// When it ends.
    pub until: Timestamp,
    /// Why.
    pub reason: BanReason,
}

/// When many bans inside one network become one ban of the network, per
/// family (the policy's `bans.ipv6_prefix*` and `bans.ipv4_prefix*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixPolicy {
    /// IPv6: bans inside one prefix within the ban time that ban it (0: never), and its length.
    pub v6: PrefixBans,
    /// IPv4, the same.
    pub v4: PrefixBans,
}

impl PrefixPolicy {
    /// No aggregation.
    pub const OFF: PrefixPolicy = PrefixPolicy {
        v6: PrefixBans { after: 0, len: 64 },
        v4: PrefixBans { after: 0, len: 24 },
    };

    /// The rule for `addr`'s family.
    pub fn of(&self, addr: IpAddr) -> PrefixBans {
        if addr.is_ipv6() {
            self.v6
        } else {
            self.v4
        }
    }
}

impl Default for PrefixPolicy {
    /// Issue 13's defaults: 8 bans in one /64; IPv4 not aggregated.
    fn default() -> Self {
        PrefixPolicy {
            v6: PrefixBans { after: 8, len: 64 },
            v4: PrefixBans { after: 0, len: 24 },
        }
    }
}

impl From<&sipwall_policy::Bans> for PrefixPolicy {
    fn from(b: &sipwall_policy::Bans) -> Self {
        PrefixPolicy {
            v6: b.ipv6_prefix,
            v4: b.ipv4_prefix,
        }
    }
}

/// How bans are sized.
#[derive(Debug, Clone)]
pub(crate) struct BanPolicy {
    /// The first ban's length.
    pub base: Duration,
    /// Each repeat multiplies it by this.
    pub escalation: u32,
    /// The longest ban.
    pub max: Duration,
    /// How long a successful registration allows its source.
    pub registered_allow: Duration,
}

/// Why a ban by hand was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address is allowlisted, allowed by hand or loopback (or the
    /// prefix holds one such address).
    Allowlisted,
    /// It is banned already.
    AlreadyBanned,
}

/// The ban table.
#[derive(Debug)]
pub struct Bans {
    policy: BanPolicy,
    allow: Vec<IpNet>,
    active: Map<IpAddr, Ban>,
    /// Previous bans per source, for escalation (bounded, least recent out).
    offences: LruCache<IpAddr, u32>,
    registered: LruCache<IpAddr, Timestamp>,
    /// Sources the admin allowed by hand (`sipwall bans del --allow`), until when.
    allowed: Map<IpAddr, Timestamp>,
    ends: Deadlines<IpAddr>,
    prefix_policy: PrefixPolicy,
    /// Prefix bans in force.
    prefixes: Map<IpNet, Ban>,
    /// The prefix lengths in `prefixes` (a handful: what lookups try).
    prefix_lens: Vec<(bool, u8)>,
    prefix_ends: Deadlines<IpNet>,
    /// Recent ban times per prefix (bounded, least recent out).
    recent: LruCache<IpNet, VecDeque<Timestamp>>,
    /// A prefix ban made by the last ban, for the caller to announce.
    new_prefix: Option<(IpNet, Timestamp, BanReason)>,
}

/// The longest ban anything can make: a year (the control crate's, so
/// that what `--for` accepts and what the table holds agree to the
/// second). Longer ones overflow what the kernel's set timeouts and the
/// ledger hold (`--for 200years` made every later `apply` fail); the
/// command line refuses them at parse time, the table clamps the rest.
pub use sipwall_control::MAX_BAN;

/// Sources remembered for escalation and registration at most.
const MEMORY: usize = 100_000;

impl Bans {
    /// A table that never bans `allow`.
    pub(crate) fn new(policy: BanPolicy, allow: Vec<IpNet>) -> Self {
        let cap = NonZeroUsize::new(MEMORY).expect("non-zero");
        Bans {
            policy,
            allow,
            active: Map::default(),
            offences: LruCache::new(cap),
            registered: LruCache::new(cap),
            allowed: Map::default(),
            ends: Deadlines::default(),
            prefix_policy: PrefixPolicy::OFF,
            prefixes: Map::default(),
            prefix_lens: Vec::new(),
            prefix_ends: Deadlines::default(),
            recent: LruCache::new(cap),
            new_prefix: None,
        }
    }

    /// Sets when bans inside one prefix become a ban of the prefix.
    pub(crate) fn set_prefix_policy(&mut self, p: PrefixPolicy) {
        self.prefix_policy = p;
    }

    /// The prefix `addr` is aggregated in, if its family is aggregated.
    fn prefix_of(&self, addr: IpAddr) -> Option<IpNet> {
        let p = self.prefix_policy.of(addr);
        if p.after == 0 {
            return None;
        }
        IpNet::new(addr, p.len).ok().map(|n| n.trunc())
    }

    /// When bans inside one prefix become a ban of the prefix.
    pub fn prefix_policy(&self) -> PrefixPolicy {
        self.prefix_policy
    }

    /// The prefix ban made by the last [`Bans::ban`], once.
    pub(crate) fn take_prefix_ban(&mut self) -> Option<(IpNet, Timestamp, BanReason)> {
        self.new_prefix.take()
    }

    /// Prefix bans in force.
    pub fn prefixes(&self) -> impl Iterator<Item = (&IpNet, &Ban)> {
        self.prefixes.iter()
    }

    /// Counts a detector's ban of `addr`; bans its prefix when that makes enough.
    fn note_in_prefix(
        &mut self,
        now: Timestamp,
        addr: IpAddr,
        until: Timestamp,
        reason: &BanReason,
    ) {
        let Some(prefix) = self.prefix_of(addr) else {
            return;
        };
        let window = self.policy.base;
        let after = self.prefix_policy.of(addr).after as usize;
        let times = self.recent.get_or_insert_mut(prefix, VecDeque::new);
        while times.front().is_some_and(|t| now.since(*t) > window) {
            times.pop_front();
        }
        times.push_back(now);
        while times.len() > after {
            times.pop_front();
        }
        if times.len() < after {
            return;
        }
        let holds_allowed = self
            .allow
            .iter()
            .any(|n| prefix.contains(&n.network()) || n.contains(&prefix.network()));
        if holds_allowed {
            return;
        }
        self.recent.pop(&prefix);
        self.insert_prefix(
            prefix,
            Ban {
                until,
                reason: reason.clone(),
            },
        );
        self.new_prefix = Some((prefix, until, reason.clone()));
    }

    /// The ban on `addr` at `now`, if any (its own, or its prefix's).
    pub fn get(&self, now: Timestamp, addr: IpAddr) -> Option<&Ban> {
        self.active
            .get(&addr)
            .filter(|b| b.until > now)
            .or_else(|| {
                if self.prefixes.is_empty() {
                    return None;
                }
                self.prefix_lens
                    .iter()
                    .filter(|(v6, _)| *v6 == addr.is_ipv6())
                    .filter_map(|(_, len)| IpNet::new(addr, *len).ok())
                    .find_map(|n| self.prefixes.get(&n.trunc()))
                    .filter(|b| b.until > now)
            })
    }

    /// Whether `addr` is banned at `now`.
    pub fn is_banned(&self, now: Timestamp, addr: IpAddr) -> bool {
        self.get(now, addr).is_some()
    }

    /// Whether `addr` is in an allowlisted zone (or loopback): never banned.
    pub fn is_allowlisted(&self, addr: IpAddr) -> bool {
        addr.is_loopback() || self.allow.iter().any(|n| n.contains(&addr))
    }

    /// Whether the network `prefix` holds an allowlisted address (or is
    /// inside an allowlisted zone): never banned whole.
    pub fn overlaps_allowlist(&self, prefix: IpNet) -> bool {
        self.is_allowlisted(prefix.network())
            || self
                .allow
                .iter()
                .any(|n| prefix.contains(&n.network()) || n.contains(&prefix.network()))
    }

    /// Allows `addr` by hand until `until`: not banned for anything meanwhile.
    pub(crate) fn allow_until(&mut self, addr: IpAddr, until: Timestamp) {
        self.allowed.insert(addr, until);
    }

    fn is_allowed_by_hand(&self, now: Timestamp, addr: IpAddr) -> bool {
        self.allowed.get(&addr).is_some_and(|u| *u > now)
    }

    /// Whether `addr` registered successfully and is still allowed.
    pub(crate) fn is_registered(&mut self, now: Timestamp, addr: IpAddr) -> bool {
        self.registered.get(&addr).is_some_and(|until| *until > now)
    }

    /// Allows `addr` after a successful registration; returns the end of
    /// the allowance, or `None` when allowances are off.
    pub(crate) fn register(&mut self, now: Timestamp, addr: IpAddr) -> Option<Timestamp> {
        if self.policy.registered_allow.is_zero() {
            return None;
        }
        let until = now + self.policy.registered_allow;
        self.registered.put(addr, until);
        Some(until)
    }

    /// Bans `addr` unless it is allowlisted or already banned; `exempt_registered`
    /// is false only for floods (a registered source may still flood).
    /// Returns the ban's end when a new ban was made.
    pub(crate) fn ban(
        &mut self,
        now: Timestamp,
        addr: IpAddr,
        reason: BanReason,
        exempt_registered: bool,
    ) -> Option<Timestamp> {
        if self.is_allowlisted(addr)
            || self.is_allowed_by_hand(now, addr)
            || self.is_banned(now, addr)
        {
            return None;
        }
        if exempt_registered && self.is_registered(now, addr) {
            return None;
        }
        let previous = self.offences.get(&addr).copied().unwrap_or(0);
        let length = self.escalated(previous);
        let until = self.put(now, addr, reason.clone(), length, previous);
        self.note_in_prefix(now, addr, until, &reason);
        Some(until)
    }

    /// Bans `addr` by hand for `length` (default: the escalated ban time,
    /// as a detector's ban). Allowlisted addresses (and addresses allowed
    /// by hand) are refused unless `force`; loopback always is.
    pub(crate) fn ban_by_hand(
        &mut self,
        now: Timestamp,
        addr: IpAddr,
        reason: BanReason,
        length: Option<Duration>,
        force: bool,
    ) -> Result<Timestamp, Refusal> {
        if addr.is_loopback()
            || (!force && (self.is_allowlisted(addr) || self.is_allowed_by_hand(now, addr)))
        {
            return Err(Refusal::Allowlisted);
        }
        if self.is_banned(now, addr) {
            return Err(Refusal::AlreadyBanned);
        }
        let previous = self.offences.get(&addr).copied().unwrap_or(0);
        let length = length.unwrap_or_else(|| self.escalated(previous));
        Ok(self.put(now, addr, reason, length, previous))
    }

    /// Bans the network `prefix` by hand (an interval element), for
    /// `length` or the base ban time. A prefix holding an allowlisted
    /// address is refused unless `force`; one holding loopback always is.
    pub(crate) fn ban_prefix_by_hand(
        &mut self,
        now: Timestamp,
        prefix: IpNet,
        reason: BanReason,
        length: Option<Duration>,
        force: bool,
    ) -> Result<Timestamp, Refusal> {
        let prefix = prefix.trunc();
        let loopback: [IpNet; 2] = [
            "127.0.0.0/8".parse().expect("a prefix"),
            "::1/128".parse().expect("a prefix"),
        ];
        let holds_loopback = loopback
            .iter()
            .any(|l| l.contains(&prefix.network()) || prefix.contains(&l.network()));
        if holds_loopback || (!force && self.overlaps_allowlist(prefix)) {
            return Err(Refusal::Allowlisted);
        }
        if self.prefixes.get(&prefix).is_some_and(|b| b.until > now) {
            return Err(Refusal::AlreadyBanned);
        }
        let until = now + length.unwrap_or(self.policy.base).min(MAX_BAN);
        self.insert_prefix(prefix, Ban { until, reason });
        Ok(until)
    }

    /// How many bans a detector (or the admin) made of `addr` that the
    /// table remembers.
    pub(crate) fn offences(&self, addr: IpAddr) -> u32 {
        self.offences.peek(&addr).copied().unwrap_or(0)
    }

    /// How long `addr`'s next ban would last.
    pub(crate) fn next_length(&self, addr: IpAddr) -> Duration {
        self.escalated(self.offences(addr))
    }

    /// The ban time after `previous` offences: the base, times the
    /// escalation factor per offence, at most the policy's maximum.
    fn escalated(&self, previous: u32) -> Duration {
        let factor = u64::from(self.policy.escalation.max(1)).saturating_pow(previous.min(16));
        Duration::from_secs(self.policy.base.as_secs().max(1).saturating_mul(factor))
            .min(self.policy.max)
    }

    fn put(
        &mut self,
        now: Timestamp,
        addr: IpAddr,
        reason: BanReason,
        length: Duration,
        previous: u32,
    ) -> Timestamp {
        let until = now + length.min(MAX_BAN);
        self.offences.put(addr, previous + 1);
        if self.active.insert(addr, Ban { until, reason }).is_some() {
            self.ends.stale();
        }
        self.ends.push(until, addr);
        until
    }

    /// Lifts a ban now; false if there was none.
    pub(crate) fn unban(&mut self, addr: IpAddr) -> bool {
        let lifted = self.active.remove(&addr).is_some();
        if lifted {
            self.ends.stale();
        }
        lifted
    }

    /// Lifts a prefix ban now (`prefix` as banned, host bits ignored);
    /// false if there was none. The single bans inside it stay.
    pub(crate) fn unban_prefix(&mut self, prefix: IpNet) -> bool {
        let lifted = self.prefixes.remove(&prefix.trunc()).is_some();
        if lifted {
            self.prefix_ends.stale();
        }
        lifted
    }

    /// Restores a ban from the ledger or the kernel after a restart.
    pub(crate) fn restore(&mut self, addr: IpAddr, ban: Ban) {
        self.ends.push(ban.until, addr);
        if self.active.insert(addr, ban).is_some() {
            self.ends.stale();
        }
    }

    /// Restores a prefix ban from the ledger or the kernel after a restart.
    pub(crate) fn restore_prefix(&mut self, prefix: IpNet, ban: Ban) {
        self.insert_prefix(prefix.trunc(), ban);
    }

    fn insert_prefix(&mut self, prefix: IpNet, ban: Ban) {
        let len = (matches!(prefix, IpNet::V6(_)), prefix.prefix_len());
        if !self.prefix_lens.contains(&len) {
            self.prefix_lens.push(len);
        }
        self.prefix_ends.push(ban.until, prefix);
        if self.prefixes.insert(prefix, ban).is_some() {
            self.prefix_ends.stale();
        }
    }

    /// Removes bans that ended by `now`, returning their sources.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<IpAddr> {
        if !self.allowed.is_empty() {
            self.allowed.retain(|_, u| *u > now);
        }
        let mut gone = Vec::new();
        while let Some((at, addr)) = self.ends.pop_due(now) {
            if self.active.get(&addr).is_some_and(|b| b.until == at) {
                self.active.remove(&addr);
                gone.push(addr);
            }
        }
        let active = &self.active;
        self.ends.compact(active.len(), |t, a| {
            active.get(a).is_some_and(|b| b.until == *t)
        });
        // Prefix elements time out in the kernel by themselves: no action.
        while let Some((at, prefix)) = self.prefix_ends.pop_due(now) {
            if self.prefixes.get(&prefix).is_some_and(|b| b.until == at) {
                self.prefixes.remove(&prefix);
            }
        }
        gone
    }

    /// The earliest end of a ban in force.
    #[inline(always)]
    pub(crate) fn next_expiry(&mut self) -> Option<Timestamp> {
        let (active, prefixes) = (&self.active, &self.prefixes);
        let one = self
            .ends
            .next_live(|t, a| active.get(a).is_some_and(|b| b.until == *t));
        let prefix = self
            .prefix_ends
            .next_live(|t, p| prefixes.get(p).is_some_and(|b| b.until == *t));
        crate::time::earliest(one, prefix)
    }

    /// Bans in force (including ones whose time is up but not yet swept).
    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &Ban)> {
        self.active.iter()
    }

    /// Number of bans held.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// Whether no ban is held.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Bans {
        Bans::new(
            BanPolicy {
                base: Duration::from_secs(60),
                escalation: 4,
                max: Duration::from_secs(3600),
                registered_allow: Duration::from_secs(600),
            },
            vec!["198.51.100.0/24".parse().unwrap()],
        )
    }

    #[test]
    fn repeat_offenders_are_banned_longer_up_to_the_maximum() {
        let mut b = table();
        let a: IpAddr = "203.0.113.66".parse().unwrap();
        let mut now = Timestamp::from_secs(0);
        let mut lengths = Vec::new();
        for _ in 0..4 {
            let until = b.ban(now, a, BanReason::Flood, true).expect("banned");
            lengths.push((until - now).as_secs());
            assert!(
                b.ban(now, a, BanReason::Flood, true).is_none(),
                "no double ban"
            );
            now = until;
            assert_eq!(b.expire(now), vec![a]);
        }
        assert_eq!(lengths, [60, 240, 960, 3600]);
    }

    #[test]
    fn allowlisted_and_loopback_sources_are_never_banned() {
        let mut b = table();
        let now = Timestamp::from_secs(0);
        assert!(b
            .ban(
                now,
                "198.51.100.7".parse().unwrap(),
                BanReason::Manual,
                true
            )
            .is_none());
        assert!(b
            .ban(now, "127.0.0.1".parse().unwrap(), BanReason::Manual, true)
            .is_none());
        assert!(b
            .ban(now, "::1".parse().unwrap(), BanReason::Manual, true)
            .is_none());
    }

    #[test]
    fn registered_sources_are_exempt_except_from_flood_and_only_for_a_while() {
        let mut b = table();
        let a: IpAddr = "203.0.113.5".parse().unwrap();
        let now = Timestamp::from_secs(10);
        b.register(now, a);
        assert!(b.ban(now, a, BanReason::Enumeration, true).is_none());
        let later = now + Duration::from_secs(601);
        assert!(b.ban(later, a, BanReason::Enumeration, true).is_some());
        let mut b = table();
        b.register(now, a);
        assert!(
            b.ban(now, a, BanReason::Flood, false).is_some(),
            "floods are not exempt"
        );
    }

    #[test]
    fn a_million_bans_expire_in_order_without_walking_the_table() {
        // Regression: the next expiry was a walk of every ban, on every packet.
        let mut b = table();
        let t0 = Timestamp::from_secs(0);
        for i in 0..200_000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0B00_0000 + i));
            b.ban(
                t0 + Duration::from_millis(u64::from(i)),
                a,
                BanReason::Flood,
                false,
            );
        }
        assert_eq!(b.next_expiry(), Some(t0 + Duration::from_secs(60)));
        let gone = b.expire(t0 + Duration::from_secs(60) + Duration::from_millis(9));
        assert_eq!(gone.len(), 10, "exactly the ten due");
        assert_eq!(b.len(), 199_990);
        assert!(b.unban("11.0.0.20".parse().unwrap()));
        let gone = b.expire(t0 + Duration::from_secs(60) + Duration::from_millis(30));
        assert_eq!(gone.len(), 20, "the unbanned one is not reported twice");
    }

    #[test]
    fn a_ban_of_two_hundred_years_is_clamped_to_one() {
        let mut b = table();
        let now = Timestamp::from_secs(10);
        let a: IpAddr = "203.0.113.5".parse().unwrap();
        let centuries = Duration::from_secs(200 * 365 * 86_400);
        let until = b
            .ban_by_hand(now, a, BanReason::Manual, Some(centuries), false)
            .unwrap();
        assert_eq!(until - now, MAX_BAN);
        let huge = Duration::from_secs(u64::MAX);
        let c: IpAddr = "203.0.113.6".parse().unwrap();
        let until = b
            .ban_by_hand(now, c, BanReason::Manual, Some(huge), false)
            .unwrap();
        assert_eq!(
            until - now,
            MAX_BAN,
            "no overflow to a past or negative end"
        );
    }

    #[test]
    fn ipv6_source_rotation_in_one_64_is_banned_as_the_prefix() {
        let mut b = table();
        b.set_prefix_policy(PrefixPolicy::default());
        let now = Timestamp::from_secs(10);
        let addr = |i: u16| IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, i]);
        for i in 1..8 {
            assert!(b.ban(now, addr(i), BanReason::Flood, true).is_some());
            assert!(b.take_prefix_ban().is_none(), "ban {i}: not yet");
        }
        assert!(b.ban(now, addr(8), BanReason::Flood, true).is_some());
        let (prefix, until, _) = b.take_prefix_ban().expect("the eighth bans the /64");
        assert_eq!(prefix.to_string(), "2001:db8:0:7::/64");
        assert!(b.is_banned(now, addr(999)), "the whole /64");
        assert!(
            b.ban(now, addr(1000), BanReason::Flood, true).is_none(),
            "no more per-address bans inside it"
        );
        let other = IpAddr::from([0x2001, 0xdb8, 0, 8, 0, 0, 0, 1]);
        assert!(!b.is_banned(now, other), "only that /64");
        b.expire(until);
        assert!(!b.is_banned(until, addr(999)), "it ends on time");
        b.restore_prefix(
            prefix,
            Ban {
                until: until + Duration::from_secs(60),
                reason: BanReason::Flood,
            },
        );
        assert!(b.is_banned(until, addr(5)), "restored after a restart");
        let mut off = table();
        off.restore_prefix(
            "198.51.0.0/16".parse().unwrap(),
            Ban {
                until,
                reason: BanReason::Manual,
            },
        );
        assert!(
            off.is_banned(now, IpAddr::from([198, 51, 7, 7])),
            "a restored prefix holds even with aggregation off"
        );
        // IPv4 is not aggregated unless asked.
        for i in 1..=20u8 {
            b.ban(now, IpAddr::from([203, 0, 113, i]), BanReason::Flood, true);
        }
        assert!(b.take_prefix_ban().is_none());
    }

    #[test]
    fn ipv4_rotation_in_one_24_is_banned_as_the_prefix_when_asked_and_lifts_by_hand() {
        let mut b = table();
        b.set_prefix_policy(PrefixPolicy {
            v6: PrefixBans { after: 0, len: 64 },
            v4: PrefixBans { after: 4, len: 24 },
        });
        let now = Timestamp::from_secs(10);
        for i in 1..=4u8 {
            b.ban(now, IpAddr::from([203, 0, 113, i]), BanReason::Flood, true);
        }
        let (prefix, _, _) = b.take_prefix_ban().expect("the fourth bans the /24");
        assert_eq!(prefix.to_string(), "203.0.113.0/24");
        assert!(b.is_banned(now, IpAddr::from([203, 0, 113, 200])));
        // IPv6 is off in this policy.
        for i in 1..=20u16 {
            b.ban(
                now,
                IpAddr::from([0x2001, 0xdb8, 0, 9, 0, 0, 0, i]),
                BanReason::Flood,
                true,
            );
        }
        assert!(b.take_prefix_ban().is_none());
        assert!(b.unban_prefix("203.0.113.0/24".parse().unwrap()));
        assert!(!b.is_banned(now, IpAddr::from([203, 0, 113, 200])));
        assert!(
            b.is_banned(now, IpAddr::from([203, 0, 113, 1])),
            "its single bans stay"
        );
        assert!(!b.unban_prefix("203.0.113.0/24".parse().unwrap()));
    }

    #[test]
    fn a_prefix_holding_an_allowlisted_network_is_never_banned_whole() {
        let mut b = Bans::new(
            table().policy.clone(),
            vec!["2001:db8:0:7::100/120".parse().unwrap()],
        );
        b.set_prefix_policy(PrefixPolicy::default());
        let now = Timestamp::from_secs(10);
        for i in 1..=20u16 {
            b.ban(
                now,
                IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, i]),
                BanReason::Flood,
                true,
            );
        }
        assert!(b.take_prefix_ban().is_none());
    }

    #[test]
    fn an_admin_allowance_exempts_from_everything_until_it_ends() {
        let mut b = table();
        let a: IpAddr = "203.0.113.5".parse().unwrap();
        let now = Timestamp::from_secs(10);
        b.allow_until(a, now + Duration::from_secs(60));
        assert!(b.ban(now, a, BanReason::Flood, false).is_none());
        assert!(b
            .ban(now + Duration::from_secs(61), a, BanReason::Flood, false)
            .is_some());
    }
}
