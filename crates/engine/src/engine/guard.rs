//! The guard's hand: bans a detector asks for, unless a shield (the
//! allowlist, a verified source on unverified evidence) stops them; bans
//! and allows by hand; prefix bans once enough addresses of one prefix are.

use super::Engine;
use crate::action::{Action, BanReason, Shield};
use crate::bans::{Ban, PrefixPolicy};
use crate::evidence::{Counted, Evidence, Step, Trigger};
use crate::time::Timestamp;
use std::net::IpAddr;
use std::time::Duration;

/// A suppressed ban is announced at most this often per source (each is counted).
const SUPPRESSED_LINE_EVERY: Duration = Duration::from_secs(60);
/// Sources whose last suppressed-ban line is remembered.
pub(super) const MAX_SUPPRESSED_SOURCES: usize = 4096;

impl Engine {
    /// Bans `target` by hand (`sipwall bans add`): an address, or a
    /// network as one interval element ([`Action::BanPrefix`]), for
    /// `length` or the policy's ban time. Allowlisted targets are refused
    /// unless `force` (then the next apply or restart drops the ban again:
    /// the policy still says never), loopback always.
    pub fn ban(
        &mut self,
        now: Timestamp,
        target: ipnet::IpNet,
        reason: BanReason,
        evidence: &str,
        length: Option<Duration>,
        force: bool,
    ) -> Result<Timestamp, crate::bans::Refusal> {
        if target.prefix_len() == target.max_prefix_len() {
            let addr = target.addr();
            let until = self
                .bans
                .ban_by_hand(now, addr, reason.clone(), length, force)?;
            self.record_ban(addr, Some(until), reason, evidence.to_owned());
            return Ok(until);
        }
        let prefix = target.trunc();
        let until = self
            .bans
            .ban_prefix_by_hand(now, prefix, reason.clone(), length, force)?;
        self.stats.count_ban("prefix");
        self.actions.push_back(Action::BanPrefix {
            prefix,
            until,
            reason,
            evidence: evidence.to_owned(),
        });
        Ok(until)
    }

    /// Allows `addr` by hand until `until` (`sipwall bans del --allow`).
    pub fn allow(&mut self, addr: IpAddr, until: Timestamp) {
        self.bans.allow_until(addr, until);
    }

    /// Lifts a ban by hand; false if there was none.
    pub fn unban(&mut self, addr: IpAddr) -> bool {
        let lifted = self.bans.unban(addr);
        if lifted {
            self.actions.push_back(Action::Unban { addr });
        }
        lifted
    }

    /// Lifts a prefix ban by hand ([`Action::UnbanPrefix`]); false if there was none.
    pub fn unban_prefix(&mut self, prefix: ipnet::IpNet) -> bool {
        let lifted = self.bans.unban_prefix(prefix);
        if lifted {
            self.actions.push_back(Action::UnbanPrefix {
                prefix: prefix.trunc(),
            });
        }
        lifted
    }

    /// Restores a ban found in the ledger or the kernel (no action: it is there already).
    pub fn restore_ban(&mut self, addr: IpAddr, until: Timestamp, reason: BanReason) {
        self.bans.restore(addr, Ban { until, reason });
    }

    /// Restores a prefix ban found in the ledger or the kernel (no action).
    /// Addresses in `prefix` count as banned even before prefix bans are
    /// turned on: the kernel element is there.
    pub fn restore_prefix_ban(
        &mut self,
        prefix: ipnet::IpNet,
        until: Timestamp,
        reason: BanReason,
    ) {
        self.bans.restore_prefix(prefix, Ban { until, reason });
    }

