//! Replacing sipwall's table atomically, and only that table.
//!
//! The daemon writes bans and pinholes into the table's sets at any time,
//! also while an apply runs. A replacement that deleted the table would
//! lose what the daemon added between the listing that carries elements
//! over and the load. So where a daemon-filled set keeps its declaration
//! (same type, flags, timeout, size...), the replacement leaves the set in
//! place: one transaction flushes and deletes every chain and every other
//! object of the table, then declares the new table, which redeclares the
//! kept set unchanged. Its elements, whenever they were added, never leave
//! the kernel. A set whose declaration changes is recreated, and its
//! elements carried over from the listing (the old way: what the daemon
//! adds in that moment is lost, and [`Replaced`] says which sets).
//!
//! Bans of addresses the new policy never bans (its `guard.allow` zones,
//! loopback) are not carried: they are deleted in the same transaction.

use crate::elements::{self, Element};
use crate::error::NetfilterError;
use crate::nft::Nftables;
use ipnet::IpNet;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

/// A complete table as nft text, with the sets whose elements must survive
/// a replacement (name and type as nft prints them).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The table's name (family `inet`).
    pub name: String,
    /// nft text that creates the table.
    pub text: String,
    /// Sets the daemon fills: `(name, type)`.
    pub sets: Vec<(String, String)>,
    /// Addresses never banned under this table's policy: elements of its
    /// address-keyed sets (the bans) inside them are not carried over.
    /// Loopback is never carried either.
    pub never_banned: Vec<IpNet>,
}

/// What a replacement did with the old table's set elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replaced {
    /// Daemon-filled sets left in place: nothing added to them is lost.
    pub kept: Vec<String>,
    /// Sets recreated, their elements copied from a listing.
    pub recreated: Vec<String>,
    /// Bans not carried because the new policy never bans their address.
    pub dropped: Vec<Element>,
}

/// sipwall's table in the kernel of the current network namespace.
#[derive(Debug)]
pub struct Firewall<N> {
    nft: N,
}

/// JSON object kinds of a table, and the words that delete them.
const OBJECTS: [(&str, &str); 11] = [
    ("set", "set"),
    ("map", "map"),
    ("flowtable", "flowtable"),
    ("counter", "counter"),
    ("quota", "quota"),
    ("limit", "limit"),
    ("ct helper", "ct helper"),
    ("ct timeout", "ct timeout"),
    ("ct expectation", "ct expectation"),
    ("secmark", "secmark"),
    ("synproxy", "synproxy"),
];

/// Whether `name` can be put into a script as it is.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// The old table's objects: chains, and everything else (kind, name, and
/// for sets the JSON that declares them). `None` if something in it is not
/// understood (the caller then replaces the whole table).
struct Objects {
    chains: Vec<String>,
    others: Vec<(&'static str, String, Value)>,
}

fn objects(json: &str, table: &str) -> Result<Option<Objects>, NetfilterError> {
    let doc: Value =
        serde_json::from_str(json).map_err(|e| NetfilterError::Unreadable(e.to_string()))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| NetfilterError::Unreadable("no \"nftables\" array".into()))?;
    let mut out = Objects {
        chains: Vec::new(),
        others: Vec::new(),
    };
    for item in items {
        let Some(obj) = item.as_object() else {
            return Ok(None);
        };
        let Some((kind, body)) = obj.iter().next() else {
            continue;
        };
        if matches!(kind.as_str(), "metainfo" | "table" | "rule" | "element") {
            continue;
        }
        let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
        let of_table = body.get("table").and_then(Value::as_str) == Some(table);
        if body
            .get("flags")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x.as_str() == Some("anonymous")))
            || name.starts_with("__")
        {
            continue;
        }
        if !of_table || !plain(name) {
            return Ok(None);
        }
        if kind == "chain" {
            out.chains.push(name.to_owned());
            continue;
        }
        let Some((_, word)) = OBJECTS.iter().find(|(k, _)| k == kind) else {
            return Ok(None);
        };
        out.others.push((word, name.to_owned(), body.clone()));
    }
    Ok(Some(out))
}

/// Seconds of an nft duration (`1h`, `1m30s`, `90s`, `2d`, `500ms`
/// rounded down); `None` if it is not one.
fn seconds(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0
            }
            ('d', _) => 86_400,
            ('h', _) => 3_600,
            ('m', _) => 60,
            ('s', _) => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    num.is_empty().then_some(total)
}

/// Left out of the comparison: nft's JSON listing (1.0.6) does not show
/// the `dynamic` flag its text shows, and nft sets it by itself on a set
/// that rules add to from the packet path.
const DYNAMIC: &str = "dynamic";

