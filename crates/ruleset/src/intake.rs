//! The daemon's intake: rules of its own that hand the policy's SIP ports,
//! both directions, to user space after sipwall's filter has judged them
//! (priority 10), so the engine sees only what passed the bans and rules.
//!
//! Two renderings of the same rules: an nft table ([`nft`]), and, for
//! kernels without nft's queue expression (CONFIG_NFT_QUEUE), iptables
//! rule specs ([`iptables`]) for chains of our own ([`CHAINS`]) entered by
//! one jump each. Everything printed is built from numbers and fixed
//! words (ports, queue numbers, the protocol's name): no policy text
//! reaches either syntax.

use sipwall_policy::{Kind, Policy, PortRange, Protocol};
use std::fmt::Write as _;

/// The intake's nft table (family `inet`).
pub const TABLE: &str = "sipwall_intake";

/// The iptables fallback's chains: (built-in chain that jumps, ours).
pub const CHAINS: [(&str, &str); 2] = [
    ("INPUT", "SIPWALL-INTAKE-IN"),
    ("OUTPUT", "SIPWALL-INTAKE-OUT"),
];

/// What every one of [`CHAINS`] starts with: a listing that mentions it
/// holds rules of an intake.
pub const CHAIN_STEM: &str = "SIPWALL-INTAKE";

/// How packets reach the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// NFLOG copies (`log group`): the kernel decides alone.
    Tap,
    /// NFQUEUE verdicts (`queue`); `fail_open` lets packets pass without a reader.
    Inline {
        /// Bypass the queue when nobody reads it.
        fail_open: bool,
    },
}

/// `{ 5060, 5070-5080 }`.
fn nft_set(r: &[PortRange]) -> String {
    let items: Vec<String> = r.iter().map(ToString::to_string).collect();
    format!("{{ {} }}", items.join(", "))
}

/// The intake table as an nft script that replaces any earlier one in one
/// transaction; `q_in` takes arriving SIP, `q_out` the host's own.
pub fn nft(policy: &Policy, mode: Mode, q_in: u16, q_out: u16) -> String {
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
        let _ = writeln!(input, "\t\t{proto} dport {p} {}", action(q_in));
        // One copy per packet, even when both its ports are SIP ports.
        let _ = writeln!(output, "\t\t{proto} sport {p} {}", action(q_out));
        let _ = writeln!(
            output,
            "\t\t{proto} sport != {p} {proto} dport {p} {}",
            action(q_out)
        );
    }
    format!(
        "table inet {TABLE} {{}}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n\tchain input {{\n\t\ttype filter hook input priority 10; policy accept;\n{input}\t}}\n\tchain output {{\n\t\ttype filter hook output priority 10; policy accept;\n{output}\t}}\n}}\n"
    )
}

/// The nft script that removes the intake table.
pub fn nft_delete() -> String {
    format!("delete table inet {TABLE}\n")
}

/// One iptables rule of the fallback: the chain of ours it is appended to
/// and the rest of its arguments (after `-A chain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptablesRule {
    /// One of [`CHAINS`]' own chains.
    pub chain: &'static str,
    /// The match and target.
    pub args: Vec<String>,
}

/// The inline queue's rules for the iptables fallback, the same for both
/// families, in the order they are appended.
pub fn iptables(policy: &Policy, fail_open: bool, q_in: u16, q_out: u16) -> Vec<IptablesRule> {
    let mut rules = Vec::new();
    for proto in [Protocol::Udp, Protocol::Tcp] {
        let r = policy.ports_of(Kind::Sip, proto);
        if r.is_empty() {
            continue;
        }
        let ports: Vec<String> = r
            .iter()
            .map(|x| {
                if x.first() == x.last() {
                    x.first().to_string()
                } else {
                    format!("{}:{}", x.first(), x.last())
                }
            })
            .collect();
        let ports = ports.join(",");
        for ((_, chain), (dir, q)) in CHAINS.iter().zip([("--dports", q_in), ("--sports", q_out)]) {
            let mut args: Vec<String> = [
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
            args.push(q.to_string());
            if fail_open {
                args.push("--queue-bypass".into());
            }
            rules.push(IptablesRule { chain, args });
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tap_copies_sip_both_ways_once_per_packet() {
        let text = nft(&sipwall_policy::builtin(), Mode::Tap, 47, 48);
        assert!(
            text.starts_with("table inet sipwall_intake {}\ndelete table inet sipwall_intake\n")
        );
        assert!(
            text.contains("udp dport { 5060, 5080 } log group 47\n"),
            "{text}"
        );
        assert!(
            text.contains("udp sport { 5060, 5080 } log group 48\n"),
            "{text}"
        );
        assert!(
            text.contains("udp sport != { 5060, 5080 } udp dport { 5060, 5080 } log group 48\n"),
            "{text}"
        );
        assert!(text.contains("type filter hook input priority 10; policy accept;"));
    }

    #[test]
    fn inline_queues_bypass_only_when_failing_open() {
        let p = sipwall_policy::builtin();
        let open = nft(&p, Mode::Inline { fail_open: true }, 47, 48);
        assert!(
            open.contains("dport { 5060, 5080 } queue num 47 bypass\n"),
            "{open}"
        );
        let closed = nft(&p, Mode::Inline { fail_open: false }, 47, 48);
        assert!(
            closed.contains("dport { 5060, 5080 } queue num 47\n"),
            "{closed}"
        );
        assert!(!closed.contains("bypass"), "{closed}");
    }

    #[test]
    fn the_iptables_fallback_queues_the_same_ports_in_our_chains() {
        let rules = iptables(&sipwall_policy::builtin(), true, 47, 48);
        let udp_in = rules
            .iter()
            .find(|r| r.chain == "SIPWALL-INTAKE-IN" && r.args[1] == "udp")
            .expect("an inbound udp rule");
        assert_eq!(
            udp_in.args.join(" "),
            "-p udp -m multiport --dports 5060,5080 -m comment --comment sipwall intake -j NFQUEUE --queue-num 47 --queue-bypass"
        );
        assert!(rules
            .iter()
            .all(|r| CHAINS.iter().any(|(_, ours)| *ours == r.chain)
                && r.chain.starts_with(CHAIN_STEM)));
        let closed = iptables(&sipwall_policy::builtin(), false, 47, 48);
        assert!(closed
            .iter()
            .all(|r| !r.args.contains(&"--queue-bypass".to_owned())));
    }
}
