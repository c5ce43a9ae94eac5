//! The engine: packets and FreeSWITCH events in, verdicts and actions out.
//!
//! ```text
//!   handle(now, dir, ip bytes) ─► Flows (ct state) ─► ruleset IR (bans, pinholes as sets)
//!                                        │ accepted SIP ─► sipwall-sip ─► Scanner · Flood ·
//!                                        │                Transactions ─► brute force, enumeration,
//!                                        │                registration · Pinholes / helper expectations
//!   handle_event(now, event) ────────────┘                         │
//!   poll_action() ◄─────────────────── Ban · Allow · OpenPinhole · ClosePinhole · BanExpired
//!   poll_timeout() / handle_timeout(now): bans and pinholes run out
//! ```

use crate::action::{Action, BanReason, Shield};
use crate::bans::{Ban, BanPolicy, Bans, PrefixPolicy};
use crate::event::Event;
use crate::flood::Flood;
use crate::flow::{Expectation, FlowKey, Flows, EXPECTATION_TIMEOUT};
use crate::packet::{Direction, Packet, PacketError, Transport};
use crate::pinhole::{Owner, Pinholes};
use crate::reassembly::{Streams, MAX_BUFFER};
use crate::remote_text::printable;
use crate::routable::Routability;
use crate::scanner::{Request, Scanner};
use crate::time::Timestamp;
use crate::transaction::{Outcome, Transactions};
use crate::window::Windows;
use crate::witnesses::{Witness, Witnesses, MAX_SOURCES as WITNESSED_SOURCES};
use lru::LruCache;
use sipwall_policy::{Guard, Kind, MediaMode, Policy, PortRange, Protocol};
use sipwall_ruleset::eval::{self, SetLookup, Verdict, L4};
use sipwall_ruleset::ir::{Chain, CtState, Hook};
use sipwall_ruleset::{sets, Ruleset};
use sipwall_sip::{framing, Frame, Message, Method, Sdp, Summary};
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
    /// Not an IP packet the engine can read.
    Unreadable,
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

/// A SIP parse error's kind, one word for counting: the part of the
/// message at fault for a malformed one, else the error's class
/// (`unsupported`, `limit`).
fn sip_fault(e: &sipwall_sip::Error) -> &'static str {
    use sipwall_sip::Defect;
    match e {
        sipwall_sip::Error::Malformed { defect, .. } => match defect {
            Defect::StartLine(_) => "start-line",
            Defect::RequestUri(_) => "request-uri",
            Defect::StatusCode => "status-code",
            Defect::HeaderLine(_) => "header-line",
            Defect::Header { .. } => "header",
            Defect::Body(_) => "body",
            Defect::Sdp(_) => "sdp",
            _ => "malformed",
        },
        other => other.class(),
    }
}

/// nf_conntrack_h323's expectation policy: timeout and how many.
const H323_EXPECTATION_TIMEOUT: Duration = Duration::from_secs(240);
const H323_EXPECTATIONS_PER_CALL: usize = 20;
/// H.245 connections remembered at most.
const MAX_H245: usize = 4096;

/// Limits on the engine's memory.
const MAX_FLOWS: usize = 262_144;
const MAX_TRANSACTIONS: usize = 65_536;
const MAX_CALLS: usize = 100_000;
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// A suppressed ban is announced at most this often per source (each is counted).
const SUPPRESSED_LINE_EVERY: Duration = Duration::from_secs(60);
/// Sources whose last suppressed-ban line is remembered.
const MAX_SUPPRESSED_SOURCES: usize = 4096;
/// The longest User-Agent, Request-URI or event field kept in evidence, in bytes.
const MAX_EVIDENCE_FIELD: usize = 256;
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

/// The engine's view of its sets, for the ruleset's evaluation.
struct SetsAt<'e> {
    now: Timestamp,
    bans: &'e Bans,
    pinholes: &'e Pinholes,
}

