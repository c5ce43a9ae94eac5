//! How SIP reaches the daemon: a table (or iptables rules) of its own that
//! hands the policy's SIP ports, both directions, to user space, after
//! sipwall's filter has judged them (priority 10), so the engine sees only
//! what passed the bans and rules.
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
//! The iptables rules live in chains of their own (`SIPWALL-INTAKE-IN`,
//! `SIPWALL-INTAKE-OUT`), entered by one jump each from INPUT and OUTPUT.
//! A start flushes them and makes sure of exactly one jump, so a daemon
//! killed with `-9` leaves nothing that piles up, and a fail-closed
//! leftover cannot outlive the next daemon; a clean stop removes them.

use sipwall_netfilter::{NetfilterError, NftCli, Nftables};
use sipwall_policy::{Kind, Policy, PortRange, Protocol};
use std::process::Command;

/// The daemon's table.
pub const TABLE: &str = "sipwall_intake";

/// How packets reach the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// NFLOG copies.
    Tap,
    /// NFQUEUE verdicts; `fail_open` lets packets pass without a reader.
    Inline {
        /// Bypass the queue when nobody reads it.
        fail_open: bool,
    },
}

/// What was installed, to be removed at exit.
#[derive(Debug)]
pub enum Installed {
    /// The nft table.
    Table,
    /// iptables / ip6tables chains of our own, and the jumps into them.
    Iptables,
}

