//! Inlining user chains into the base chains that jump to them, so that a
//! base chain alone says what happens to a packet.
//!
//! A jump's conditions are prepended to every rule of its target; a
//! conditional `return` makes the rest of the target "maybe" (an opaque
//! condition), because the IR has no negation of a whole rule. `goto` is
//! inlined like `jump`: packets that fall off the target then go on in the
//! caller instead of at the caller's caller, an approximation that only
//! matters for nested gotos. Jumps deeper than [`MAX_DEPTH`], into a cycle
//! or to a chain that does not exist become opaque terminal steps.

use super::existing::{Cond, Covers, Existing, ExistingChain, ExistingRule, SetInfo, Step};

/// How many levels of jumps are inlined (iptables allows far more, but
/// real rulesets rarely nest beyond two or three).
pub const MAX_DEPTH: usize = 8;

/// Builds the model from the chains a reader produced.
pub fn link(
    source: &str,
    chains: Vec<ExistingChain>,
    covers: Covers,
    sets: Vec<SetInfo>,
) -> Existing {
    let linked = chains
        .iter()
        .map(|c| {
            if c.base.is_none() {
                return c.clone();
            }
            let mut stack = vec![c.name.as_str()];
            ExistingChain {
                rules: expand(&chains, c, &c.rules, &[], &mut stack),
                ..c.clone()
            }
        })
        .collect();
    Existing {
        chains: linked,
        covers,
        sources: vec![source.to_owned()],
        sets,
    }
}

fn expand<'c>(
    all: &'c [ExistingChain],
    owner: &ExistingChain,
    rules: &'c [ExistingRule],
    guard: &[Cond],
    stack: &mut Vec<&'c str>,
) -> Vec<ExistingRule> {
    let mut guard = guard.to_vec();
    let mut out = Vec::new();
    for r in rules {
        let conds: Vec<Cond> = guard.iter().chain(&r.conds).cloned().collect();
        match &r.step {
            Step::Jump { target, goto } => {
                let found = all.iter().find(|c| {
                    c.family == owner.family && c.table == owner.table && &c.name == target
                });
                match found {
                    Some(t) if stack.len() <= MAX_DEPTH && !stack.contains(&t.name.as_str()) => {
                        stack.push(t.name.as_str());
                        out.extend(expand(all, owner, &t.rules, &conds, stack));
                        stack.pop();
                        if *goto && r.conds.is_empty() {
                            break;
                        }
                    }
                    _ => out.push(ExistingRule {
                        conds,
                        step: Step::Opaque {
                            what: format!("jump {target} (not followed)"),
                            terminal: true,
                        },
                        at: r.at.clone(),
                        comment: r.comment.clone(),
                    }),
                }
            }
            // Inside an inlined chain, a return ends that chain only.
            Step::Return if stack.len() > 1 => {
                if r.conds.is_empty() {
                    break;
                }
                guard.push(Cond::Opaque(format!("not returned at {}", r.at)));
            }
            _ => out.push(ExistingRule { conds, ..r.clone() }),
        }
    }
    out
}
