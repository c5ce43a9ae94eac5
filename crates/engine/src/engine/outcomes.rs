//! Detector outcomes of SIP transactions and FreeSWITCH's reports: brute
//! force (per source and per account), enumeration, registration.

use super::Engine;
use crate::action::{Action, BanReason};
use crate::evidence::Counted;
use crate::time::Timestamp;
use crate::transaction::Outcome;
use crate::witnesses::Witness;
use std::net::IpAddr;

impl Engine {
    pub(super) fn outcome(&mut self, now: Timestamp, outcome: Outcome) {
        match outcome {
            Outcome::AuthFailure {
                src,
                method,
                status,
                account,
                routable,
            } => self.auth_failure(
                now,
                src,
                account,
                routable,
                Witness::Wire,
                (method, Some(status)),
            ),
            Outcome::UnknownUser {
                src,
                method,
                status,
                account,
                routable,
            } => {
                if !self.guard.enumeration.enabled {
                    return;
                }
                let c = Counted::new(
                    now,
                    method.as_bytes(),
                    Some(account.as_bytes()),
                    Some(status),
                );
                self.count(src, "enumeration", c);
                let n = self
                    .unknown_users
                    .distinct(now, src, tag(account.as_bytes()));
                if n >= self.guard.enumeration.max_users as usize {
                    let evidence = format!(
                        "{n} distinct unknown users within {:?}, last {account}",
                        self.guard.enumeration.window
                    );
                    self.ban_source(
                        now,
                        src,
                        BanReason::Enumeration,
                        evidence,
                        true,
                        routable,
                        None,
                    );
                }
            }
            // Only a registration whose credentials echoed the host's own
            // challenge (or that FreeSWITCH itself reports) shields its
            // source: a blind spoofer's forged one must not.
            Outcome::Registered { src, routable } => {
                if !routable {
                    return;
                }
                self.verify(now, src);
                if let Some(until) = self.bans.register(now, src) {
                    self.actions.push_back(Action::Allow { addr: src, until });
                }
            }
        }
    }

    /// A failed authentication from `src` reported by `by`. The twin of a
    /// report the other witness already made counts no further, but the
    /// threshold is judged again with this report's evidence: a
    /// return-routable 403 on the wire arriving after FreeSWITCH's event
    /// (which cannot say) bans where the event alone was shielded.
    /// `seen` is the failed request's method and the host's answer (none
    /// for FreeSWITCH's report), for the explanation.
    pub(super) fn auth_failure(
        &mut self,
        now: Timestamp,
        src: IpAddr,
        account: String,
        routable: bool,
        by: Witness,
        seen: (&'static str, Option<u16>),
    ) {
        // Each report is a failure of its own until paired with its twin.
        self.failure_reports += 1;
        let fresh = self.failure_reports;
        let seq = self.witnesses.tag(now, src, by, fresh);
        if seq == fresh {
            // Not the twin of a report already counted.
            self.stats.auth_failures += 1;
        }
        if !self.guard.brute_force.enabled {
            return;
        }
        if seq == fresh {
            let c = Counted::new(now, seen.0.as_bytes(), Some(account.as_bytes()), seen.1);
            self.count(src, "brute-force", c);
        }
        let bf = &self.guard.brute_force;
        let (max, account_max) = (bf.max_failures as usize, bf.account_max_failures as usize);
        let by_source = self.failures.distinct(now, src, seq);
        let by_account = self.account_failures.distinct(now, account.clone(), seq);
        if by_source >= max || by_account >= account_max {
            let evidence = format!("{by_source} failed authentications from this source, {by_account} against {account}");
            let reason = BanReason::BruteForce { account };
            if self.ban_source(now, src, reason, evidence, true, routable, None) {
                self.failures.forget(&src);
            }
        }
    }
}

fn tag(bytes: &[u8]) -> u64 {
    crate::keyed::digest(b'u', &[bytes])
}
