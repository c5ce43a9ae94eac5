//! The engine: packets and FreeSWITCH events in, verdicts and actions out.
//! This file holds the [`Engine`] value, its public face and its clock
//! (`poll_timeout`/`handle_timeout`); each concept has a room of its own:
//!
//! ```text
//!   judge     handle_accepted / handle_packet: flows, the input chain (replay only), then inspect
//!   framing   which packets are SIP; datagrams and reassembled TCP streams cut into messages
//!   inspect   one message: scanner, flood, malformed, transactions, return-route evidence
//!   outcomes  transaction and event outcomes: brute force, enumeration, registration
//!   guard     bans a detector asks for and the shields that stop them; bans by hand
//!   media     pinholes from SDP, SIP and H.323 helper expectations
//!   events    FreeSWITCH events: auth outcomes, channel media ports
//! ```

mod events;
mod framing;
mod guard;
mod inspect;
mod judge;
mod media;
mod outcomes;

use guard::MAX_SUPPRESSED_SOURCES;

use crate::action::{Action, BanReason};
use crate::bans::{BanPolicy, Bans};
use crate::flood::Flood;
use crate::flow::{FlowKey, Flows};
use crate::pinhole::Pinholes;
use crate::reassembly::Streams;
use crate::routable::Routability;
use crate::scanner::Scanner;
use crate::time::Timestamp;
use crate::transaction::Transactions;
use crate::window::Windows;
use crate::witnesses::{Witnesses, MAX_SOURCES as WITNESSED_SOURCES};
use lru::LruCache;
use sipwall_policy::{Guard, Kind, MediaMode, Policy, PortRange, Protocol};
use sipwall_ruleset::eval::Verdict;
use sipwall_ruleset::ir::{Chain, Hook};
use sipwall_ruleset::Ruleset;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

/// What decided a packet's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecidedBy {
    /// A rule of the input chain (its index).
    Rule(usize),
    /// The input chain's policy.
    ChainPolicy,
    /// A packet the host sends: not filtered.
    Output,
    /// The guard: this packet got its source banned (inline, it is dropped).
    Guard(BanReason),
}

/// A verdict and what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Accept, drop or reject.
    pub verdict: Verdict,
    /// Why.
    pub by: DecidedBy,
}

/// Counters for metrics and replay summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets accepted.
    pub accepted: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Packets rejected.
    pub rejected: u64,
    /// SIP messages inspected.
    pub sip_messages: u64,
    /// Malformed SIP messages seen on the SIP ports.
    pub malformed: u64,
    /// The same, per kind of fault (`start-line`, `request-uri`,
    /// `header`, `body`, `sdp`, `limit`, `stream-buffer`, ...).
    pub malformed_by: Vec<(&'static str, u64)>,
    /// Bans made, per reason kind (`scanner`, `flood`, ...).
    pub bans: Vec<(&'static str, u64)>,
    /// Bans a detector asked for and a shield refused (allowlisted, or a
    /// verified source on unverified evidence).
    pub bans_suppressed: u64,
    /// The same, per (detector kind, shield kind): `("scanner", "verified")`.
    pub bans_suppressed_by: Vec<((&'static str, &'static str), u64)>,
    /// Pinholes opened (refreshes included).
    pub pinholes_opened: u64,
    /// Pinholes closed.
    pub pinholes_closed: u64,
    /// Failed authentications seen, on the wire or from FreeSWITCH's
    /// `sofia::register_failure` events.
    pub auth_failures: u64,
}

impl Stats {
    fn count_malformed(&mut self, kind: &'static str) {
        self.malformed += 1;
        match self.malformed_by.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.malformed_by.push((kind, 1)),
        }
    }

    fn count_ban(&mut self, kind: &'static str) {
        match self.bans.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.bans.push((kind, 1)),
        }
    }
}

/// Limits on the engine's memory.
const MAX_FLOWS: usize = 262_144;
const MAX_TRANSACTIONS: usize = 65_536;
const MAX_CALLS: usize = 100_000;
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// The deterministic core of sipwall's guard.
#[derive(Debug)]
pub struct Engine {
    ruleset: Ruleset,
    input: usize,
    sip_udp: Vec<PortRange>,
    sip_tcp: Vec<PortRange>,
    media: MediaMode,
    helper_assigned: bool,
    direct_media: bool,
    /// Ports the ruleset gives the kernel's Q.931 helper (TCP).
    q931: Vec<PortRange>,
    /// H.245 connections: those a Q.931 expectation admitted, which the
    /// kernel hands to its H.245 helper.
    h245: crate::keyed::Map<FlowKey, ()>,
    guard: Guard,
    flows: Flows,
    bans: Bans,
    pinholes: Pinholes,
    scanner: Scanner,
    flood: Flood,
    failures: Windows<IpAddr>,
    account_failures: Windows<String>,
    witnesses: Witnesses,
    /// Failed authentications reported so far: each report's own tag.
    failure_reports: u64,
    unknown_users: Windows<IpAddr>,
    malformed: Windows<IpAddr>,
    transactions: Transactions,
    streams: Streams,
    routes: Routability,
    suppressed_lines: LruCache<IpAddr, Timestamp>,
    actions: VecDeque<Action>,
    stats: Stats,
    next_sweep: Timestamp,
    scratch: Vec<Action>,
}