    /// Bans `addr` on a detector's word, unless a shield stops it:
    /// `routable` says whether the evidence is return-routable (a blind
    /// spoofer could not have produced it). `trigger` is the request that
    /// tipped a detector judging one request (scanner, flood); the others'
    /// counted requests are in the trails.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ban_source(
        &mut self,
        now: Timestamp,
        addr: IpAddr,
        reason: BanReason,
        evidence: String,
        exempt_registered: bool,
        routable: bool,
        trigger: Option<Trigger<'_>>,
    ) -> bool {
        let shield = if self.bans.is_allowlisted(addr) {
            Some(Shield::Allowlisted)
        } else if !routable && self.routes.is_verified(now, addr) {
            Some(Shield::Verified)
        } else {
            None
        };
        if let Some(why) = shield {
            self.suppress(now, addr, reason, evidence, why, trigger);
            return false;
        }
        let until = self.bans.ban(now, addr, reason.clone(), exempt_registered);
        if let Some(until) = until {
            let step = Step {
                offence: self.bans.offences(addr),
                length: until.since(now),
                until: Some(until),
                shield: None,
                prefix: None,
            };
            let explained = self.explain(now, addr, &reason, trigger, step);
            self.explained.put(addr, explained);
        }
        self.record_ban(addr, until, reason, evidence)
    }

    /// The structured evidence of a detector's decision on `addr` now.
    fn explain(
        &self,
        now: Timestamp,
        addr: IpAddr,
        reason: &BanReason,
        trigger: Option<Trigger<'_>>,
        step: Step,
    ) -> Evidence {
        let detector = reason.kind();
        let (threshold, window, rule) = self.rules.of(detector);
        let counted = match trigger {
            Some(t) => vec![t.counted(now)],
            None => {
                // An account under attack is judged over its own window.
                let look = if detector == "brute-force" {
                    window.max(self.guard.brute_force.account_window)
                } else {
                    window
                };
                self.trails.recent(addr, detector, now, look)
            }
        };
        Evidence {
            detector,
            threshold,
            window,
            rule: rule.to_owned(),
            at: now,
            counted,
            step,
        }
    }

    /// Notes that `c` counted towards `detector` for `src`.
    pub(super) fn count(&mut self, src: IpAddr, detector: &'static str, c: Counted) {
        self.trails.record(src, detector, c);
    }

    /// Why `addr` was last banned by a detector, or would have been (a
    /// shield stopped it, or observe mode kept it from the kernel): the
    /// last [`crate::evidence::MAX_EXPLAINED`] sources are remembered.
    pub fn evidence(&self, addr: IpAddr) -> Option<&Evidence> {
        self.explained.peek(&addr)
    }

    /// Counts a ban a shield refused, and announces it (rate-limited per
    /// source), with its structured evidence.
    fn suppress(
        &mut self,
        now: Timestamp,
        addr: IpAddr,
        reason: BanReason,
        evidence: String,
        why: Shield,
        trigger: Option<Trigger<'_>>,
    ) {
        self.stats.bans_suppressed += 1;
        let key = (reason.kind(), why.kind());
        match self
            .stats
            .bans_suppressed_by
            .iter_mut()
            .find(|(k, _)| *k == key)
        {
            Some((_, n)) => *n += 1,
            None => self.stats.bans_suppressed_by.push((key, 1)),
        }
        let due = self
            .suppressed_lines
            .get(&addr)
            .is_none_or(|at| now.since(*at) >= SUPPRESSED_LINE_EVERY);
        if due {
            self.suppressed_lines.put(addr, now);
            // Built only for the announced ones: a shielded flood asks
            // for a ban on every packet.
            let step = Step {
                offence: self.bans.offences(addr) + 1,
                length: self.bans.next_length(addr),
                until: None,
                shield: Some(why),
                prefix: None,
            };
            let explained = self.explain(now, addr, &reason, trigger, step);
            self.explained.put(addr, explained);
            self.actions.push_back(Action::BanSuppressed {
                addr,
                reason,
                evidence,
                why,
            });
        }
    }

    /// Notes that `src` proved return-routable, and tells the caller when
    /// the kernel's copy needs writing.
    pub(super) fn verify(&mut self, now: Timestamp, src: IpAddr) {
        if let Some(until) = self.routes.verify(now, src) {
            self.actions
                .push_back(Action::Verified { addr: src, until });
        }
    }

    /// Whether `addr` proved return-routable within `guard.verified_for`.
    pub fn is_verified(&mut self, now: Timestamp, addr: IpAddr) -> bool {
        self.routes.is_verified(now, addr)
    }

    /// Counts and announces a ban the table made (`until`), if it made one.
    fn record_ban(
        &mut self,
        addr: IpAddr,
        until: Option<Timestamp>,
        reason: BanReason,
        evidence: String,
    ) -> bool {
        let Some(until) = until else { return false };
        self.stats.count_ban(reason.kind());
        self.actions.push_back(Action::Ban {
            addr,
            until,
            reason,
            evidence,
        });
        if let Some((prefix, until, reason)) = self.bans.take_prefix_ban() {
            self.stats.count_ban("prefix");
            let evidence = format!(
                "{} bans inside {prefix} within the ban time, the last {addr}",
                self.bans.prefix_policy().of(addr).after
            );
            // This ban tipped its prefix's: the escalation step says so.
            if let Some(e) = self.explained.get_mut(&addr) {
                e.step.prefix = Some(prefix);
            }
            self.actions.push_back(Action::BanPrefix {
                prefix,
                until,
                reason,
                evidence,
            });
        }
        true
    }

    /// Turns on prefix bans: `after` bans inside one prefix within the
    /// ban time ban the prefix ([`Action::BanPrefix`]), per family. Off
    /// until the caller can put interval elements in the kernel's ban
    /// sets (`sipwall run` passes the policy's `[bans]`).
    pub fn aggregate_prefixes(&mut self, p: PrefixPolicy) {
        self.bans.set_prefix_policy(p);
    }
}
