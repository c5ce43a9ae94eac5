//! From an nft rule's statements, in order, to [`ExistingRule`]s: a
//! statement is guarded by the conditions written before it, so
//! `tcp dport 22 log accept` becomes a log rule and an accept rule with
//! the same conditions, and `log tcp dport 22 accept` logs every packet.

use super::existing::{Cond, ExistingRule, Location, Step};
use crate::ir::{Action, Family, Match};
use std::time::Duration;

/// The `ct helper` objects of a listing: table and name to kernel helper.
#[derive(Debug, Default)]
pub(crate) struct HelperObjects(Vec<(String, String, String, String)>);

impl HelperObjects {
    /// Records `ct helper NAME { type "KIND" ... }` of `family table`.
    pub(crate) fn add(&mut self, family: &str, table: &str, name: &str, kind: &str) {
        self.0
            .push((family.into(), table.into(), name.into(), kind.into()));
    }

    /// The kernel helper behind object `name` of `family table`.
    pub(crate) fn kind(&self, family: &str, table: &str, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, t, n, _)| f == family && t == table && n == name)
            .map(|(.., k)| k.as_str())
    }
}

/// The step of an `xt target NAME` (iptables-nft): only the name is listed.
pub(crate) fn xt_target(name: &str) -> Step {
    match name {
        "REJECT" => Step::Ir(Action::Reject),
        "LOG" | "NFLOG" => Step::Ir(Action::Log {
            prefix: String::new(),
            level: String::new(),
        }),
        // The helper's name is not listed; it is assigned, to something.
        "CT" => Step::AssignHelper(None),
        "NFQUEUE" | "QUEUE" | "TPROXY" | "SYNPROXY" | "TARPIT" => Step::Opaque {
            what: format!("xt target {name}"),
            terminal: true,
        },
        _ => Step::Opaque {
            what: format!("xt target {name}"),
            terminal: false,
        },
    }
}

/// A set statement of the packet path (`update @meter { ip saddr limit
/// rate over 15/second burst 30 packets }`, `add @set { ip saddr timeout
/// 1m }`), from its set and the words between its braces. With a `limit
/// rate over`, it holds only while the key is over the rate: a condition,
/// sipwall's per-source meter when the key is a source address. Without
/// one it only adds the key and goes on.
pub(crate) fn dynset(set: &str, words: &[&str]) -> (Vec<Cond>, Option<Step>) {
    let Some(over) = words
        .windows(3)
        .position(|w| w == ["limit", "rate", "over"])
    else {
        return (Vec::new(), Some(add_source(set, words)));
    };
    let family = match words.get(..2) {
        Some(["ip", "saddr"]) => Some(Family::V4),
        Some(["ip6", "saddr"]) => Some(Family::V6),
        _ => None,
    };
    let per_second = words
        .get(over + 3)
        .and_then(|r| r.strip_suffix("/second"))
        .and_then(|n| n.parse().ok());
    // nft lists no burst when it is the default of 5 packets.
    let burst = match words.iter().position(|w| *w == "burst") {
        None => Some(5),
        Some(b) if words.get(b + 2) == Some(&"packets") => {
            words.get(b + 1).and_then(|n| n.parse().ok())
        }
        Some(_) => None,
    };
    match (family, per_second, burst) {
        (Some(family), Some(per_second), Some(burst)) => (
            vec![Cond::Ir(Match::OverRate {
                meter: set.to_owned(),
                family,
                per_second,
                burst,
            })],
            None,
        ),
        _ => (
            vec![Cond::Opaque(format!("@{set} {{ {} }}", words.join(" ")))],
            None,
        ),
    }
}

/// `add @set { ip saddr timeout 1m }`: sipwall's kernel ban of a source
/// when a drop follows (see [`rules_of`]), else a step this reader does
/// not model.
fn add_source(set: &str, words: &[&str]) -> Step {
    let family = match words {
        ["ip", "saddr", "timeout", _] => Some(Family::V4),
        ["ip6", "saddr", "timeout", _] => Some(Family::V6),
        _ => None,
    };
    match (family, words.get(3).and_then(|d| nft_duration(d))) {
        (Some(family), Some(timeout)) => Step::Ir(Action::BanSource {
            set: set.to_owned(),
            family,
            timeout,
        }),
        _ => Step::Opaque {
            what: format!("add to @{set}"),
            terminal: false,
        },
    }
}

/// A duration as nft lists it (`1m`, `1h30m`, `90s`, `250ms`).
fn nft_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let one = match &rest[..unit] {
            "d" => Duration::from_secs(86_400),
            "h" => Duration::from_secs(3_600),
            "m" => Duration::from_secs(60),
            "s" => Duration::from_secs(1),
            "ms" => Duration::from_millis(1),
            _ => return None,
        };
        total = total.checked_add(one.checked_mul(u32::try_from(n).ok()?)?)?;
        rest = &rest[unit..];
    }
    (!text.is_empty()).then_some(total)
}

/// The rules of one nft rule, from its statements (conditions or a step each).
pub(crate) fn rules_of(
    statements: Vec<(Vec<Cond>, Option<Step>)>,
    at: &Location,
    comment: Option<&str>,
) -> Vec<ExistingRule> {
    let mut conds = Vec::new();
    let mut out = Vec::new();
    // Statements that neither test nor act (a JSON `counter`) say nothing.
    let mut statements = statements
        .into_iter()
        .filter(|(c, step)| !c.is_empty() || step.is_some())
        .peekable();
    while let Some((c, step)) = statements.next() {
        conds.extend(c);
        // Adding the source to a set is a ban only when the packet is
        // dropped right after; anything else is a set update we do not model.
        let step = match step {
            Some(Step::Ir(Action::BanSource { set, .. })) if !matches!(statements.peek(), Some((c, Some(Step::Ir(Action::Drop)))) if c.is_empty()) => {
                Some(Step::Opaque {
                    what: format!("add to @{set}"),
                    terminal: false,
                })
            }
            Some(ban @ Step::Ir(Action::BanSource { .. })) => {
                statements.next();
                Some(ban)
            }
            other => other,
        };
        if let Some(step) = step {
            let terminal = matches!(&step, Step::Ir(a) if a.is_terminal())
                || matches!(
                    step,
                    Step::Return | Step::Jump { .. } | Step::Opaque { terminal: true, .. }
                );
            out.push(ExistingRule {
                conds: conds.clone(),
                step,
                at: at.clone(),
                comment: comment.map(str::to_owned),
            });
            if terminal {
                return out;
            }
        }
    }
    if out.is_empty() {
        out.push(ExistingRule {
            conds,
            step: Step::Ir(Action::Counter),
            at: at.clone(),
            comment: comment.map(str::to_owned),
        });
    }
    out
}