impl Engine {
    /// An engine for `policy` (`source` names it in rule comments).
    pub fn new(policy: &Policy, source: &str) -> Engine {
        let ruleset = sipwall_ruleset::compile(policy, source);
        let input = ruleset
            .chains
            .iter()
            .position(|c| c.hook == Hook::Input)
            .expect("compile makes an input chain");
        let ports = |proto| policy.ports_of(Kind::Sip, proto);
        let q931 = if ruleset.helpers.iter().any(|h| h.kind == "Q.931") {
            policy.ports_of(Kind::H323Q931, Protocol::Tcp)
        } else {
            Vec::new()
        };
        let allow = policy.guard_allow_nets();
        let g = &policy.guard;
        let bans = Bans::new(
            BanPolicy {
                base: policy.bans.timeout,
                escalation: g.escalation,
                max: g.max_ban,
                registered_allow: g.registered_allow,
            },
            allow,
        );
        Engine {
            input,
            sip_udp: ports(Protocol::Udp),
            sip_tcp: ports(Protocol::Tcp),
            media: policy.media.mode,
            helper_assigned: policy.helpers.sip_assign,
            direct_media: policy.helpers.sip_direct_media,
            q931,
            h245: Default::default(),
            flows: Flows::new(MAX_FLOWS),
            bans,
            pinholes: Pinholes::new(
                policy.media.pinhole_timeout,
                policy.media.pinhole_match_remote,
                MAX_CALLS,
            ),
            scanner: Scanner::new(&g.scanner),
            flood: Flood::new(g.flood.rate, g.flood.burst, g.flood.max_sources),
            failures: Windows::new(
                g.brute_force.window,
                g.brute_force.max_failures as usize,
                100_000,
            ),
            account_failures: Windows::new(
                g.brute_force.account_window,
                g.brute_force.account_max_failures as usize,
                100_000,
            ),
            witnesses: Witnesses::new(WITNESSED_SOURCES),
            failure_reports: 0,
            unknown_users: Windows::new(
                g.enumeration.window,
                g.enumeration.max_users as usize,
                100_000,
            ),
            malformed: Windows::new(g.malformed.window, g.malformed.max as usize, 100_000),
            transactions: Transactions::new(MAX_TRANSACTIONS),
            streams: Streams::new(crate::reassembly::DEFAULT_BUDGET),
            routes: Routability::new(g.verified_for),
            suppressed_lines: LruCache::new(
                NonZeroUsize::new(MAX_SUPPRESSED_SOURCES).expect("non-zero"),
            ),
            actions: VecDeque::new(),
            stats: Stats::default(),
            next_sweep: Timestamp::default(),
            scratch: Vec::new(),
            guard: policy.guard.clone(),
            ruleset,
        }
    }

    /// The compiled ruleset the engine evaluates.
    pub fn ruleset(&self) -> &Ruleset {
        &self.ruleset
    }

    fn input_chain(&self) -> &Chain {
        &self.ruleset.chains[self.input]
    }

    /// A line saying what decided: the rule's comment, or the guard's reason.
    pub fn describe(&self, by: &DecidedBy) -> String {
        match by {
            DecidedBy::Rule(i) => self
                .input_chain()
                .rules
                .get(*i)
                .map_or_else(String::new, |r| r.comment.clone()),
            DecidedBy::ChainPolicy => "input chain policy".to_owned(),
            DecidedBy::Output => "output (not filtered)".to_owned(),
            DecidedBy::Guard(reason) => format!("guard: {reason}"),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The ban table.
    pub fn bans(&self) -> &Bans {
        &self.bans
    }

    /// The open SIP transactions the engine waits on answers for.
    pub fn transactions(&self) -> &Transactions {
        &self.transactions
    }

    /// The TCP reassembly buffers.
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// The pinhole table.
    pub fn pinholes(&self) -> &Pinholes {
        &self.pinholes
    }

    /// The next action for the caller, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// How many actions wait for [`Engine::poll_action`]: a caller that
    /// counts before and after an input knows which actions it caused.
    pub fn pending_actions(&self) -> usize {
        self.actions.len()
    }

    /// When [`Engine::handle_timeout`] should next be called: the next end
    /// of a ban or a pinhole in force (a refreshed or lifted one's old end
    /// is dropped here, not woken for). Nothing else wakes the engine: the
    /// tables only packets fill are pruned on the packet path.
    #[inline]
    pub fn poll_timeout(&mut self) -> Option<Timestamp> {
        crate::time::earliest(self.bans.next_expiry(), self.pinholes.next_expiry())
    }

    /// Lets time pass: bans and pinholes that ran out by `now` end
    /// ([`Action::BanExpired`], [`Action::ClosePinhole`]). The caller calls
    /// it once [`Engine::poll_timeout`] is due; the engine never does, so
    /// an expiry is reported at the time the caller says.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        for addr in self.bans.expire(now) {
            self.actions.push_back(Action::BanExpired { addr });
        }
        let mut out = std::mem::take(&mut self.scratch);
        self.pinholes.expire(now, &mut out);
        self.emit(&mut out);
        self.scratch = out;
    }

    /// Prunes the tables packets and events fill (flows and their
    /// expectations, reassembly buffers, H.245 connections, calls long
    /// quiet), at most once per [`SWEEP_EVERY`]. Done on their way in,
    /// where it is cheap: an idle engine holds nothing new to prune, so
    /// it needs no timer of its own.
    fn sweep(&mut self, now: Timestamp) {
        if now < self.next_sweep {
            return;
        }
        self.flows.sweep(now);
        let flows = &self.flows;
        self.streams.retain(|k| flows.is_tracked(now, k));
        self.h245.retain(|k, _| flows.is_tracked(now, k));
        self.pinholes.forget_idle(now);
        self.next_sweep = now + SWEEP_EVERY;
    }

    fn emit(&mut self, out: &mut Vec<Action>) {
        for a in out.drain(..) {
            match a {
                Action::OpenPinhole { .. } => self.stats.pinholes_opened += 1,
                Action::ClosePinhole { .. } => self.stats.pinholes_closed += 1,
                _ => {}
            }
            self.actions.push_back(a);
        }
    }
}