/// A set's declaration, normalised: what must be equal for the set to be
/// kept as it is.
type Declaration = BTreeMap<&'static str, String>;

/// The declaration of set `name` in nft text as sipwall's renderer writes
/// it (`set NAME {`, one attribute a line, `}`); `None` if it is not there
/// or holds anything else (static elements, comments are fine).
fn declared(text: &str, name: &str) -> Option<Declaration> {
    let mut lines = text.lines().map(str::trim);
    lines.find(|l| *l == format!("set {name} {{"))?;
    let mut d = Declaration::new();
    for line in lines {
        if line == "}" {
            return Some(d);
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once(' ')?;
        let value = value.trim().trim_end_matches(';');
        let (key, value) = match key {
            "type" => ("type", value.to_owned()),
            "flags" => {
                let mut f: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|f| *f != DYNAMIC)
                    .collect();
                f.sort_unstable();
                ("flags", f.join(","))
            }
            "timeout" => ("timeout", seconds(value)?.to_string()),
            "gc-interval" => ("gc-interval", seconds(value)?.to_string()),
            "size" => ("size", value.to_owned()),
            "policy" => ("policy", value.to_owned()),
            _ => return None,
        };
        d.insert(key, value);
    }
    None
}

/// The same for a set as `nft -j` lists it.
fn listed(set: &Value) -> Option<Declaration> {
    let mut d = Declaration::new();
    let ty = match set.get("type")? {
        Value::String(t) => t.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| p.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?
            .join(" . "),
        _ => return None,
    };
    d.insert("type", ty);
    if let Some(flags) = set.get("flags") {
        let mut f: Vec<&str> = flags
            .as_array()?
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .filter(|f| *f != DYNAMIC)
            .collect();
        f.sort_unstable();
        d.insert("flags", f.join(","));
    }
    for (json, key) in [
        ("timeout", "timeout"),
        ("gc-interval", "gc-interval"),
        ("size", "size"),
    ] {
        if let Some(v) = set.get(json) {
            d.insert(key, v.as_u64()?.to_string());
        }
    }
    if let Some(p) = set.get("policy") {
        d.insert("policy", p.as_str()?.to_owned());
    }
    Some(d)
}

/// Whether the element is a ban of an address the new table never bans.
fn never_banned(e: &Element, new: &Table) -> bool {
    if e.set_type != "ipv4_addr" && e.set_type != "ipv6_addr" {
        return false;
    }
    // A single address, or a prefix ban (`2001:db8::/64`) that covers or
    // sits inside an allowlisted prefix.
    let banned = match e.key.parse::<IpAddr>() {
        Ok(addr) => IpNet::from(addr),
        Err(_) => match e.key.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => return false,
        },
    };
    let overlaps = |n: &IpNet| n.contains(&banned.network()) || banned.contains(&n.network());
    banned.network().is_loopback() || new.never_banned.iter().any(overlaps)
}

impl<N: Nftables> Firewall<N> {
    /// Works through `nft`.
    pub fn new(nft: N) -> Self {
        Firewall { nft }
    }

    /// The table as it runs now (text and sets), or `None` if it is not loaded.
    pub fn current(&self, table: &str) -> Result<Option<Table>, NetfilterError> {
        let Some(text) = self.nft.list_table(table)? else {
            return Ok(None);
        };
        let json = self.nft.list_table_json(table)?.unwrap_or_default();
        Ok(Some(Table {
            name: table.to_owned(),
            text,
            sets: elements::sets(&json)?,
            never_banned: Vec::new(),
        }))
    }

