//! Other tables that filter the same hook as sipwall's table.
//!
//! netfilter runs every base chain registered on a hook; an `accept` ends
//! only its own chain. A packet sipwall accepts is still dropped by another
//! table's input chain (iptables-nft's `ip filter`, a distribution's
//! `inet filter`, firewalld), so `apply` names each one that can drop.

use crate::error::NetfilterError;
use crate::nft::Nftables;
use serde_json::Value;

/// A base chain of another table on the input hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChain {
    /// `ip`, `ip6`, `inet`, ...
    pub family: String,
    /// Its table.
    pub table: String,
    /// The chain's name.
    pub chain: String,
    /// Its priority, as nft lists it.
    pub priority: i64,
    /// Its policy (`accept` or `drop`).
    pub policy: String,
    /// How many rules it holds.
    pub rules: usize,
}

impl BaseChain {
    /// Whether it can drop what sipwall accepts: a drop policy or any rule.
    pub fn can_drop(&self) -> bool {
        self.policy != "accept" || self.rules > 0
    }
}

/// The input base chains of every table other than `inet ours`, from
/// `nft -j list ruleset`.
pub fn other_input_chains(
    nft: &impl Nftables,
    ours: &str,
) -> Result<Vec<BaseChain>, NetfilterError> {
    Ok(input_chains(&nft.list_ruleset_json()?)
        .into_iter()
        .filter(|c| !(c.family == "inet" && c.table == ours))
        .collect())
}

/// The input base chains listed in `json` (a `nft -j list ruleset`);
/// anything unexpected in the listing is skipped, never a panic.
pub fn input_chains(json: &str) -> Vec<BaseChain> {
    let Ok(v) = serde_json::from_str::<Value>(json) else {
        return Vec::new();
    };
    let items = v["nftables"].as_array().cloned().unwrap_or_default();
    let mut chains: Vec<BaseChain> = items
        .iter()
        .filter_map(|i| i.get("chain"))
        .filter(|c| c["hook"] == "input" && c["family"] != "netdev")
        .map(|c| BaseChain {
            family: c["family"].as_str().unwrap_or_default().to_owned(),
            table: c["table"].as_str().unwrap_or_default().to_owned(),
            chain: c["name"].as_str().unwrap_or_default().to_owned(),
            priority: c["prio"].as_i64().unwrap_or_default(),
            policy: c["policy"].as_str().unwrap_or("accept").to_owned(),
            rules: 0,
        })
        .collect();
    for rule in items.iter().filter_map(|i| i.get("rule")) {
        if let Some(c) = chains.iter_mut().find(|c| {
            rule["family"] == c.family.as_str()
                && rule["table"] == c.table.as_str()
                && rule["chain"] == c.chain.as_str()
        }) {
            c.rules += 1;
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_nft_input_with_a_drop_policy_is_found_and_sipwalls_own_is_not() {
        let json = r#"{"nftables": [
            {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
            {"table": {"family": "ip", "name": "filter", "handle": 1}},
            {"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
            {"chain": {"family": "ip", "table": "filter", "name": "f2b", "handle": 2}},
            {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 3, "expr": []}},
            {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
            {"chain": {"family": "inet", "table": "sipwall", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}
        ]}"#;
        let all = input_chains(json);
        assert_eq!(all.len(), 3);
        let ipt = &all[0];
        assert_eq!(
            (ipt.family.as_str(), ipt.table.as_str(), ipt.chain.as_str()),
            ("ip", "filter", "INPUT")
        );
        assert_eq!(ipt.rules, 1);
        assert!(ipt.can_drop());
        // Debian's default /etc/nftables.conf: an empty accept chain drops nothing.
        assert!(!all[1].can_drop());
        assert!(input_chains("not json").is_empty());
    }
}
