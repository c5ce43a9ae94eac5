//! How SIP reaches the daemon: the intake rules ([`sipwall_ruleset::intake`]
//! renders them) put into the kernel and taken out again.
//!
//! - tap: `log group` copies (NFLOG); the kernel decides alone, the daemon
//!   bans after the fact. If the daemon dies, copies go nowhere.
//! - inline: `queue` (NFQUEUE); each packet waits for the daemon's
//!   verdict, so a scanner's first packet never reaches FreeSWITCH and an
//!   SDP answer leaves only once its pinhole is in the kernel. Fail-open
//!   by default (`bypass`: no reader, no wait). Kernels without nft's
//!   queue expression (CONFIG_NFT_QUEUE) get `iptables -j NFQUEUE`
//!   through xt compat instead (or when `SIPWALL_INTAKE_BACKEND=iptables`).
//!
//! A start of either kind clears what the other kind left (a daemon killed
//! with `-9` in the other mode), so a fail-closed leftover cannot outlive
//! the next daemon; a clean stop removes what it installed.

use sipwall_netfilter::iptables::{self, Family};
use sipwall_netfilter::{Iptables, IptablesCli, NetfilterError, NftCli, Nftables};
use sipwall_policy::Policy;
use sipwall_ruleset::intake::{self as rules, CHAINS, CHAIN_STEM};

pub use sipwall_ruleset::intake::{Mode, TABLE};

/// What was installed, to be removed at exit.
#[derive(Debug)]
pub enum Installed {
    /// The nft table.
    Table,
    /// iptables / ip6tables chains of our own, and the jumps into them.
    Iptables,
}

/// Installs the iptables fallback.
fn install_iptables(
    ipt: &impl Iptables,
    policy: &Policy,
    fail_open: bool,
    q_in: u16,
    q_out: u16,
) -> Result<Installed, NetfilterError> {
    let specs: Vec<(&str, Vec<String>)> = rules::iptables(policy, fail_open, q_in, q_out)
        .into_iter()
        .map(|r| (r.chain, r.args))
        .collect();
    iptables::install_chains(ipt, &CHAINS, &specs)?;
    Ok(Installed::Iptables)
}

/// Whether the admin asked for the iptables fallback (kernels whose nft
/// queue expression misbehaves; the lab tests of the fallback).
fn iptables_forced() -> bool {
    std::env::var("SIPWALL_INTAKE_BACKEND").as_deref() == Ok("iptables")
}

/// Installs the intake; inline falls back to iptables where nft has no queue.
pub fn install(
    policy: &Policy,
    mode: Mode,
    q_in: u16,
    q_out: u16,
) -> Result<Installed, NetfilterError> {
    let forced = iptables_forced();
    install_with(
        &NftCli::default(),
        &IptablesCli,
        forced,
        policy,
        mode,
        q_in,
        q_out,
    )
}

/// [`install`] through `nft` and `ipt`; `forced`: inline goes to iptables
/// without trying nft.
fn install_with(
    nft: &impl Nftables,
    ipt: &impl Iptables,
    forced: bool,
    policy: &Policy,
    mode: Mode,
    q_in: u16,
    q_out: u16,
) -> Result<Installed, NetfilterError> {
    if let Mode::Inline { fail_open } = mode {
        if forced {
            // A leftover queue table of an nft-mode daemon would hold packets too.
            let _ = nft.load(&rules::nft_delete());
            return install_iptables(ipt, policy, fail_open, q_in, q_out);
        }
    }
    match nft.load(&rules::nft(policy, mode, q_in, q_out)) {
        Ok(()) => {
            // Leftovers of an iptables-mode daemon killed earlier, if any.
            for family in Family::BOTH {
                if iptables::mentions(ipt, family, CHAIN_STEM) {
                    iptables::clear_chains(ipt, family, &CHAINS, true);
                }
            }
            Ok(Installed::Table)
        }
        Err(e) => {
            let Mode::Inline { fail_open } = mode else {
                return Err(e);
            };
            tracing::info!(
                "nft has no queue expression here; queueing through iptables (xt compat)"
            );
            install_iptables(ipt, policy, fail_open, q_in, q_out)
        }
    }
}

impl Installed {
    /// Removes what [`install`] put in.
    pub fn remove(&self) {
        self.remove_with(&NftCli::default(), &IptablesCli);
    }

