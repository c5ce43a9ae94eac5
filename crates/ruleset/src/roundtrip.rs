//! The renderers checked against the IR: a rendered ruleset, read back by
//! [`crate::read`], must hold exactly the IR's rules, in order, with their
//! comments. Any text that broke out of its quotes or its line would add,
//! lose or change a rule, so this is how tests and the fuzz target prove
//! that no policy text can write syntax into the ruleset.

use crate::ir::{Action, Family, Hook, Match, Rule, Ruleset, TABLE};
use crate::read::{ExistingRule, Step};
use crate::text::{escape, escape_arg};
use crate::{iptables, nft};

/// Renders `rs` as nft text and checks what [`crate::read`] gets back.
pub fn check_nft(rs: &Ruleset) -> Result<(), String> {
    let text = nft::render(rs);
    let read = crate::read::read("rendered.nft", &text)
        .map_err(|e| format!("the rendered nft does not read back: {e}\n{text}"))?;
    let tables: Vec<(&str, &str)> = read
        .chains
        .iter()
        .map(|c| (c.table.as_str(), c.name.as_str()))
        .collect();
    if read.chains.iter().any(|c| c.table != TABLE) {
        return Err(format!("a table other than {TABLE}: {tables:?}\n{text}"));
    }
    if read.chains.len() != rs.chains.len() {
        return Err(format!(
            "{} chains read back, {} in the IR: {tables:?}\n{text}",
            read.chains.len(),
            rs.chains.len()
        ));
    }
    for chain in &rs.chains {
        let Some(got) = read.chains.iter().find(|c| c.name == chain.name) else {
            return Err(format!("chain {} missing\n{text}", chain.name));
        };
        // Each IR rule is one nft rule, but a DSCP mark is one per family and
        // a substring match is left out (nft has none).
        let want: Vec<&Rule> = chain
            .rules
            .iter()
            .flat_map(|r| {
                let n = match (
                    &r.action,
                    r.matches.iter().any(|m| matches!(m, Match::Contains(_))),
                ) {
                    (_, true) => 0,
                    (Action::SetDscp(_), _) => 2,
                    _ => 1,
                };
                std::iter::repeat_n(r, n)
            })
            .collect();
        compare(
            &chain_label(chain.name),
            &want,
            &got.rules,
            (nft::COMMENT_MAX, nft::LOG_PREFIX_MAX, escape),
            &text,
        )?;
    }
    Ok(())
}

/// Renders `rs` for iptables-restore (one family) and checks what
/// [`crate::read`] gets back. A policy the target refuses passes.
pub fn check_iptables(rs: &Ruleset, family: Family) -> Result<(), String> {
    let Ok(text) = iptables::render(rs, family) else {
        return Ok(());
    };
    let read = crate::read::read("rendered.save", &text)
        .map_err(|e| format!("the rendered restore file does not read back: {e}\n{text}"))?;
    for (table, chain, hooks) in iptables::CHAINS {
        let want: Vec<&Rule> = hooks
            .iter()
            .filter_map(|h| rs.chain(*h))
            .flat_map(|c| {
                c.rules.iter().flat_map(|r| {
                    // The first line is a user chain jumped to from INPUT,
                    // which the reader inlines: its RETURN (the IR's accept
                    // there) guards what follows instead of being a rule.
                    let n = if c.hook == Hook::Flood && r.action == Action::Accept {
                        0
                    } else {
                        iptables::rule_count(rs, r, family)
                    };
                    std::iter::repeat_n(r, n)
                })
            })
            .collect();
        let got: Vec<ExistingRule> = read
            .chains
            .iter()
            .filter(|c| c.table == table && c.name == chain)
            .flat_map(|c| c.rules.iter().cloned())
            .collect();
        compare(
            &format!("{table} {chain}"),
            &want,
            &got,
            (iptables::COMMENT_MAX, iptables::LOG_PREFIX_MAX, escape_arg),
            &text,
        )?;
    }
    let known = |t: &str, c: &str| {
        // The first line's chain was compared where INPUT inlines it.
        (t, c) == ("filter", iptables::FLOOD_CHAIN)
            || iptables::CHAINS
                .iter()
                .any(|(table, chain, _)| *table == t && *chain == c)
    };
    if let Some(c) = read
        .chains
        .iter()
        .find(|c| !c.rules.is_empty() && !known(&c.table, &c.name))
    {
        return Err(format!(
            "rules in {} {} that the IR has not\n{text}",
            c.table, c.name
        ));
    }
    Ok(())
}

/// Whether the match read back says what `ir` says, or a part of it (one
/// ICMP type of a list is one iptables rule).
fn within(read: &Match, ir: &Match) -> bool {
    fn sub<T: PartialEq>(a: &[T], b: &[T]) -> bool {
        a.iter().all(|x| b.contains(x))
    }
    match (read, ir) {
        (Match::IcmpType(a), Match::IcmpType(b)) | (Match::Icmpv6Type(a), Match::Icmpv6Type(b)) => {
            sub(a, b)
        }
        (Match::Saddr(a), Match::Saddr(b)) | (Match::Daddr(a), Match::Daddr(b)) => sub(a, b),
        _ => read == ir,
    }
}

fn chain_label(name: &str) -> String {
    format!("chain {name}")
}

/// The rules read back against the IR rules they should be: same number,
/// same order, each comment the IR's escaped, each IR match read back
/// among the IR's and each terminal verdict the same.
fn compare(
    what: &str,
    want: &[&Rule],
    got: &[ExistingRule],
    limits: (usize, usize, fn(&str, usize) -> String),
    text: &str,
) -> Result<(), String> {
    if want.len() != got.len() {
        return Err(format!(
            "{what}: {} rules read back, {} in the IR\n{text}",
            got.len(),
            want.len()
        ));
    }
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        let comment = (limits.2)(&w.comment, limits.0);
        if g.comment.as_deref() != Some(comment.as_str()) {
            return Err(format!(
                "{what} rule {i}: comment {:?} read back, {comment:?} expected\n{text}",
                g.comment
            ));
        }
        if let Some(m) = g
            .ir_matches()
            .find(|m| !w.matches.iter().any(|i| within(m, i)))
        {
            return Err(format!(
                "{what} rule {i}: {m:?} read back, not among the IR's {:?}\n{text}",
                w.matches
            ));
        }
        if w.action.is_terminal() {
            // iptables has no packet-path set add: its first line only
            // drops what is over the rate (hashlimit), without the ban.
            let same = matches!(&g.step, Step::Ir(a) if a == &w.action)
                || matches!(
                    (&w.action, &g.step, what.starts_with("filter ")),
                    (Action::BanSource { .. }, Step::Ir(Action::Drop), true)
                );
            if !same {
                return Err(format!(
                    "{what} rule {i}: {:?} read back, {:?} expected\n{text}",
                    g.step, w.action
                ));
            }
        }
        if let (Action::Log { prefix, .. }, Step::Ir(Action::Log { prefix: got, .. })) =
            (&w.action, &g.step)
        {
            if got != &(limits.2)(prefix, limits.1) {
                return Err(format!(
                    "{what} rule {i}: log prefix {got:?} read back, {prefix:?} expected\n{text}"
                ));
            }
        }
    }
    Ok(())
}
