//! Policy text cannot write syntax into the rendered ruleset: names are
//! refused by the policy, every other text is escaped, and what the
//! renderers print reads back as exactly the IR's rules.

use sipwall_ruleset::ir::{Action, Hook};
use sipwall_ruleset::roundtrip::{check_iptables, check_nft};
use sipwall_ruleset::{compile, nft, Family, Ruleset};

const VICTIM: &str = "sip\n}\n}\ndelete table ip victim\n";

fn policy(text: &str) -> sipwall_policy::Policy {
    sipwall_policy::parse("p.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn check_all(rs: &Ruleset) {
    check_nft(rs).unwrap_or_else(|e| panic!("{e}"));
    check_iptables(rs, Family::V4).unwrap_or_else(|e| panic!("{e}"));
    check_iptables(rs, Family::V6).unwrap_or_else(|e| panic!("{e}"));
}

fn no_line_of_its_own(text: &str) {
    for line in text.lines() {
        let t = line.trim();
        assert!(
            !t.starts_with("delete") && !t.starts_with("table ip"),
            "injected line {line:?} in\n{text}"
        );
    }
}

#[test]
fn a_service_named_to_delete_another_table_is_refused() {
    let text = format!(
        "[services.{}]\nkind = \"sip\"\nallow = [\"any\"]\n",
        toml_key(VICTIM)
    );
    let e = sipwall_policy::parse("p.toml", &text).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("p.toml:1:11: invalid service name"),
        "{e}"
    );
}

/// The key as TOML writes it (a basic string with escapes).
fn toml_key(s: &str) -> String {
    format!("\"{}\"", s.escape_default())
}

#[test]
fn a_source_named_to_delete_another_table_stays_in_its_comment() {
    let p = policy("[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n");
    let rs = compile(&p, &format!("/tmp/{VICTIM}\"; flush ruleset #"));
    check_all(&rs);
    let text = nft::render(&rs);
    no_line_of_its_own(&text);
    assert!(
        text.starts_with("# sipwall ruleset, compiled from /tmp/sip%0A%7D%0A%7D%0Adelete"),
        "{text}"
    );
    no_line_of_its_own(&sipwall_ruleset::iptables::render(&rs, Family::V4).unwrap());
    no_line_of_its_own(&sipwall_ruleset::modprobe::render(&p, VICTIM));
}

/// Whoever builds the IR, the renderers keep its texts inside their quotes.
#[test]
fn comments_and_log_prefixes_in_the_ir_cannot_leave_their_quotes() {
    let p = policy(
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[iptables]\nscanner_string_match = true\n",
    );
    let mut rs = compile(&p, "p.toml");
    for (i, chain) in rs.chains.iter_mut().enumerate() {
        for (j, r) in chain.rules.iter_mut().enumerate() {
            r.comment = format!("{i}.{j} \" accept\n}}\n}}\ndelete table ip victim\n# \\\"");
            if let Action::Log { prefix, .. } = &mut r.action {
                *prefix = "x\" drop\ndelete table ip victim".into();
            }
        }
    }
    assert!(rs
        .chain(Hook::Input)
        .unwrap()
        .rules
        .iter()
        .any(|r| matches!(r.action, Action::Log { .. })));
    check_all(&rs);
    no_line_of_its_own(&nft::render(&rs));
    no_line_of_its_own(&sipwall_ruleset::iptables::render(&rs, Family::V4).unwrap());
}

#[test]
fn the_builtin_policy_reads_back_as_its_ir() {
    check_all(&compile(&sipwall_policy::builtin(), "<built-in>"));
    let helper = policy(
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[services.h323]\nkind = \"h323-q931\"\nallow = [\"any\"]\n[media]\nmode = \"helper\"\n",
    );
    check_all(&compile(&helper, "helper.toml"));
    let pinhole = policy("[media]\nmode = \"pinhole\"\n");
    check_nft(&compile(&pinhole, "pinhole.toml")).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn helper_and_set_names_in_the_ir_cannot_carry_syntax() {
    let p =
        policy("[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"helper\"\n");
    let mut rs = compile(&p, "p.toml");
    let evil = "sip\" }\n}\ndelete table ip victim\n";
    for h in &mut rs.helpers {
        h.name = format!("{evil}{}", h.name);
    }
    for chain in &mut rs.chains {
        for r in &mut chain.rules {
            if let Action::SetHelper(h) = &mut r.action {
                *h = format!("{evil}{h}");
            }
        }
    }
    for s in &mut rs.sets {
        s.comment = evil.into();
    }
    let text = nft::render(&rs);
    no_line_of_its_own(&text);
    check_nft(&rs).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("ct helper sip____"), "{text}");
    assert!(text.contains("ct helper set \"sip____"), "{text}");
}
