//! The tap: a small table of the daemon's own that copies the SIP the
//! kernel accepted to NFLOG. Its chains run after sipwall's filter
//! (priority 10), so the engine sees only what passed the bans and rules.
//! It holds no verdicts: if the daemon dies, the copies simply go nowhere.

use sipwall_netfilter::{NftCli, Nftables};
use sipwall_policy::{Kind, Policy, Protocol};

/// The tap table's name.
pub const TABLE: &str = "sipwall_tap";

fn ports(policy: &Policy, proto: Protocol) -> Option<String> {
    let list: Vec<String> = policy
        .services_of(Kind::Sip)
        .filter(|s| s.protocols.contains(&proto))
        .flat_map(|s| s.ports.iter().map(ToString::to_string))
        .collect();
    (!list.is_empty()).then(|| format!("{{ {} }}", list.join(", ")))
}

/// The tap table's nft text.
pub fn render(policy: &Policy, group_in: u16, group_out: u16) -> String {
    let mut input = String::new();
    let mut output = String::new();
    for proto in [Protocol::Udp, Protocol::Tcp] {
        if let Some(p) = ports(policy, proto) {
            input.push_str(&format!("\t\t{proto} dport {p} log group {group_in}\n"));
            // One copy per packet, even when both its ports are SIP ports.
            output.push_str(&format!("\t\t{proto} sport {p} log group {group_out}\n"));
            output.push_str(&format!(
                "\t\t{proto} sport != {p} {proto} dport {p} log group {group_out}\n"
            ));
        }
    }
    format!(
        "table inet {TABLE} {{}}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n\tchain input {{\n\t\ttype filter hook input priority 10; policy accept;\n{input}\t}}\n\tchain output {{\n\t\ttype filter hook output priority 10; policy accept;\n{output}\t}}\n}}\n"
    )
}

/// Loads the tap table.
pub fn install(
    policy: &Policy,
    group_in: u16,
    group_out: u16,
) -> Result<(), sipwall_netfilter::NetfilterError> {
    NftCli::default().load(&render(policy, group_in, group_out))
}

/// Removes the tap table (at a clean exit).
pub fn remove() {
    let _ = NftCli::default().load(&format!("delete table inet {TABLE}\n"));
}
