//! Set elements that must survive a table replacement: the bans and
//! pinholes the daemon put in the kernel. They are read from `nft -j` and
//! re-added, with their remaining lifetime, in the same transaction that
//! recreates the table, so applying a policy never unbans anyone.

use crate::error::NetfilterError;
use serde_json::Value;
use std::fmt::Write;

/// One element of a named set, with its remaining lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The set's name.
    pub set: String,
    /// The set's type as nft prints it (`ipv4_addr`, `ipv4_addr . inet_service`).
    pub set_type: String,
    /// The key, in nft syntax (`192.0.2.66`, `192.0.2.2 . 20000`).
    pub key: String,
    /// Seconds left before the kernel removes it; `None` if it never expires.
    pub expires_secs: Option<u64>,
}

fn set_objects(json: &str) -> Result<Vec<(String, String, Value)>, NetfilterError> {
    let doc: Value =
        serde_json::from_str(json).map_err(|e| NetfilterError::Unreadable(e.to_string()))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| NetfilterError::Unreadable("no \"nftables\" array".into()))?;
    let mut out = Vec::new();
    for item in items {
        let Some(set) = item.get("set") else { continue };
        let name = set.get("name").and_then(Value::as_str).unwrap_or_default();
        let set_type = match set.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" . "),
            _ => continue,
        };
        out.push((name.to_owned(), set_type, set.clone()));
    }
    Ok(out)
}

/// The sets (name, type) of `nft -j list table` output.
pub fn sets(json: &str) -> Result<Vec<(String, String)>, NetfilterError> {
    Ok(set_objects(json)?
        .into_iter()
        .map(|(n, t, _)| (n, t))
        .collect())
}

/// Reads every element of every set of `nft -j list table` output.
pub fn parse(json: &str) -> Result<Vec<Element>, NetfilterError> {
    let mut out = Vec::new();
    for (name, set_type, set) in set_objects(json)? {
        for e in set
            .get("elem")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (val, expires) = match e.get("elem") {
                Some(inner) => (
                    inner.get("val"),
                    inner.get("expires").and_then(Value::as_u64),
                ),
                None => (Some(e), None),
            };
            let Some(key) = val.and_then(key_text) else {
                return Err(NetfilterError::Unreadable(format!(
                    "element {e} of set {name}"
                )));
            };
            out.push(Element {
                set: name.clone(),
                set_type: set_type.clone(),
                key,
                expires_secs: expires,
            });
        }
    }
    Ok(out)
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => {
            if let Some(p) = o.get("prefix") {
                // An interval set's element: a whole /64 or /24 ban.
                let addr = p.get("addr")?.as_str()?;
                let len = p.get("len")?.as_u64()?;
                return Some(format!("{addr}/{len}"));
            }
            if let Some(r) = o.get("range").and_then(Value::as_array) {
                let ends: Option<Vec<String>> = r.iter().map(key_text).collect();
                return Some(ends?.join("-"));
            }
            let parts = o.get("concat")?.as_array()?;
            let texts: Option<Vec<String>> = parts.iter().map(key_text).collect();
            Some(texts?.join(" . "))
        }
        _ => None,
    }
}

/// `add element` statements for the elements whose set exists in the new
/// table with the same type (`sets`: name and type pairs). Elements about
/// to expire (under a second) are left to expire.
pub fn carry_over(table: &str, elements: &[Element], sets: &[(String, String)]) -> String {
    let mut out = String::new();
    for e in elements {
        if !sets.iter().any(|(n, t)| *n == e.set && *t == e.set_type) {
            continue;
        }
        let timeout = match e.expires_secs {
            Some(0) => continue,
            Some(s) => format!(" timeout {s}s"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "add element inet {table} {} {{ {}{timeout} }}",
            e.set, e.key
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
      {"table": {"family": "inet", "name": "sipwall", "handle": 1}},
      {"set": {"family": "inet", "name": "ban_v4", "table": "sipwall", "type": "ipv4_addr", "handle": 1,
        "flags": ["timeout"], "timeout": 3600,
        "elem": [{"elem": {"val": "192.0.2.66", "timeout": 3600, "expires": 3541}},
                 {"elem": {"val": "192.0.2.67", "timeout": 3600, "expires": 0}}]}},
      {"set": {"family": "inet", "name": "pinhole_v4", "table": "sipwall", "type": ["ipv4_addr", "inet_service"],
        "handle": 2, "flags": ["timeout"],
        "elem": [{"elem": {"val": {"concat": ["192.0.2.2", 20000]}, "timeout": 90, "expires": 77}}]}},
      {"set": {"family": "inet", "name": "static", "table": "sipwall", "type": "inet_service", "handle": 3,
        "elem": [5060]}}]}"#;

    #[test]
    fn reads_plain_concatenated_and_timeless_elements() {
        let e = parse(LISTING).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].key, "192.0.2.66");
        assert_eq!(e[0].expires_secs, Some(3541));
        assert_eq!(e[2].key, "192.0.2.2 . 20000");
        assert_eq!(e[2].set_type, "ipv4_addr . inet_service");
        assert_eq!((e[3].key.as_str(), e[3].expires_secs), ("5060", None));
    }

    #[test]
    fn carries_only_matching_sets_and_live_elements() {
        let e = parse(LISTING).unwrap();
        let sets = vec![("ban_v4".to_owned(), "ipv4_addr".to_owned())];
        let s = carry_over("sipwall", &e, &sets);
        assert_eq!(
            s,
            "add element inet sipwall ban_v4 { 192.0.2.66 timeout 3541s }\n"
        );
    }

    #[test]
    fn a_prefix_ban_survives_an_apply_as_one_interval_element() {
        // As nft 1.0.6 lists a `flags interval, timeout` set.
        let listing = r#"{"nftables": [{"set": {"family": "inet", "name": "ban_net_v6", "table": "sipwall",
          "type": "ipv6_addr", "handle": 4, "size": 1000000, "flags": ["interval", "timeout"], "timeout": 3600,
          "elem": [{"elem": {"val": {"prefix": {"addr": "2001:db8:66::", "len": 64}}, "timeout": 3600, "expires": 1800}},
                   {"elem": {"val": {"range": ["2001:db8:1::1", "2001:db8:1::9"]}, "expires": 60}}]}}]}"#;
        let e = parse(listing).unwrap();
        assert_eq!(e[0].key, "2001:db8:66::/64");
        assert_eq!(e[1].key, "2001:db8:1::1-2001:db8:1::9");
        let sets = vec![("ban_net_v6".to_owned(), "ipv6_addr".to_owned())];
        assert_eq!(
            carry_over("sipwall", &e, &sets),
            "add element inet sipwall ban_net_v6 { 2001:db8:66::/64 timeout 1800s }\n\
             add element inet sipwall ban_net_v6 { 2001:db8:1::1-2001:db8:1::9 timeout 60s }\n"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("not json").is_err());
        assert!(parse("{}").is_err());
        let bad = r#"{"nftables":[{"set":{"name":"x","type":"ipv4_addr","elem":[{"elem":{"val":[1]}}]}}]}"#;
        assert!(parse(bad).is_err());
    }
}
