//! `nft -j list ruleset` (JSON schema 1): the kernel's own view, including
//! the tables iptables-nft manages (their xt extensions show only a name,
//! so they stay opaque).

use super::error::ReadError;
use super::existing::{
    Base, Cond, Covers, ExistingChain, HookPoint, Location, SetInfo, Step, TableFamily,
};
use super::link::link;
use super::literal::parse_rate;
use super::nft_expr::{conds, Elem, Selector};
use super::statement::{rules_of, HelperObjects};
use crate::ir::{Action, Match};
use serde_json::Value;

/// Reads a JSON listing; `source` names it in locations (`live` for the kernel).
pub fn parse(source: &str, text: &str) -> Result<super::Existing, ReadError> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        ReadError::at(
            u32::try_from(e.line()).unwrap_or(u32::MAX),
            u32::try_from(e.column()).unwrap_or(u32::MAX),
            format!("JSON: {e}"),
        )
    })?;
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| ReadError::at(1, 1, "expected {\"nftables\": [...]}"))?;
    let mut helpers = HelperObjects::default();
    for item in items {
        if let Some(h) = item.get("ct helper") {
            if let (Some(f), Some(t), Some(n), Some(k)) = (
                str_of(h, "family"),
                str_of(h, "table"),
                str_of(h, "name"),
                str_of(h, "type"),
            ) {
                helpers.add(f, t, n, k);
            }
        }
    }
    let mut sets = Vec::new();
    for item in items {
        if let Some(set) = item.get("set").or_else(|| item.get("map")) {
            if let (Some(f), Some(t), Some(n)) = (
                str_of(set, "family"),
                str_of(set, "table"),
                str_of(set, "name"),
            ) {
                let flags = set.get("flags").and_then(Value::as_array);
                let dynamic = flags.is_some_and(|fl| {
                    fl.iter()
                        .any(|x| matches!(x.as_str(), Some("timeout" | "dynamic")))
                });
                sets.push(SetInfo {
                    family: TableFamily::from_nft(f),
                    table: t.to_owned(),
                    name: n.to_owned(),
                    dynamic,
                    empty: set
                        .get("elem")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty),
                });
            }
        }
    }
    let mut chains: Vec<ExistingChain> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        if let Some(c) = item.get("chain") {
            let (Some(f), Some(t), Some(name)) =
                (str_of(c, "family"), str_of(c, "table"), str_of(c, "name"))
            else {
                return Err(item_error(n, "chain without family, table or name"));
            };
            let base = str_of(c, "hook").map(|hook| Base {
                hook: HookPoint::parse(hook),
                priority: c
                    .get("prio")
                    .and_then(Value::as_i64)
                    .and_then(|p| i32::try_from(p).ok())
                    .unwrap_or(0),
                policy_accept: str_of(c, "policy") != Some("drop"),
            });
            chains.push(ExistingChain {
                family: TableFamily::from_nft(f),
                table: t.to_owned(),
                name: name.to_owned(),
                base,
                rules: Vec::new(),
            });
        } else if let Some(r) = item.get("rule") {
            let (Some(f), Some(t), Some(cname)) =
                (str_of(r, "family"), str_of(r, "table"), str_of(r, "chain"))
            else {
                return Err(item_error(n, "rule without family, table or chain"));
            };
            let family = TableFamily::from_nft(f);
            let Some(chain) = chains
                .iter_mut()
                .find(|c| c.family == family && c.table == t && c.name == cname)
            else {
                return Err(item_error(
                    n,
                    &format!("rule of unknown chain {f} {t} {cname}"),
                ));
            };
            let exprs = r
                .get("expr")
                .and_then(Value::as_array)
                .ok_or_else(|| item_error(n, "rule without expr"))?;
            let at = Location {
                source: source.to_owned(),
                line: None,
                chain: format!("{f} {t} {cname}"),
                handle: r.get("handle").and_then(Value::as_u64),
            };
            let comment = str_of(r, "comment").map(str::to_owned);
            let parsed: Vec<(Vec<Cond>, Option<Step>)> =
                exprs.iter().map(|e| statement(e, &helpers, f, t)).collect();
            chain
                .rules
                .extend(rules_of(parsed, &at, comment.as_deref()));
        }
    }
    Ok(link(source, chains, Covers { v4: true, v6: true }, sets))
}

