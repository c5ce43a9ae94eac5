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
    let (nft, ipt) = (NftCli::default(), IptablesCli);
    if let Mode::Inline { fail_open } = mode {
        if iptables_forced() {
            // A leftover queue table of an nft-mode daemon would hold packets too.
            let _ = nft.load(&rules::nft_delete());
            return install_iptables(&ipt, policy, fail_open, q_in, q_out);
        }
    }
    match nft.load(&rules::nft(policy, mode, q_in, q_out)) {
        Ok(()) => {
            // Leftovers of an iptables-mode daemon killed earlier, if any.
            for family in Family::BOTH {
                if iptables::mentions(&ipt, family, CHAIN_STEM) {
                    iptables::clear_chains(&ipt, family, &CHAINS, true);
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
            install_iptables(&ipt, policy, fail_open, q_in, q_out)
        }
    }
}

impl Installed {
    /// Removes what [`install`] put in.
    pub fn remove(&self) {
        match self {
            Installed::Table => {
                let _ = NftCli::default().load(&rules::nft_delete());
            }
            Installed::Iptables => iptables::remove_chains(&IptablesCli, &CHAINS),
        }
    }
}
