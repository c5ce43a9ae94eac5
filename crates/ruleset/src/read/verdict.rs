//! What an existing ruleset does to one packet, answered in three values.
//!
//! Each condition is first settled against the packet where this module
//! can (conntrack state, protocol, `lo`); sipwall's IR matches are left to
//! [`eval::evaluate`]; whatever stays unknown (a
//! substring, a rate, a set, an opaque extension) is resolved twice: once
//! in favour of accepting and once in favour of denying. When even the
//! accepting reading denies, the packet is surely denied; when even the
//! denying reading accepts, it is surely accepted; otherwise "maybe".
//! Several base chains on one hook all have to accept, in priority order.

use super::existing::{Cond, Existing, ExistingChain, ExistingRule, HookPoint, L4Proto, Step};
use crate::eval::{self, EmptySets, Packet, Verdict, L4};
use crate::ir::{self, Action, CtState, Family, Match};
use std::net::IpAddr;

/// How sure the answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Accepted whatever the unknowns are.
    Accepted,
    /// Dropped or rejected whatever the unknowns are.
    Denied,
    /// Depends on something the reader could not model, or on an IP
    /// family the input does not describe.
    Maybe,
}

/// The answer, with the rule that decided it when one did.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// Accepted, denied or maybe.
    pub reach: Reach,
    /// The deciding rule (`None`: a chain's policy, or no chain at all).
    pub by: Option<&'a ExistingRule>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown,
}

impl Existing {
    /// What happens to `pkt` on `hook`.
    pub fn reach<'a>(&'a self, hook: &HookPoint, pkt: &Packet<'_>) -> Answer<'a> {
        let family = family_of(pkt.saddr);
        if !self.covers.has(family) {
            return Answer {
                reach: Reach::Maybe,
                by: None,
            };
        }
        let mut all_accept = true;
        let mut by = None;
        for chain in self.base_chains(hook, family) {
            let a = chain_reach(self, chain, pkt);
            match a.reach {
                Reach::Denied => return a,
                Reach::Maybe => all_accept = false,
                Reach::Accepted => by = a.by.or(by),
            }
        }
        Answer {
            reach: if all_accept {
                Reach::Accepted
            } else {
                Reach::Maybe
            },
            by,
        }
    }
}