    fn remove_with(&self, nft: &impl Nftables, ipt: &impl Iptables) {
        match self {
            Installed::Table => {
                let _ = nft.load(&rules::nft_delete());
            }
            Installed::Iptables => iptables::remove_chains(ipt, &CHAINS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// nft that takes scripts, or refuses any with a queue (a kernel
    /// without CONFIG_NFT_QUEUE).
    #[derive(Default)]
    struct Nft {
        no_queue: bool,
        loaded: RefCell<Vec<String>>,
    }

    impl Nftables for Nft {
        fn check(&self, _: &str) -> Result<(), NetfilterError> {
            Ok(())
        }
        fn load(&self, script: &str) -> Result<(), NetfilterError> {
            if self.no_queue && script.contains("queue") {
                return Err(NetfilterError::Rejected {
                    stderr: "Error: Could not process rule: No such file or directory".into(),
                });
            }
            self.loaded.borrow_mut().push(script.to_owned());
            Ok(())
        }
        fn list_table(&self, _: &str) -> Result<Option<String>, NetfilterError> {
            Ok(None)
        }
        fn list_table_json(&self, _: &str) -> Result<Option<String>, NetfilterError> {
            Ok(None)
        }
        fn list_ruleset_json(&self) -> Result<String, NetfilterError> {
            Ok(String::new())
        }
        fn list_tables(&self) -> Result<Vec<(String, String)>, NetfilterError> {
            Ok(Vec::new())
        }
        fn list_ruleset_text(&self) -> Result<String, NetfilterError> {
            Ok(String::new())
        }
    }

    /// iptables that records commands and lists `listing`.
    #[derive(Default)]
    struct Ipt {
        listing: String,
        ran: RefCell<Vec<(Family, String)>>,
    }

    impl Iptables for Ipt {
        fn run(&self, family: Family, args: &[&str]) -> Result<(), NetfilterError> {
            self.ran.borrow_mut().push((family, args.join(" ")));
            // Deleting a jump that is not there fails, as iptables does.
            if args[0] == "-D" {
                return Err(NetfilterError::Rejected {
                    stderr: "Bad rule".into(),
                });
            }
            Ok(())
        }
        fn rules(&self, _: Family) -> Result<String, NetfilterError> {
            Ok(self.listing.clone())
        }
    }

    fn appended(ipt: &Ipt) -> Vec<String> {
        ipt.ran
            .borrow()
            .iter()
            .filter(|(_, c)| c.starts_with("-A "))
            .map(|(_, c)| c.clone())
            .collect()
    }

    #[test]
    fn inline_queues_through_iptables_where_nft_has_no_queue_expression() {
        let (nft, ipt) = (
            Nft {
                no_queue: true,
                ..Nft::default()
            },
            Ipt::default(),
        );
        let p = sipwall_policy::builtin();
        let mode = Mode::Inline { fail_open: false };
        let got = install_with(&nft, &ipt, false, &p, mode, 47, 48).unwrap();
        assert!(matches!(got, Installed::Iptables));
        let rules = appended(&ipt);
        assert!(!rules.is_empty());
        assert!(rules
            .iter()
            .all(|r| r.contains("--queue-num") && !r.contains("bypass")));
        // Both families, and one jump into each of our chains, first.
        let jumps: Vec<_> = ipt
            .ran
            .borrow()
            .iter()
            .filter(|(_, c)| c.starts_with("-I "))
            .cloned()
            .collect();
        assert_eq!(jumps.len(), 4, "{jumps:?}");
        assert!(jumps.contains(&(Family::V6, "-I INPUT 1 -j SIPWALL-INTAKE-IN".into())));
        // The tap has no fallback: its failure is the caller's.
        assert!(install_with(&nft, &ipt, false, &p, Mode::Tap, 47, 48).is_ok());
        assert!(nft.loaded.borrow().last().unwrap().contains("log group 47"));
    }

    #[test]
    fn an_nft_intake_clears_what_an_iptables_daemon_left_and_only_then() {
        let p = sipwall_policy::builtin();
        let clean = Ipt::default();
        let got = install_with(&Nft::default(), &clean, false, &p, Mode::Tap, 47, 48).unwrap();
        assert!(matches!(got, Installed::Table));
        assert!(clean.ran.borrow().is_empty(), "{:?}", clean.ran.borrow());
        let left = Ipt {
            listing: "-A INPUT -j SIPWALL-INTAKE-IN\n".into(),
            ..Ipt::default()
        };
        install_with(&Nft::default(), &left, false, &p, Mode::Tap, 47, 48).unwrap();
        let ran = left.ran.borrow();
        assert!(
            ran.contains(&(Family::V4, "-X SIPWALL-INTAKE-IN".into())),
            "{ran:?}"
        );
        assert!(
            ran.contains(&(Family::V6, "-X SIPWALL-INTAKE-OUT".into())),
            "{ran:?}"
        );
    }

    #[test]
    fn a_forced_iptables_intake_deletes_an_nft_queue_table_first() {
        let (nft, ipt) = (Nft::default(), Ipt::default());
        let p = sipwall_policy::builtin();
        let mode = Mode::Inline { fail_open: true };
        let got = install_with(&nft, &ipt, true, &p, mode, 47, 48).unwrap();
        assert!(matches!(got, Installed::Iptables));
        assert_eq!(*nft.loaded.borrow(), vec![rules::nft_delete()]);
        assert!(appended(&ipt).iter().all(|r| r.contains("--queue-bypass")));
        got.remove_with(&nft, &ipt);
        assert!(ipt
            .ran
            .borrow()
            .contains(&(Family::V4, "-X SIPWALL-INTAKE-OUT".into())));
    }
}