impl SetLookup for SetsAt<'_> {
    fn has_addr(&self, set: &str, addr: IpAddr) -> bool {
        (set == sets::BAN_V4 || set == sets::BAN_V6) && self.bans.is_banned(self.now, addr)
    }
    fn has_port(&self, set: &str, port: u16) -> bool {
        set == sets::PINHOLE_PORT && self.pinholes.has_port(port)
    }
    fn has_addr_port(&self, set: &str, addr: IpAddr, port: u16) -> bool {
        (set == sets::PINHOLE_V4 || set == sets::PINHOLE_V6)
            && self.pinholes.has_addr_port(addr, port)
    }
}

fn in_ranges(ranges: &[PortRange], port: u16) -> bool {
    ranges.iter().any(|r| r.contains(port))
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
        let allow = policy
            .guard
            .allow
            .iter()
            .filter_map(|z| policy.zone(z))
            .filter(|z| !z.is_any())
            .flat_map(|z| z.prefixes.iter().copied())
            .collect();
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
            DecidedBy::Unreadable => "unreadable packet".to_owned(),
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

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        [
            self.bans.next_expiry(),
            self.pinholes.next_expiry(),
            Some(self.next_sweep),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Lets time pass: bans and pinholes that ran out end, tables are swept.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        for addr in self.bans.expire(now) {
            self.actions.push_back(Action::BanExpired { addr });
        }
        let mut out = std::mem::take(&mut self.scratch);
        self.pinholes.expire(now, &mut out);
        self.emit(&mut out);
        self.scratch = out;
        if now >= self.next_sweep {
            self.flows.sweep(now);
            let flows = &self.flows;
            self.streams.retain(|k| flows.is_tracked(now, k));
            self.h245.retain(|k, _| flows.is_tracked(now, k));
            self.pinholes.forget_idle(now);
            self.next_sweep = now + SWEEP_EVERY;
        }
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

    /// Bans `addr` on a detector's word, unless a shield stops it:
    /// `routable` says whether the evidence is return-routable (a blind
    /// spoofer could not have produced it).
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

    fn ban_source(
        &mut self,
        now: Timestamp,
        addr: IpAddr,
        reason: BanReason,
        evidence: String,
        exempt_registered: bool,
        routable: bool,
    ) -> bool {
        let shield = if self.bans.is_allowlisted(addr) {
            Some(Shield::Allowlisted)
        } else if !routable && self.routes.is_verified(now, addr) {
            Some(Shield::Verified)
        } else {
            None
        };
        if let Some(why) = shield {
            self.suppress(now, addr, reason, evidence, why);
            return false;
        }
        let until = self.bans.ban(now, addr, reason.clone(), exempt_registered);
        self.record_ban(addr, until, reason, evidence)
    }

    /// Counts a ban a shield refused, and announces it (rate-limited per source).
    fn suppress(
        &mut self,
        now: Timestamp,
        addr: IpAddr,
        reason: BanReason,
        evidence: String,
        why: Shield,
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
    fn verify(&mut self, now: Timestamp, src: IpAddr) {
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

    /// Reads and judges one IP packet.
    pub fn handle(&mut self, now: Timestamp, dir: Direction, ip: &[u8]) -> Decision {
        match Packet::parse(ip) {
            Ok(p) => self.handle_packet(now, dir, &p),
            Err(PacketError::Malformed(_)) => {
                self.stats.dropped += 1;
                Decision {
                    verdict: Verdict::Drop,
                    by: DecidedBy::Unreadable,
                }
            }
        }
    }

    /// Judges one packet already read.
    pub fn handle_packet(&mut self, now: Timestamp, dir: Direction, p: &Packet<'_>) -> Decision {
        if now >= self.next_sweep || self.bans.next_expiry().is_some_and(|t| t <= now) {
            self.handle_timeout(now);
        }
        let key = FlowKey::of(p);
        if dir == Direction::Out {
            // Only H.323 needs an outgoing packet's state: an H.245
            // connection the host opens is related too.
            let ct = (!self.q931.is_empty())
                .then(|| self.flows.state(now, &key, p))
                .flatten();
            self.flows.accept(now, key, p, dir);
            self.h323(now, p, key, ct);
            if self.is_sip(p, dir) {
                self.inspect(now, dir, p, key, false);
            }
            self.stats.accepted += 1;
            return Decision {
                verdict: Verdict::Accept,
                by: DecidedBy::Output,
            };
        }
        let ct = self.flows.state(now, &key, p);
        let l4 = match p.transport {
            Transport::Udp { sport, dport } => L4::Udp { sport, dport },
            Transport::Tcp { sport, dport, .. } => L4::Tcp { sport, dport },
            Transport::Icmp { ty } => L4::Icmp(ty),
            Transport::Icmpv6 { ty } => L4::Icmpv6(ty),
            Transport::Other { proto } => L4::Other(proto),
        };
        let pkt = eval::Packet {
            loopback_in: p.src.is_loopback(),
            saddr: p.src,
            daddr: p.dst,
            l4,
            ct,
            payload: p.payload,
        };
        let chain = &self.ruleset.chains[self.input];
        let view = SetsAt {
            now,
            bans: &self.bans,
            pinholes: &self.pinholes,
        };
        let d = eval::evaluate(chain, &pkt, &view);
        let by = match d.rule {
            Some(r) => DecidedBy::Rule(
                chain
                    .rules
                    .iter()
                    .position(|x| std::ptr::eq(x, r))
                    .unwrap_or(0),
            ),
            None => DecidedBy::ChainPolicy,
        };
        let mut decision = Decision {
            verdict: d.action,
            by,
        };
        if decision.verdict == Verdict::Accept {
            // A TCP segment on a connection whose handshake the host
            // answered (and that is not closing) comes from whoever got
            // the SYN-ACK: return-routable. Judged before this packet's
            // own FIN or RST is recorded.
            let stream = matches!(p.transport, Transport::Tcp { .. })
                && ct == Some(CtState::Established)
                && self.flows.is_open(now, &key);
            self.flows.accept(now, key, p, dir);
            self.h323(now, p, key, ct);
            if self.is_sip(p, dir) {
                if let Some(reason) = self.inspect(now, dir, p, key, stream) {
                    decision = Decision {
                        verdict: Verdict::Drop,
                        by: DecidedBy::Guard(reason),
                    };
                }
            }
        }
        match decision.verdict {
            Verdict::Accept => self.stats.accepted += 1,
            Verdict::Drop => self.stats.dropped += 1,
            Verdict::Reject => self.stats.rejected += 1,
        }
        decision
    }

    /// nf_conntrack_h323's Q.931 and H.245 helpers, as far as
    /// [`crate::h323`] reads them: on an answered connection to or from a
    /// Q.931 port, the H.245 address the sender announces for itself is
    /// expected from the other end (TCP); on an H.245 connection (one such
    /// expectation admitted; `ct` is its state before this packet), the
    /// RTP and RTCP ports of an OpenLogicalChannelAck (UDP: the even port
    /// and the odd one above it, as the kernel rounds them). For the
    /// helpers' 240 s.
    fn h323(&mut self, now: Timestamp, p: &Packet<'_>, key: FlowKey, ct: Option<CtState>) {
        let Transport::Tcp { sport, dport, .. } = p.transport else {
            return;
        };
        if self.q931.is_empty() {
            return;
        }
        if ct == Some(CtState::Related) && !self.h245.contains_key(&key) {
            if self.h245.len() >= MAX_H245 {
                let flows = &self.flows;
                self.h245.retain(|k, _| flows.is_tracked(now, k));
            }
            if self.h245.len() < MAX_H245 {
                self.h245.insert(key, ());
            }
        }
        if p.payload.is_empty() || !self.flows.is_answered(now, &key) {
            return;
        }
        let on = |port| in_ranges(&self.q931, port);
        let announced: Vec<(u8, IpAddr, u16)> = if on(sport) || on(dport) {
            crate::h323::h245_addresses(p.payload)
                .map(|(a, port)| (6, a, port))
                .collect()
        } else if self.h245.contains_key(&key) {
            crate::h323::media_addresses(p.payload)
                .flat_map(|(a, port)| [(17, a, port & !1), (17, a, port | 1)])
                .collect()
        } else {
            return;
        };
        let call = crate::keyed::digest(b'h', &[format!("{key:?}").as_bytes()]);
        for (proto, addr, port) in announced {
            // The kernel takes only the sender's own address, and no port 0.
            if addr != p.src || port == 0 {
                continue;
            }
            self.flows.expect(
                Expectation {
                    proto,
                    dst: addr,
                    dport: port,
                    src: Some(p.dst),
                    call,
                    expires: now + H323_EXPECTATION_TIMEOUT,
                },
                H323_EXPECTATIONS_PER_CALL,
            );
        }
    }

    fn is_sip(&self, p: &Packet<'_>, dir: Direction) -> bool {
        let (ranges, sport, dport) = match p.transport {
            Transport::Udp { sport, dport } => (&self.sip_udp, sport, dport),
            Transport::Tcp { sport, dport, .. } => (&self.sip_tcp, sport, dport),
            _ => return false,
        };
        match dir {
            Direction::In => in_ranges(ranges, dport),
            // FreeSWITCH answers from its profile port and calls out to a peer's SIP port.
            Direction::Out => in_ranges(ranges, sport) || in_ranges(ranges, dport),
        }
    }

    /// Inspects SIP; returns the reason when the sender got banned by it.
    fn inspect(
        &mut self,
        now: Timestamp,
        dir: Direction,
        p: &Packet<'_>,
        key: FlowKey,
        stream: bool,
    ) -> Option<BanReason> {
        if let Transport::Tcp {
            sport,
            dport,
            fin_or_rst: true,
            ..
        } = p.transport
        {
            // The connection ends: what it left unframed goes with it.
            let banned = self.inspect_payload(now, dir, p, key, stream);
            self.streams.end(key, (p.src, sport), (p.dst, dport));
            return banned;
        }
        self.inspect_payload(now, dir, p, key, stream)
    }

    fn inspect_payload(
        &mut self,
        now: Timestamp,
        dir: Direction,
        p: &Packet<'_>,
        key: FlowKey,
        stream: bool,
    ) -> Option<BanReason> {
        if p.payload.is_empty() {
            return None;
        }
        let mut banned = None;
        match p.transport {
            Transport::Tcp { sport, .. } => {
                let stream_key = (key, p.src, sport);
                let mut buf = self.streams.take(&stream_key);
                buf.extend_from_slice(p.payload);
                let mut used = 0;
                loop {
                    match framing::frame(&buf[used..]) {
                        Frame::Complete(len) => {
                            let end = used + len;
                            let msg = buf[used..end].to_vec();
                            banned = banned.or(self.message(now, dir, p, &msg, stream));
                            used = end;
                        }
                        Frame::KeepAlive(len) => used += len,
                        Frame::Incomplete => break,
                        Frame::Malformed(e) => {
                            banned = banned.or(self.malformed_sip(
                                now,
                                dir,
                                p.src,
                                stream,
                                sip_fault(&e),
                            ));
                            used = buf.len();
                            break;
                        }
                    }
                }
                buf.drain(..used);
                if buf.len() <= MAX_BUFFER {
                    self.streams.put(stream_key, buf);
                } else {
                    banned =
                        banned.or(self.malformed_sip(now, dir, p.src, stream, "stream-buffer"));
                }
            }
            _ => {
                if p.payload.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
                    return None; // keep-alive
                }
                banned = self.message(now, dir, p, p.payload, false);
            }
        }
        banned
    }

    fn malformed_sip(
        &mut self,
        now: Timestamp,
        dir: Direction,
        src: IpAddr,
        routable: bool,
        kind: &'static str,
    ) -> Option<BanReason> {
        self.stats.count_malformed(kind);
        if dir != Direction::In || !self.guard.malformed.ban {
            return None;
        }
        let n = self.malformed.record(now, src, self.stats.malformed);
        if n >= self.guard.malformed.max as usize {
            let evidence = format!(
                "{n} malformed SIP messages within {:?}",
                self.guard.malformed.window
            );
            if self.ban_source(now, src, BanReason::Malformed, evidence, true, routable) {
                return Some(BanReason::Malformed);
            }
        }
        None
    }

    fn message(
        &mut self,
        now: Timestamp,
        dir: Direction,
        p: &Packet<'_>,
        bytes: &[u8],
        stream: bool,
    ) -> Option<BanReason> {
        let parsed = Message::parse(bytes);
        // Only a message the parser refuses is read again, leniently: a
        // scanner's malformed probe is still a scanner's, and an INVITE
        // the parser refuses still sets up a call.
        let summary = parsed
            .as_ref()
            .err()
            .and_then(|_| Summary::read(bytes).ok());
        if dir == Direction::In {
            let request = match &parsed {
                Ok(m) => Request::of_message(m),
                Err(_) => summary.as_ref().and_then(Request::of_summary),
            };
            if let Some(reason) = request.and_then(|r| {
                let reason = self.scanner.check(&r, p.dst)?;
                Some((reason, describe_request(&r)))
            }) {
                let (reason, evidence) = reason;
                // A scanner's request carries no echo of anything the host
                // sent: only a TCP stream makes it return-routable.
                if self.ban_source(now, p.src, reason.clone(), evidence, true, stream) {
                    self.stats.sip_messages += 1;
                    return Some(reason);
                }
            }
        }
        let m = match parsed {
            Ok(m) => m,
            Err(e) => {
                // An INVITE the parser refuses (SIPp writes `c=IN IP6
                // [addr]`) still sets a call up: the answer's SDP is what
                // opens its pinholes, and only an INVITE makes a call.
                if let (MediaMode::Pinhole, Some(s)) = (self.media, &summary) {
                    self.invite_seen(now, dir, p, s);
                }
                return self.malformed_sip(now, dir, p.src, stream, sip_fault(&e));
            }
        };
        self.stats.sip_messages += 1;
        let mut banned = None;
        let routable = stream || (dir == Direction::In && self.echoes(now, p.src, &m));
        // Responses cost the engine as much as requests: both count toward
        // the per-source limit.
        if dir == Direction::In && self.guard.flood.enabled && self.flood.over(now, p.src) {
            let evidence = format!(
                "over {} messages/s (burst {})",
                self.guard.flood.rate, self.guard.flood.burst
            );
            if self.ban_source(now, p.src, BanReason::Flood, evidence, false, routable) {
                banned = Some(BanReason::Flood);
            }
        }
        match (dir, m.is_request()) {
            (Direction::In, true) => self.transactions.request(now, p.src, &m, routable),
            (Direction::Out, true) => {
                if let Some(branch) = m.top_via().and_then(|v| v.branch()) {
                    self.routes.requested(now, p.dst, branch);
                }
            }
            (Direction::Out, false) => {
                self.note_sent(now, p.dst, &m);
                if let Some(outcome) = self.transactions.response(now, &m) {
                    self.outcome(now, outcome);
                }
            }
            _ => {}
        }
        if banned.is_none() {
            match self.media {
                MediaMode::Pinhole => self.pinhole_media(now, dir, p, &m),
                MediaMode::Helper | MediaMode::Range if self.helper_assigned => {
                    self.helper_media(now, p, &m)
                }
                _ => {}
            }
        }
        banned
    }

    /// Whether a message echoes what the host sent its source: a request
    /// the nonce of a challenge or (an ACK) the To tag of a 2xx, a response
    /// the Via branch of the host's request. An ACK that does completes a
    /// dialog, and so does a 2xx to the host's INVITE (or REGISTER, or
    /// OPTIONS ping): either verifies the source.
    fn echoes(&mut self, now: Timestamp, src: IpAddr, m: &Message<'_>) -> bool {
        if !m.is_request() {
            let branch = m.top_via().and_then(|v| v.branch());
            let routable = branch.is_some_and(|b| self.routes.answers_request(now, src, b));
            let completes = m.status().is_some_and(|s| (200..300).contains(&s))
                && m.cseq().is_some_and(|c| {
                    matches!(
                        c.method,
                        Method::Invite | Method::Register | Method::Options
                    )
                });
            if routable && completes {
                self.verify(now, src);
            }
            return routable;
        }
        let nonce = m
            .authorization()
            .or_else(|| m.proxy_authorization())
            .and_then(|a| a.param("nonce"));
        let mut routable = nonce.is_some_and(|n| self.routes.echoes_nonce(now, src, n));
        if matches!(m.method(), Some(Method::Ack)) {
            let tag = m.to().and_then(|t| t.tag());
            if let (Some(call_id), Some(tag)) = (m.call_id(), tag) {
                if self.routes.acks_answer(now, src, call_id, tag) {
                    self.verify(now, src);
                    routable = true;
                }
            }
        }
        routable
    }

    /// Notes what the host sends `to` that only `to` can echo: a
    /// challenge's nonce, a 2xx-to-INVITE's To tag.
    fn note_sent(&mut self, now: Timestamp, to: IpAddr, m: &Message<'_>) {
        let challenge = match m.status() {
            Some(401) => m.www_authenticate(),
            Some(407) => m.proxy_authenticate(),
            Some(200..=299) => {
                let to_invite = m.cseq().is_some_and(|c| c.method == Method::Invite);
                let tag = m.to().and_then(|t| t.tag());
                if let (true, Some(call_id), Some(tag)) = (to_invite, m.call_id(), tag) {
                    self.routes.answered(now, to, call_id, tag);
                }
                None
            }
            _ => None,
        };
        if let Some(nonce) = challenge.and_then(|c| c.param("nonce")) {
            self.routes.challenged(now, to, nonce);
        }
    }

    fn outcome(&mut self, now: Timestamp, outcome: Outcome) {
        match outcome {
            Outcome::AuthFailure {
                src,
                account,
                routable,
            } => self.auth_failure(now, src, account, routable, Witness::Wire),
            Outcome::UnknownUser {
                src,
                account,
                routable,
            } => {
                if !self.guard.enumeration.enabled {
                    return;
                }
                let n = self.unknown_users.record(now, src, tag(account.as_bytes()));
                if n >= self.guard.enumeration.max_users as usize {
                    let evidence = format!(
                        "{n} distinct unknown users within {:?}, last {account}",
                        self.guard.enumeration.window
                    );
                    self.ban_source(now, src, BanReason::Enumeration, evidence, true, routable);
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
    fn auth_failure(
        &mut self,
        now: Timestamp,
        src: IpAddr,
        account: String,
        routable: bool,
        by: Witness,
    ) {
        let fresh = self.stats.sip_messages ^ now.micros();
        let seq = self.witnesses.tag(now, src, by, fresh);
        if seq == fresh {
            // Not the twin of a report already counted.
            self.stats.auth_failures += 1;
        }
        if !self.guard.brute_force.enabled {
            return;
        }
        let bf = &self.guard.brute_force;
        let (max, account_max) = (bf.max_failures as usize, bf.account_max_failures as usize);
        let by_source = self.failures.record(now, src, seq);
        let by_account = self.account_failures.record(now, account.clone(), seq);
        if by_source >= max || by_account >= account_max {
            let evidence = format!("{by_source} failed authentications from this source, {by_account} against {account}");
            let reason = BanReason::BruteForce { account };
            if self.ban_source(now, src, reason, evidence, true, routable) {
                self.failures.forget(&src);
            }
        }
    }

    /// Makes the call of an INVITE read only as far as its summary.
    fn invite_seen(&mut self, now: Timestamp, dir: Direction, p: &Packet<'_>, s: &Summary<'_>) {
        if let (Some(Method::Invite), Some(call_id)) = (s.method(), s.call_id) {
            let endpoints = match dir {
                Direction::In => (p.src, p.dst),
                Direction::Out => (p.dst, p.src),
            };
            self.pinholes
                .open(now, Owner::dialog(call_id), Some(endpoints));
        }
    }

    /// Pinholes from the SDP on the wire (media = pinhole). Only an INVITE
    /// makes a call; anything else about a call the engine does not hold,
    /// or from an address that did not exchange the call's INVITE, changes
    /// nothing (a stray 200 OK or a forged BYE cannot fill the table or
    /// close another's media).
    fn pinhole_media(&mut self, now: Timestamp, dir: Direction, p: &Packet<'_>, m: &Message<'_>) {
        let (Some(call_id), Some(cseq)) = (m.call_id(), m.cseq()) else {
            return;
        };
        let owner = Owner::dialog(call_id);
        if let Some(c) = self.pinholes.get(now, owner) {
            if !(c.is_endpoint(p.src) && c.is_endpoint(p.dst)) {
                return;
            }
        } else if matches!(m.method(), Some(Method::Invite)) {
            let (remote, local) = match dir {
                Direction::In => (p.src, p.dst),
                Direction::Out => (p.dst, p.src),
            };
            if self
                .pinholes
                .open(now, owner, Some((remote, local)))
                .is_none()
            {
                return;
            }
        } else {
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        let carries_offer_or_answer = match m.method() {
            Some(Method::Bye | Method::Cancel) => {
                self.pinholes.end(owner, &mut out);
                false
            }
            Some(Method::Invite) => {
                if let Some(c) = self.pinholes.get(now, owner) {
                    if !c.confirmed {
                        c.invite_cseq = Some(cseq.number);
                    }
                }
                true
            }
            Some(Method::Ack | Method::Update | Method::Prack) => true,
            Some(_) => false,
            None => {
                let status = m.status().unwrap_or(0);
                let to_invite = cseq.method == Method::Invite;
                if to_invite && (200..300).contains(&status) {
                    if let Some(c) = self.pinholes.get(now, owner) {
                        c.confirmed = true;
                    }
                }
                let failed_setup = to_invite && status >= 300 && {
                    let c = self.pinholes.get(now, owner);
                    c.is_some_and(|c| {
                        !c.confirmed && c.invite_cseq.is_none_or(|n| n == cseq.number)
                    })
                };
                if failed_setup {
                    self.pinholes.end(owner, &mut out);
                    false
                } else {
                    status < 300
                        && matches!(cseq.method, Method::Invite | Method::Update | Method::Prack)
                }
            }
        };
        if carries_offer_or_answer {
            if let Some(sdp) = m.sdp() {
                match dir {
                    Direction::Out => {
                        self.pinholes
                            .set_ports(now, owner, &local_ports(&sdp), &mut out)
                    }
                    Direction::In => {
                        if let Some(remote) = media_address(&sdp) {
                            self.pinholes.set_remote(now, owner, remote, &mut out);
                        }
                    }
                }
            }
        }
        self.emit(&mut out);
        self.scratch = out;
    }

    /// nf_conntrack_sip's expectations (media = helper), as notes/kernel.md
    /// describes them: SDP in INVITE/UPDATE/ACK/PRACK and in 1xx/2xx to
    /// INVITE/UPDATE/PRACK; INVITE renews, BYE and failed INVITEs delete.
    fn helper_media(&mut self, now: Timestamp, p: &Packet<'_>, m: &Message<'_>) {
        let (Some(call_id), Some(cseq)) = (m.call_id(), m.cseq()) else {
            return;
        };
        let call = Owner::dialog(call_id).id();
        let parse = match m.method() {
            Some(Method::Invite) => {
                self.flows.unexpect(call);
                true
            }
            Some(Method::Update | Method::Ack | Method::Prack) => true,
            Some(Method::Bye) => {
                self.flows.unexpect(call);
                false
            }
            Some(_) => false,
            None => {
                let status = m.status().unwrap_or(0);
                let relevant =
                    matches!(cseq.method, Method::Invite | Method::Update | Method::Prack);
                if cseq.method == Method::Invite && status >= 300 {
                    self.flows.unexpect(call);
                }
                relevant && status < 300
            }
        };
        let Some(sdp) = parse.then(|| m.sdp()).flatten() else {
            return;
        };
        let session = sdp.connection().and_then(|c| connection_ip(&c));
        for media in sdp
            .media()
            .filter(|x| matches!(x.kind, "audio" | "video" | "image") && x.port != 0)
            .take(3)
        {
            let Some(addr) = media
                .connection
                .as_ref()
                .and_then(connection_ip)
                .or(session)
            else {
                continue;
            };
            if self.direct_media && addr != p.src {
                continue;
            }
            let rtp = media.port & !1;
            for dport in [rtp, rtp.saturating_add(1)] {
                self.flows.expect(
                    Expectation {
                        proto: 17,
                        dst: addr,
                        dport,
                        src: self.direct_media.then_some(p.dst),
                        call,
                        expires: now + EXPECTATION_TIMEOUT,
                    },
                    8,
                );
            }
        }
    }

    /// Reads a FreeSWITCH event.
    pub fn handle_event(&mut self, now: Timestamp, ev: &Event) {
        match (ev.name(), ev.subclass()) {
            (Some("CUSTOM"), Some("sofia::register_failure")) => {
                let Some(src) = ev.get("network-ip").and_then(|a| a.parse().ok()) else {
                    return;
                };
                let half = crate::transaction::MAX_ACCOUNT / 2 - 1;
                let account = format!(
                    "{}@{}",
                    printable(ev.get("to-user").unwrap_or("").as_bytes(), half),
                    printable(ev.get("to-host").unwrap_or("").as_bytes(), half)
                );
                // FreeSWITCH does not say whether the failed request was
                // return-routable: it weighs as unverified evidence.
                self.auth_failure(now, src, account, false, Witness::Event);
            }
            (Some("CUSTOM"), Some("sofia::register")) => {
                let Some(src) = ev.get("network-ip").and_then(|a| a.parse().ok()) else {
                    return;
                };
                // FreeSWITCH authenticated the source: it got the challenge.
                self.outcome(
                    now,
                    Outcome::Registered {
                        src,
                        routable: true,
                    },
                );
            }
            (Some("CHANNEL_PROGRESS_MEDIA" | "CHANNEL_ANSWER" | "CALL_UPDATE"), _)
                if self.media == MediaMode::Pinhole =>
            {
                let Some(uuid) = ev.get("Unique-ID") else {
                    return;
                };
                let owner = Owner::channel(uuid.as_bytes());
                let mux = ev.get("variable_rtcp_mux").is_some_and(|v| v == "true");
                let mut ports = Vec::new();
                for name in ["variable_local_media_port", "variable_local_video_port"] {
                    if let Some(p) = ev.port(name) {
                        ports.push(p);
                        if !mux {
                            ports.push(p.saturating_add(1));
                        }
                    }
                }
                if ports.is_empty() {
                    return;
                }
                let mut out = std::mem::take(&mut self.scratch);
                if let Some(remote) = ev
                    .get("variable_remote_media_ip")
                    .and_then(|a| a.parse().ok())
                {
                    self.pinholes.set_remote(now, owner, remote, &mut out);
                }
                self.pinholes.set_ports(now, owner, &ports, &mut out);
                self.emit(&mut out);
                self.scratch = out;
            }
            (Some("CHANNEL_HANGUP_COMPLETE" | "CHANNEL_DESTROY"), _) => {
                let Some(uuid) = ev.get("Unique-ID") else {
                    return;
                };
                let mut out = std::mem::take(&mut self.scratch);
                self.pinholes.end(Owner::channel(uuid.as_bytes()), &mut out);
                self.emit(&mut out);
                self.scratch = out;
            }
            _ => {}
        }
    }
}

fn tag(bytes: &[u8]) -> u64 {
    crate::keyed::digest(b'u', &[bytes])
}

fn connection_ip(c: &sipwall_sip::Connection<'_>) -> Option<IpAddr> {
    match c.address {
        sipwall_sip::ConnectionAddress::Ip(ip) => Some(ip),
        _ => None,
    }
}

/// The remote media address of an SDP: the first media's, else the session's.
fn media_address(sdp: &Sdp<'_>) -> Option<IpAddr> {
    sdp.media()
        .filter(|m| m.port != 0)
        .find_map(|m| m.connection.as_ref().and_then(connection_ip))
        .or_else(|| sdp.connection().as_ref().and_then(connection_ip))
}

/// The local ports an SDP this host sends will receive media on: RTP,
/// and RTCP (the next port, or `a=rtcp`) unless `a=rtcp-mux`.
fn local_ports(sdp: &Sdp<'_>) -> Vec<u16> {
    let mut ports = Vec::new();
    for m in sdp.media().filter(|m| m.port != 0) {
        ports.push(m.port);
        if !m.rtcp_mux {
            ports.push(m.rtcp.map_or(m.port.saturating_add(1), |r| r.port));
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn describe_request(r: &Request<'_>) -> String {
    let method = printable(r.method.as_str().as_bytes(), MAX_EVIDENCE_FIELD);
    let ruri = printable(r.uri, MAX_EVIDENCE_FIELD);
    match r.fingerprint.user_agent {
        Some(ua) => format!(
            "{method} {ruri} (User-Agent: {})",
            printable(ua, MAX_EVIDENCE_FIELD)
        ),
        None => format!("{method} {ruri} (no User-Agent)"),
    }
}