    /// The script that replaces the table in one transaction, keeping or
    /// carrying the live elements of its daemon-filled sets, and what it
    /// does with them.
    pub fn replacement(&self, new: &Table) -> Result<(String, Replaced), NetfilterError> {
        let name = &new.name;
        let Some(json) = self.nft.list_table_json(name)? else {
            return Ok((
                format!(
                    "table inet {name} {{}}\ndelete table inet {name}\n{}",
                    new.text
                ),
                Replaced::default(),
            ));
        };
        let live = elements::parse(&json)?;
        let mut done = Replaced::default();
        let (to_carry, dropped): (Vec<Element>, Vec<Element>) =
            live.into_iter().partition(|e| !never_banned(e, new));
        done.dropped = dropped;

        let Some(old) = objects(&json, name)? else {
            let carried = elements::carry_over(name, &to_carry, &new.sets);
            done.recreated = new.sets.iter().map(|(n, _)| n.clone()).collect();
            return Ok((
                format!(
                    "table inet {name} {{}}\ndelete table inet {name}\n{}{carried}",
                    new.text
                ),
                done,
            ));
        };
        let keep = |set: &str, body: &Value| {
            new.sets.iter().any(|(n, _)| n == set)
                && listed(body).is_some_and(|l| declared(&new.text, set) == Some(l))
        };
        let mut script = String::new();
        // Rules go first: then nothing refers to the chains and objects deleted next.
        for chain in &old.chains {
            let _ = writeln!(script, "flush chain inet {name} {chain}");
        }
        for chain in &old.chains {
            let _ = writeln!(script, "delete chain inet {name} {chain}");
        }
        for (word, object, body) in &old.others {
            if *word == "set" && keep(object, body) {
                done.kept.push(object.clone());
            } else {
                let _ = writeln!(script, "delete {word} inet {name} {object}");
            }
        }
        script.push_str(&new.text);
        let recreated: Vec<(String, String)> = new
            .sets
            .iter()
            .filter(|(n, _)| !done.kept.contains(n))
            .cloned()
            .collect();
        script.push_str(&elements::carry_over(name, &to_carry, &recreated));
        done.recreated = recreated.into_iter().map(|(n, _)| n).collect();
        done.kept.sort_unstable();
        for e in &done.dropped {
            if done.kept.contains(&e.set) {
                // Added first, so that the delete cannot fail on an element
                // that expired since the listing (which would undo it all).
                let _ = writeln!(
                    script,
                    "add element inet {name} {set} {{ {key} }}\ndelete element inet {name} {set} {{ {key} }}",
                    set = e.set,
                    key = e.key
                );
            }
        }
        Ok((script, done))
    }

    /// The script of [`Firewall::replacement`] alone.
    pub fn replacement_script(&self, new: &Table) -> Result<String, NetfilterError> {
        Ok(self.replacement(new)?.0)
    }

    /// Validates the replacement without applying it.
    pub fn check(&self, new: &Table) -> Result<(), NetfilterError> {
        self.nft.check(&self.replacement_script(new)?)
    }

    /// Checks, then replaces the table atomically. On any error the running
    /// ruleset is as it was.
    pub fn replace(&self, new: &Table) -> Result<Replaced, NetfilterError> {
        let (script, done) = self.replacement(new)?;
        self.nft.check(&script)?;
        self.nft.load(&script)?;
        Ok(done)
    }

    /// Removes the table (and nothing else); `false` if it was not there.
    pub fn remove(&self, table: &str) -> Result<bool, NetfilterError> {
        if self.nft.list_table(table)?.is_none() {
            return Ok(false);
        }
        self.nft.load(&format!("delete table inet {table}\n"))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(key: &str) -> Element {
        Element {
            set: "ban_v6".into(),
            set_type: "ipv6_addr".into(),
            key: key.into(),
            expires_secs: Some(60),
        }
    }

    #[test]
    fn prefix_bans_overlapping_an_allowlisted_zone_are_not_carried() {
        let t = Table {
            never_banned: vec!["2001:db8:0:1::5/128".parse().unwrap()],
            ..Table::default()
        };
        assert!(never_banned(&ban("2001:db8:0:1::/64"), &t));
        assert!(never_banned(&ban("2001:db8:0:1::5"), &t));
        assert!(!never_banned(&ban("2001:db8:0:2::/64"), &t));
        assert!(never_banned(&ban("::1"), &t));
        let pinhole = Element {
            set: "pinhole_port".into(),
            set_type: "inet_service".into(),
            key: "20000".into(),
            expires_secs: None,
        };
        assert!(!never_banned(&pinhole, &t));
    }

    #[test]
    fn durations_read_as_nft_writes_them() {
        assert_eq!(seconds("1h"), Some(3600));
        assert_eq!(seconds("1m30s"), Some(90));
        assert_eq!(seconds("2d3h"), Some(2 * 86_400 + 3 * 3600));
        assert_eq!(seconds("1s500ms"), Some(1));
        assert_eq!(seconds("1x"), None);
        assert_eq!(seconds("12"), None);
    }

    #[test]
    fn a_rendered_declaration_equals_its_listing() {
        let text = "table inet sipwall {\n\t# bans\n\tset ban_v4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\ttimeout 1h\n\t\tgc-interval 1m\n\t}\n}\n";
        let json: Value = serde_json::from_str(
            r#"{"family":"inet","name":"ban_v4","table":"sipwall","type":"ipv4_addr","handle":1,"flags":["timeout"],"timeout":3600,"gc-interval":60}"#,
        )
        .unwrap();
        assert_eq!(declared(text, "ban_v4"), listed(&json));
        let longer = text.replace("timeout 1h", "timeout 2h");
        assert_ne!(declared(&longer, "ban_v4"), listed(&json));
        let elements = text.replace("gc-interval 1m", "elements = { 192.0.2.1 }");
        assert_eq!(declared(&elements, "ban_v4"), None);
    }
}