fn item_error(n: usize, what: &str) -> ReadError {
    ReadError::at(1, 1, format!("nftables[{n}]: {what}"))
}

fn str_of<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// One statement: the conditions it adds, or the step it takes.
fn statement(
    e: &Value,
    helpers: &HelperObjects,
    family: &str,
    table: &str,
) -> (Vec<Cond>, Option<Step>) {
    let Some((key, body)) = e.as_object().and_then(|o| o.iter().next()) else {
        return (vec![Cond::Opaque(e.to_string())], None);
    };
    let step = |s: Step| (Vec::new(), Some(s));
    let opaque = |terminal: bool| {
        step(Step::Opaque {
            what: key.clone(),
            terminal,
        })
    };
    match key.as_str() {
        "match" => {
            let op = str_of(body, "op").unwrap_or("==");
            let sel = body
                .get("left")
                .map_or(Selector::Other("?".into()), selector);
            let elems = body.get("right").map_or_else(Vec::new, elems);
            match op {
                "==" | "in" => (conds(&sel, false, &elems), None),
                "!=" => (conds(&sel, true, &elems), None),
                _ => (vec![Cond::Opaque(body.to_string())], None),
            }
        }
        "accept" => step(Step::Ir(Action::Accept)),
        "drop" => step(Step::Ir(Action::Drop)),
        "reject" => step(Step::Ir(Action::Reject)),
        "return" => step(Step::Return),
        "jump" | "goto" => match body.get("target").and_then(Value::as_str) {
            Some(t) => step(Step::Jump {
                target: t.to_owned(),
                goto: key == "goto",
            }),
            None => opaque(true),
        },
        "counter" | "continue" => (Vec::new(), None),
        "log" => step(Step::Ir(Action::Log {
            prefix: str_of(body, "prefix").unwrap_or_default().to_owned(),
            level: str_of(body, "level").unwrap_or("warn").to_owned(),
        })),
        "limit" => {
            let over = body.get("inv").and_then(Value::as_bool).unwrap_or(false);
            let per = str_of(body, "per").unwrap_or("second");
            let bytes = str_of(body, "rate_unit").is_some_and(|u| u != "packets");
            let rate = body
                .get("rate")
                .and_then(Value::as_u64)
                .and_then(|r| parse_rate(&format!("{r}/{per}")));
            match rate {
                Some(r) if !over && !bytes => (vec![Cond::Ir(Match::Limit(r))], None),
                _ => (vec![Cond::Opaque(format!("limit {body}"))], None),
            }
        }
        "ct helper" => step(Step::AssignHelper(
            body.as_str()
                .and_then(|name| helpers.kind(family, table, name))
                .map(str::to_owned),
        )),
        "xt" => {
            let name = str_of(body, "name").unwrap_or("?");
            if str_of(body, "type") == Some("match") {
                return (vec![Cond::Opaque(format!("xt match {name}"))], None);
            }
            step(super::statement::xt_target(name))
        }
        "set" if body.get("stmt").is_some() || str_of(body, "op") == Some("add") => {
            let set = str_of(body, "set").unwrap_or("?").trim_start_matches('@');
            let words = dynset_words(body);
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            super::statement::dynset(set, &words)
        }
        "mangle" | "notrack" | "set" | "meter" | "dup" | "fwd" | "quota" | "flow" | "tproxy"
        | "synproxy" | "secmark" => {
            let terminal = matches!(key.as_str(), "fwd" | "tproxy" | "synproxy");
            opaque(terminal)
        }
        // Verdict maps, nat and queues decide the packet in ways not modelled.
        _ => opaque(true),
    }
}