fn family_of(addr: IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

fn chain_reach<'a>(rs: &Existing, chain: &'a ExistingChain, pkt: &Packet<'_>) -> Answer<'a> {
    let policy_accept = chain.base.as_ref().is_none_or(|b| b.policy_accept);
    let leaning = |accepting: bool| {
        let mut ir_rules = Vec::new();
        let mut origin = Vec::new();
        for (i, r) in chain.rules.iter().enumerate() {
            let Some(action) = terminal_action(&r.step, policy_accept, accepting) else {
                continue;
            };
            let in_set = |name: &str| set_member(rs, chain, name);
            let Some((matches, unknown)) = settle(&r.conds, pkt, &in_set) else {
                continue;
            };
            let leans_our_way = matches!(action, Action::Accept) == accepting;
            if unknown && !leans_our_way {
                continue;
            }
            ir_rules.push(ir::Rule {
                matches,
                action,
                comment: String::new(),
            });
            origin.push(i);
        }
        let ir_chain = ir::Chain {
            name: "existing",
            hook: ir::Hook::Input,
            policy_accept,
            rules: ir_rules,
        };
        let d = eval::evaluate(&ir_chain, pkt, &EmptySets);
        let by = d.rule.and_then(|rule| {
            let pos = ir_chain.rules.iter().position(|x| std::ptr::eq(x, rule))?;
            chain.rules.get(origin[pos])
        });
        (d.action, by)
    };
    let (v, by) = leaning(true);
    if v != Verdict::Accept {
        return Answer {
            reach: Reach::Denied,
            by,
        };
    }
    let (v, by) = leaning(false);
    if v == Verdict::Accept {
        return Answer {
            reach: Reach::Accepted,
            by,
        };
    }
    Answer {
        reach: Reach::Maybe,
        by: None,
    }
}

/// The verdict a step gives, if it ends the chain; an unknown terminal
/// step takes the side of the reading being built.
fn terminal_action(step: &Step, policy_accept: bool, accepting: bool) -> Option<Action> {
    let policy = if policy_accept {
        Action::Accept
    } else {
        Action::Drop
    };
    match step {
        Step::Ir(a) if a.is_terminal() => Some(a.clone()),
        Step::Ir(_) | Step::AssignHelper(_) => None,
        Step::Return => Some(policy),
        Step::Opaque {
            terminal: false, ..
        } => None,
        Step::Opaque { .. } | Step::Jump { .. } => Some(if accepting {
            Action::Accept
        } else {
            Action::Drop
        }),
    }
}

/// The IR matches left for `eval` and whether anything stayed unknown;
/// `None` when a condition surely fails.
fn settle(
    conds: &[Cond],
    pkt: &Packet<'_>,
    in_set: &dyn Fn(&str) -> Tri,
) -> Option<(Vec<Match>, bool)> {
    let mut matches = Vec::new();
    let mut unknown = false;
    for c in conds {
        let t = match c {
            Cond::Ir(m) if decidable(m) => {
                matches.push(m.clone());
                Tri::Yes
            }
            Cond::Ir(Match::Ct(states)) => tri(pkt.ct.is_some_and(|s| states.contains(&s))),
            // A meter is a run-time set too: as right after an apply, empty,
            // so no source is over its rate yet.
            Cond::Ir(Match::OverRate { meter, .. }) => match in_set(meter) {
                Tri::No => Tri::No,
                _ => Tri::Unknown,
            },
            Cond::Ir(_) => Tri::Unknown,
            Cond::Not(m) if decidable(m) => tri(!holds(m, pkt)),
            Cond::Not(_) => Tri::Unknown,
            Cond::Ct(set) => tri(match pkt.ct {
                None => set.new,
                Some(CtState::Established) => set.established,
                Some(CtState::Related) => set.related,
                Some(CtState::Invalid) => set.invalid,
            }),
            Cond::Proto(p) => tri(proto_is(*p, pkt.l4)),
            Cond::Iface {
                name,
                output: false,
                negated,
            } => match iface_is(name, pkt.loopback_in) {
                Tri::Unknown => Tri::Unknown,
                t => tri((t == Tri::Yes) != *negated),
            },
            Cond::InSet { name, negated } => match in_set(name) {
                Tri::Unknown => Tri::Unknown,
                t => tri((t == Tri::Yes) != *negated),
            },
            Cond::Iface { .. } | Cond::Opaque(_) => Tri::Unknown,
            Cond::Family(f) => tri(*f == family_of(pkt.saddr)),
        };
        match t {
            Tri::No => return None,
            Tri::Unknown => unknown = true,
            Tri::Yes => {}
        }
    }
    Some((matches, unknown))
}

/// Whether a probe is in a named set: sets filled at run time (bans,
/// pinholes) and empty ones are taken as they are right after an apply,
/// empty, like [`EmptySets`]; listed elements are not compared.
fn set_member(rs: &Existing, chain: &ExistingChain, name: &str) -> Tri {
    match rs.set_of(chain, name) {
        Some(s) if s.dynamic || s.empty => Tri::No,
        _ => Tri::Unknown,
    }
}

fn tri(b: bool) -> Tri {
    if b {
        Tri::Yes
    } else {
        Tri::No
    }
}

/// Matches that `eval` settles from the packet alone.
fn decidable(m: &Match) -> bool {
    matches!(
        m,
        Match::LoopbackIn
            | Match::NotLoopbackIn
            | Match::Daddr(_)
            | Match::Saddr(_)
            | Match::Dport(..)
            | Match::Sport(..)
            | Match::IcmpType(_)
            | Match::Icmpv6Type(_)
    )
}

/// One decidable match on its own, through `eval`.
fn holds(m: &Match, pkt: &Packet<'_>) -> bool {
    let chain = ir::Chain {
        name: "negation",
        hook: ir::Hook::Input,
        policy_accept: false,
        rules: vec![ir::Rule {
            matches: vec![m.clone()],
            action: Action::Accept,
            comment: String::new(),
        }],
    };
    eval::evaluate(&chain, pkt, &EmptySets).action == Verdict::Accept
}

fn proto_is(p: L4Proto, l4: L4) -> bool {
    matches!(
        (p, l4),
        (L4Proto::Tcp, L4::Tcp { .. })
            | (L4Proto::Udp, L4::Udp { .. })
            | (L4Proto::Icmp, L4::Icmp(_))
            | (L4Proto::Icmpv6, L4::Icmpv6(_))
    ) || matches!((p, l4), (L4Proto::Other(a), L4::Other(b)) if a == b)
}

/// Whether an input interface test holds: only `lo` is known, since the
/// probes arrive either on loopback or on some other interface.
fn iface_is(name: &str, loopback_in: bool) -> Tri {
    let matches_lo = match name.strip_suffix(['+', '*']) {
        Some(prefix) => "lo".starts_with(prefix),
        None => name == "lo",
    };
    if loopback_in {
        tri(matches_lo)
    } else if name == "lo" {
        Tri::No
    } else {
        Tri::Unknown
    }
}
