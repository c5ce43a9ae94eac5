//! The narrow interface to iptables that the daemon's intake falls back to
//! where nft has no queue expression, and chains of our own built on it.
//!
//! Rules live in chains of their own, entered by one jump each from a
//! built-in chain. [`install_chains`] first removes every jump into them
//! (however many earlier runs left) and flushes them, so a process killed
//! with `-9` leaves nothing that piles up; [`remove_chains`] takes them
//! out. Tests can substitute their own [`Iptables`].

use crate::error::NetfilterError;
use std::process::Command;

/// Which tool: `iptables` or `ip6tables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `iptables`.
    V4,
    /// `ip6tables`.
    V6,
}

impl Family {
    /// Both, in the order rules are written.
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];
}

/// What sipwall needs from iptables.
pub trait Iptables {
    /// Runs one command (`-A chain ...`, `-D ...`, `-N ...`).
    fn run(&self, family: Family, args: &[&str]) -> Result<(), NetfilterError>;
    /// Every rule of the `filter` table as `-S` prints it.
    fn rules(&self, family: Family) -> Result<String, NetfilterError>;
}

/// [`Iptables`] through the `iptables`/`ip6tables` programs of the current
/// network namespace.
#[derive(Debug, Clone, Default)]
pub struct IptablesCli;

impl IptablesCli {
    fn output(family: Family, args: &[&str]) -> Result<std::process::Output, NetfilterError> {
        let tool = match family {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        };
        Command::new(tool)
            // -w: wait for the xtables lock rather than fail beside another tool.
            .arg("-w")
            .args(args)
            .output()
            .map_err(|source| NetfilterError::Spawn {
                program: tool.to_owned(),
                source,
            })
    }
}

impl Iptables for IptablesCli {
    fn run(&self, family: Family, args: &[&str]) -> Result<(), NetfilterError> {
        let out = Self::output(family, args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(NetfilterError::Rejected {
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    fn rules(&self, family: Family) -> Result<String, NetfilterError> {
        let out = Self::output(family, &["-S"])?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(NetfilterError::Rejected {
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }
}

/// Removes every jump into our `chains` (`(built-in, ours)`), then their
/// rules; with `delete`, the chains too. What is not there is not an error.
pub fn clear_chains(ipt: &impl Iptables, family: Family, chains: &[(&str, &str)], delete: bool) {
    for (hooked, ours) in chains {
        // Bounded: each pass removes one jump; none can be added meanwhile
        // by us, and a thousand is far beyond any leftover.
        for _ in 0..1000 {
            if ipt.run(family, &["-D", hooked, "-j", ours]).is_err() {
                break;
            }
        }
        let _ = ipt.run(family, &["-F", ours]);
        if delete {
            let _ = ipt.run(family, &["-X", ours]);
        }
    }
}

/// Whether `family`'s rules mention `stem` (a listing is one run; clearing
/// costs a dozen, so callers look first).
pub fn mentions(ipt: &impl Iptables, family: Family, stem: &str) -> bool {
    ipt.rules(family).is_ok_and(|r| r.contains(stem))
}

/// Installs `rules` (`(our chain, arguments after -A chain)`) in both
/// families: our chains cleared and filled, then one jump into each, first
/// in its built-in chain.
pub fn install_chains(
    ipt: &impl Iptables,
    chains: &[(&str, &str)],
    rules: &[(&str, Vec<String>)],
) -> Result<(), NetfilterError> {
    for family in Family::BOTH {
        clear_chains(ipt, family, chains, false);
        for (_, ours) in chains {
            // -N fails if it exists: that is what was just flushed.
            let _ = ipt.run(family, &["-N", ours]);
        }
    }
    for family in Family::BOTH {
        for (chain, args) in rules {
            let mut all = vec!["-A", chain];
            all.extend(args.iter().map(String::as_str));
            ipt.run(family, &all)?;
        }
    }
    for family in Family::BOTH {
        for (hooked, ours) in chains {
            ipt.run(family, &["-I", hooked, "1", "-j", ours])?;
        }
    }
    Ok(())
}

/// Removes our `chains` and every jump into them from both families.
pub fn remove_chains(ipt: &impl Iptables, chains: &[(&str, &str)]) {
    for family in Family::BOTH {
        clear_chains(ipt, family, chains, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A kernel of rules as `-S` lines; `-D` of a missing rule fails.
    #[derive(Default)]
    struct Fake {
        lines: RefCell<Vec<(Family, String)>>,
    }

    impl Iptables for Fake {
        fn run(&self, family: Family, args: &[&str]) -> Result<(), NetfilterError> {
            let mut lines = self.lines.borrow_mut();
            let refused = || NetfilterError::Rejected {
                stderr: "no such rule".into(),
            };
            match args {
                ["-D", rest @ ..] => {
                    let line = format!("-A {}", rest.join(" "));
                    let at = lines
                        .iter()
                        .position(|(f, l)| *f == family && *l == line)
                        .ok_or_else(refused)?;
                    lines.remove(at);
                }
                ["-I", chain, "1", rest @ ..] => {
                    lines.insert(0, (family, format!("-A {chain} {}", rest.join(" "))))
                }
                ["-A", rest @ ..] => lines.push((family, format!("-A {}", rest.join(" ")))),
                ["-F", chain] => {
                    let own = format!("-A {chain} ");
                    lines.retain(|(f, l)| *f != family || !l.starts_with(&own));
                }
                _ => {}
            }
            Ok(())
        }

        fn rules(&self, family: Family) -> Result<String, NetfilterError> {
            let lines = self.lines.borrow();
            Ok(lines
                .iter()
                .filter(|(f, _)| *f == family)
                .map(|(_, l)| format!("{l}\n"))
                .collect())
        }
    }

    const CHAINS: [(&str, &str); 2] = [("INPUT", "OURS-IN"), ("OUTPUT", "OURS-OUT")];

    fn count(text: &str, line: &str) -> usize {
        text.lines().filter(|l| *l == line).count()
    }

    #[test]
    fn a_second_install_over_leftovers_leaves_one_jump_and_one_copy_of_each_rule() {
        let ipt = Fake::default();
        let rules = vec![("OURS-IN", vec!["-p".to_owned(), "udp".to_owned()])];
        install_chains(&ipt, &CHAINS, &rules).unwrap();
        install_chains(&ipt, &CHAINS, &rules).unwrap();
        for family in Family::BOTH {
            let text = ipt.rules(family).unwrap();
            assert_eq!(count(&text, "-A INPUT -j OURS-IN"), 1, "{text}");
            assert_eq!(count(&text, "-A OUTPUT -j OURS-OUT"), 1, "{text}");
            assert_eq!(count(&text, "-A OURS-IN -p udp"), 1, "{text}");
        }
        assert!(mentions(&ipt, Family::V6, "OURS-"));
        remove_chains(&ipt, &CHAINS);
        assert!(!mentions(&ipt, Family::V4, "OURS-"));
        assert!(!mentions(&ipt, Family::V6, "OURS-"));
    }
}
