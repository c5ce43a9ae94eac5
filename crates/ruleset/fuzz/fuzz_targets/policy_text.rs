//! Arbitrary policy strings through the compiler: whatever a policy's
//! names, file name, log prefix and scanner strings hold, and whatever
//! comments and prefixes an IR carries, the rendered nft and iptables text
//! reads back (through `sipwall_ruleset::read`) as exactly the IR's rules.
//!
//! The input is read two ways: as a whole policy file, and as fields
//! separated by NUL bytes (service name, zone name, source, scanner
//! string, log prefix, rule comment) put into a policy that the `toml`
//! serializer writes, so the fields reach validation intact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_policy::Policy;
use sipwall_ruleset::ir::Action;
use sipwall_ruleset::roundtrip::{check_iptables, check_nft};
use sipwall_ruleset::{compile, Family, Ruleset};
use std::sync::OnceLock;
use toml::{Table, Value};

/// The built-in policy compiled once: parsing it on every run would
/// halve the executions per second for nothing.
static BUILTIN: OnceLock<Ruleset> = OnceLock::new();

fn check(rs: &Ruleset) {
    if let Err(e) = check_nft(rs) {
        panic!("nft: {e}");
    }
    for family in [Family::V4, Family::V6] {
        if let Err(e) = check_iptables(rs, family) {
            panic!("iptables {family:?}: {e}");
        }
    }
}

fn names_are_valid(p: &Policy) {
    for s in &p.services {
        assert!(sipwall_policy::name::is_valid(&s.name), "{:?}", s.name);
    }
    for z in &p.zones {
        assert!(sipwall_policy::name::is_valid(&z.name), "{:?}", z.name);
    }
}

fn table(entries: &[(&str, Value)]) -> Value {
    Value::Table(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<Table>(),
    )
}

fn strings(items: &[&str]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|s| Value::String((*s).to_owned()))
            .collect(),
    )
}

fuzz_target!(|data: &[u8]| {
    // The input as a whole policy file.
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = sipwall_policy::parse("fuzz.toml", &text) {
        names_are_valid(&p);
        check(&compile(&p, "fuzz.toml"));
    }

    // The input as fields.
    let fields: Vec<String> = data
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let field = |i: usize| fields.get(i).map_or("", String::as_str);
    let (service, zone, source, scanner, prefix, comment) =
        (field(0), field(1), field(2), field(3), field(4), field(5));
    let mut doc = Table::new();
    doc.insert(
        "zones".into(),
        table(&[(zone, strings(&["192.0.2.0/24", "2001:db8::/32"]))]),
    );
    doc.insert(
        "services".into(),
        table(&[(
            service,
            table(&[
                ("kind", Value::String("sip".into())),
                ("allow", strings(&[zone, "loopback"])),
            ]),
        )]),
    );
    doc.insert(
        "iptables".into(),
        table(&[
            ("scanner_string_match", Value::Boolean(true)),
            ("scanner_strings", strings(&[scanner])),
        ]),
    );
    doc.insert(
        "log".into(),
        table(&[("prefix", Value::String(prefix.into()))]),
    );
    let Ok(text) = toml::to_string(&doc) else {
        return;
    };
    let mut rs = match sipwall_policy::parse(source, &text) {
        Ok(p) => {
            names_are_valid(&p);
            let rs = compile(&p, source);
            check(&rs);
            rs
        }
        // Refused: the renderers still get the other texts, on the built-in policy.
        Err(_) => {
            let mut rs = BUILTIN
                .get_or_init(|| compile(&sipwall_policy::builtin(), ""))
                .clone();
            rs.source = source.to_owned();
            rs
        }
    };
    // Whoever builds the IR: arbitrary comments and log prefixes.
    for chain in &mut rs.chains {
        for r in &mut chain.rules {
            r.comment = comment.to_owned();
            if let Action::Log { prefix: p, .. } = &mut r.action {
                *p = prefix.to_owned();
            }
        }
    }
    check(&rs);
});