/// A set statement's key and limit as the words nft's text would list:
/// `ip saddr limit rate over 15/second burst 30 packets`.
fn dynset_words(body: &Value) -> Vec<String> {
    let mut words = Vec::new();
    // `update @meter { ip saddr ... }` lists its key bare; `add @set { ip
    // saddr timeout 1m }` wraps it with the element's timeout in seconds.
    let elem = body.get("elem");
    let wrapped = elem.and_then(|e| e.get("elem"));
    let key = wrapped.and_then(|w| w.get("val")).or(elem);
    if let Some(p) = key.and_then(|k| k.get("payload")) {
        for key in ["protocol", "field"] {
            words.push(str_of(p, key).unwrap_or("?").to_owned());
        }
    }
    if let Some(t) = wrapped
        .and_then(|w| w.get("timeout"))
        .and_then(Value::as_u64)
    {
        words.extend(["timeout".to_owned(), format!("{t}s")]);
    }
    for st in body
        .get("stmt")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let limit = st.get("limit").filter(|l| {
            l.get("inv").and_then(Value::as_bool) == Some(true)
                && str_of(l, "rate_unit").is_none_or(|u| u == "packets")
                && str_of(l, "per") == Some("second")
        });
        let (Some(l), Some(rate)) = (limit, limit.and_then(|l| l.get("rate")?.as_u64())) else {
            words.push(st.to_string());
            continue;
        };
        words.extend(["limit", "rate", "over"].map(str::to_owned));
        words.push(format!("{rate}/second"));
        if let Some(b) = l.get("burst").and_then(Value::as_u64) {
            words.extend(["burst".to_owned(), b.to_string(), "packets".to_owned()]);
        }
    }
    words
}

fn selector(v: &Value) -> Selector {
    if let Some(m) = v.get("meta") {
        return Selector::Meta(str_of(m, "key").unwrap_or("?").to_owned());
    }
    if let Some(p) = v.get("payload") {
        if let (Some(proto), Some(field)) = (str_of(p, "protocol"), str_of(p, "field")) {
            return Selector::Payload(proto.to_owned(), field.to_owned());
        }
    }
    if let Some(c) = v.get("ct") {
        if c.get("dir").is_none() {
            return Selector::Ct(str_of(c, "key").unwrap_or("?").to_owned());
        }
    }
    Selector::Other(v.to_string())
}

fn elems(v: &Value) -> Vec<Elem> {
    match v {
        Value::Array(a) => a.iter().flat_map(elems).collect(),
        Value::Object(o) => {
            if let Some(s) = o.get("set") {
                return elems(s);
            }
            if let Some(Value::Array(r)) = o.get("range") {
                if let [a, z] = r.as_slice() {
                    if let (Some(a), Some(z)) = (elems(a).pop(), elems(z).pop()) {
                        return vec![Elem::Range(Box::new(a), Box::new(z))];
                    }
                }
            }
            if let Some(p) = o.get("prefix") {
                if let (Some(a), Some(l)) =
                    (str_of(p, "addr"), p.get("len").and_then(Value::as_u64))
                {
                    return vec![Elem::Word(format!("{a}/{l}"))];
                }
            }
            // Anything else (an element with a timeout, a concatenation)
            // cannot be compared: a set reference makes the match opaque.
            vec![Elem::SetRef(v.to_string())]
        }
        Value::Number(n) => n
            .as_u64()
            .map_or_else(|| vec![Elem::Word(n.to_string())], |n| vec![Elem::Num(n)]),
        Value::String(s) => match s.strip_prefix('@') {
            Some(set) => vec![Elem::SetRef(set.to_owned())],
            None => vec![Elem::Word(s.clone())],
        },
        _ => vec![Elem::SetRef(v.to_string())],
    }
}