fn nft_set(r: &[PortRange]) -> String {
    format!(
        "{{ {} }}",
        r.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The intake table's nft text.
pub fn render(policy: &Policy, mode: Mode, q_in: u16, q_out: u16) -> String {
    let action = |n: u16| match mode {
        Mode::Tap => format!("log group {n}"),
        Mode::Inline { fail_open: true } => format!("queue num {n} bypass"),
        Mode::Inline { fail_open: false } => format!("queue num {n}"),
    };
    let (mut input, mut output) = (String::new(), String::new());
    for proto in [Protocol::Udp, Protocol::Tcp] {
        let r = policy.ports_of(Kind::Sip, proto);
        if r.is_empty() {
            continue;
        }
        let p = nft_set(&r);
        input.push_str(&format!("\t\t{proto} dport {p} {}\n", action(q_in)));
        // One copy per packet, even when both its ports are SIP ports.
        output.push_str(&format!("\t\t{proto} sport {p} {}\n", action(q_out)));
        output.push_str(&format!(
            "\t\t{proto} sport != {p} {proto} dport {p} {}\n",
            action(q_out)
        ));
    }
    format!(
        "table inet {TABLE} {{}}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n\tchain input {{\n\t\ttype filter hook input priority 10; policy accept;\n{input}\t}}\n\tchain output {{\n\t\ttype filter hook output priority 10; policy accept;\n{output}\t}}\n}}\n"
    )
}

/// The chains the iptables fallback fills: (hooked chain, ours, port match, queue).
const CHAINS: [(&str, &str, &str); 2] = [
    ("INPUT", "SIPWALL-INTAKE-IN", "--dports"),
    ("OUTPUT", "SIPWALL-INTAKE-OUT", "--sports"),
];

/// The tools of both families.
const TOOLS: [&str; 2] = ["iptables", "ip6tables"];

/// iptables rule specs for the inline queue (both families), each to be
/// appended to one of our chains.
fn iptables_specs(
    policy: &Policy,
    fail_open: bool,
    q_in: u16,
    q_out: u16,
) -> Vec<(&'static str, Vec<String>)> {
    let mut specs = Vec::new();
    for tool in TOOLS {
        for proto in [Protocol::Udp, Protocol::Tcp] {
            let r = policy.ports_of(Kind::Sip, proto);
            if r.is_empty() {
                continue;
            }
            let ports = r
                .iter()
                .map(|x| {
                    if x.first() == x.last() {
                        x.first().to_string()
                    } else {
                        format!("{}:{}", x.first(), x.last())
                    }
                })
                .collect::<Vec<_>>()
                .join(",");
            for ((_, chain, dir), q) in CHAINS.iter().zip([q_in, q_out]) {
                let mut spec: Vec<String> = [
                    chain,
                    "-p",
                    proto.as_str(),
                    "-m",
                    "multiport",
                    dir,
                    &ports,
                    "-m",
                    "comment",
                    "--comment",
                    "sipwall intake",
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                spec.push(q.to_string());
                if fail_open {
                    spec.push("--queue-bypass".into());
                }
                specs.push((tool, spec));
            }
        }
    }
    specs
}

fn run<S: AsRef<std::ffi::OsStr>>(tool: &str, args: &[S]) -> Result<(), NetfilterError> {
    let out = Command::new(tool)
        // -w: wait for the xtables lock rather than fail beside another tool.
        .arg("-w")
        .args(args)
        .output()
        .map_err(|source| NetfilterError::Spawn {
            program: tool.to_owned(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetfilterError::Rejected {
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Removes every jump into our chains (however many earlier daemons left),
/// then the chains' rules; with `delete`, the chains too.
fn clear_iptables(tool: &str, delete: bool) {
    for (hooked, ours, _) in CHAINS {
        // Bounded: each pass removes one jump; none can be added meanwhile
        // by us, and a thousand is far beyond any leftover.
        for _ in 0..1000 {
            if run(tool, &["-D", hooked, "-j", ours]).is_err() {
                break;
            }
        }
        let _ = run(tool, &["-F", ours]);
        if delete {
            let _ = run(tool, &["-X", ours]);
        }
    }
}

/// Whether `tool`'s rules mention our chains.
fn has_leftovers(tool: &str) -> bool {
    Command::new(tool)
        .args(["-w", "-S"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("SIPWALL-INTAKE"))
}

/// Installs the iptables fallback: our chains flushed and filled, then one
/// jump into each, first in its hooked chain.
fn install_iptables(
    policy: &Policy,
    fail_open: bool,
    q_in: u16,
    q_out: u16,
) -> Result<Installed, NetfilterError> {
    for tool in TOOLS {
        clear_iptables(tool, false);
        for (_, ours, _) in CHAINS {
            // -N fails if it exists: that is what was just flushed.
            let _ = run(tool, &["-N", ours]);
        }
    }
    for (tool, spec) in iptables_specs(policy, fail_open, q_in, q_out) {
        let mut args = vec!["-A".to_owned()];
        args.extend(spec);
        run(tool, &args)?;
    }
    for tool in TOOLS {
        for (hooked, ours, _) in CHAINS {
            run(tool, &["-I", hooked, "1", "-j", ours])?;
        }
    }
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
    let nft = NftCli::default();
    if let Mode::Inline { fail_open } = mode {
        if iptables_forced() {
            // A leftover queue table of an nft-mode daemon would hold packets too.
            let _ = nft.load(&format!("delete table inet {TABLE}\n"));
            return install_iptables(policy, fail_open, q_in, q_out);
        }
    }
    match nft.load(&render(policy, mode, q_in, q_out)) {
        Ok(()) => {
            // Leftovers of an iptables-mode daemon killed earlier, if any
            // (looked for first: clearing costs a dozen iptables runs).
            for tool in TOOLS.into_iter().filter(|t| has_leftovers(t)) {
                clear_iptables(tool, true);
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
            install_iptables(policy, fail_open, q_in, q_out)
        }
    }
}

impl Installed {
    /// Removes what [`install`] put in.
    pub fn remove(&self) {
        match self {
            Installed::Table => {
                let _ = NftCli::default().load(&format!("delete table inet {TABLE}\n"));
            }
            Installed::Iptables => {
                for tool in TOOLS {
                    clear_iptables(tool, true);
                }
            }
        }
    }
}
