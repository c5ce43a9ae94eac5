//! Policy reading: the built-in default, and one test per kind of mistake,
//! each checking the message and its `line:col`.

use crate::*;

fn errors(src: &str) -> Vec<String> {
    parse("p.toml", src)
        .expect_err("policy should be rejected")
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn builtin_is_vanilla_freeswitch() {
    let p = builtin();
    let ports = |name: &str| {
        let s = p.services.iter().find(|s| s.name == name).unwrap();
        (
            s.kind,
            s.ports.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            s.protocols.clone(),
            s.allow.clone(),
        )
    };
    use Protocol::{Tcp, Udp};
    assert_eq!(
        ports("sip-internal"),
        (
            Kind::Sip,
            vec!["5060".into()],
            vec![Udp, Tcp],
            vec!["any".into()]
        )
    );
    assert_eq!(ports("sip-external").1, vec!["5080"]);
    assert_eq!(ports("ws").1, vec!["5066"]);
    assert_eq!(ports("wss").1, vec!["7443"]);
    assert_eq!(ports("verto").1, vec!["8081-8082"]);
    assert_eq!(
        ports("esl"),
        (
            Kind::Esl,
            vec!["8021".into()],
            vec![Tcp],
            vec!["loopback".into()]
        )
    );
    assert_eq!(ports("ssh").1, vec!["22"]);
    assert_eq!(p.media.mode, MediaMode::Range);
    assert_eq!(p.media.ports.to_string(), "16384-32769");
    assert_eq!(p.dscp.sip.map(DscpClass::name), Some("cs3"));
    assert_eq!(p.dscp.rtp.map(DscpClass::name), Some("ef"));
    let rate = p.log.rate.unwrap();
    assert_eq!((rate.count, rate.per), (5, RateUnit::Minute));
    assert!(!p.forward_accept && p.icmp_echo);
    assert!(!p.helpers.sip_assign, "range mode needs no helper");
}

#[test]
fn unknown_key_is_an_error_with_its_position() {
    let e = errors("[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\nalow = [\"x\"]\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("p.toml:4:1: "), "{e:?}");
    assert!(e[0].contains("unknown field `alow`"), "{e:?}");
}

#[test]
fn unknown_top_level_table_is_an_error() {
    let e = errors("[sevices.ssh]\nkind = \"ssh\"\n");
    assert!(e[0].starts_with("p.toml:1:"), "{e:?}");
    assert!(e[0].contains("sevices"), "{e:?}");
}

#[test]
fn toml_syntax_error_has_a_position() {
    let e = errors("[media]\nmode = range\n");
    assert!(e[0].starts_with("p.toml:2:"), "{e:?}");
}

#[test]
fn bad_media_mode_names_the_choices() {
    let e = errors("[media]\nmode = \"open\"\n");
    assert!(e[0].starts_with("p.toml:2:8:"), "{e:?}");
    assert!(e[0].contains("pinhole"), "{e:?}");
}

#[test]
fn unknown_zone_is_an_error_at_the_reference() {
    let e = errors("[zones]\nadmin = [\"198.51.100.0/24\"]\n[services.esl]\nkind = \"esl\"\nallow = [\"admins\"]\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("p.toml:5:10: unknown zone \"admins\""),
        "{e:?}"
    );
    assert!(e[0].contains("admin"), "lists defined zones: {e:?}");
}

#[test]
fn unknown_kind_lists_the_catalog() {
    let e = errors("[services.x]\nkind = \"sipp\"\nallow = [\"any\"]\n");
    assert!(
        e[0].starts_with("p.toml:2:8: unknown service kind \"sipp\""),
        "{e:?}"
    );
    assert!(e[0].contains("h323-q931"), "{e:?}");
}

#[test]
fn prefix_with_host_bits_suggests_the_network() {
    let e = errors("[zones]\noffice = [\"198.51.100.7/24\", \"2001:db8::1/64\", \"nonsense\"]\n");
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].contains("did you mean 198.51.100.0/24"), "{e:?}");
    assert!(e[1].contains("did you mean 2001:db8::/64"), "{e:?}");
    assert!(e[2].starts_with("p.toml:2:48: invalid address"), "{e:?}");
}

#[test]
fn single_addresses_are_host_prefixes() {
    let p = parse(
        "p.toml",
        "[zones]\nadmin = [\"192.0.2.7\", \"2001:db8::7\"]\n",
    )
    .unwrap();
    let z = p.zone("admin").unwrap();
    assert_eq!(z.prefixes[0].to_string(), "192.0.2.7/32");
    assert_eq!(z.prefixes[1].to_string(), "2001:db8::7/128");
}

#[test]
fn same_port_for_different_zones_is_a_contradiction() {
    let e = errors(
        "[zones]\nadmin = [\"198.51.100.0/24\"]\n\
         [services.a]\nkind = \"sip\"\nallow = [\"any\"]\n\
         [services.b]\nkind = \"custom\"\nprotocols = [\"udp\"]\nports = [\"5000-5100\"]\nallow = [\"admin\"]\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("p.toml:6:"), "{e:?}");
    assert!(
        e[0].contains("udp port 5060 is opened by services.b for zones [admin] and by services.a (line 3) for zones [any]"),
        "{e:?}"
    );
}

#[test]
fn same_port_for_the_same_zones_is_fine() {
    let p = parse(
        "p.toml",
        "[services.a]\nkind = \"sip\"\nallow = [\"any\"]\n[services.b]\nkind = \"sip\"\nprotocols = [\"udp\"]\nallow = [\"any\"]\n",
    );
    assert!(p.is_ok(), "{p:?}");
}

#[test]
fn media_range_overlapping_a_service_is_a_contradiction() {
    let e = errors(
        "[services.x]\nkind = \"custom\"\nprotocols = [\"udp\"]\nports = [20000]\nallow = [\"loopback\"]\n[media]\nmode = \"range\"\n",
    );
    assert!(e[0].contains("udp port 20000"), "{e:?}");
}

#[test]
fn custom_services_need_ports_and_protocols() {
    let e = errors("[services.x]\nkind = \"custom\"\nallow = [\"any\"]\n");
    assert!(e[0].contains("needs `protocols`"), "{e:?}");
    let e = errors("[services.x]\nkind = \"custom\"\nprotocols = [\"tcp\"]\nallow = [\"any\"]\n");
    assert!(e[0].contains("needs `ports`"), "{e:?}");
}

#[test]
fn ports_override_the_catalog() {
    let p = parse(
        "p.toml",
        "[services.esl]\nkind = \"esl\"\nports = [8022, \"9000-9001\"]\nallow = [\"loopback\"]\n",
    )
    .unwrap();
    let ports: Vec<String> = p.services[0].ports.iter().map(|r| r.to_string()).collect();
    assert_eq!(ports, ["8022", "9000-9001"]);
}

#[test]
fn bad_ports_and_values_are_reported_together() {
    let e = errors(
        "[services.x]\nkind = \"sip\"\nports = [0, \"9-1\", 70000]\nallow = []\n\
         [dscp]\nsip = \"cs9\"\n[log]\nrate = \"lots\"\n[bans]\ntimeout = \"forever\"\n",
    );
    assert_eq!(e.len(), 7, "{e:?}");
    assert!(e[0].starts_with("p.toml:3:10: invalid port 0"), "{e:?}");
    assert!(
        e[1].starts_with("p.toml:3:13: invalid port or range \"9-1\""),
        "{e:?}"
    );
    assert!(e[2].starts_with("p.toml:3:20: invalid port 70000"), "{e:?}");
    assert!(e[3].contains("services.x.allow is empty"), "{e:?}");
    assert!(e[4].contains("unknown DSCP class \"cs9\""), "{e:?}");
    assert!(e[5].contains("invalid rate \"lots\""), "{e:?}");
    assert!(e[6].contains("invalid duration \"forever\""), "{e:?}");
}

#[test]
fn redefining_a_builtin_zone_is_an_error() {
    let e = errors("[zones]\nany = [\"192.0.2.0/24\"]\n");
    assert!(e[0].contains("zone \"any\" is built in"), "{e:?}");
}

#[test]
fn helper_mode_assigns_the_sip_helper_and_collects_its_ports() {
    let p = parse(
        "p.toml",
        "[services.a]\nkind = \"sip\"\nallow = [\"any\"]\n[services.b]\nkind = \"sip\"\nports = [5080]\nallow = [\"any\"]\n\
         [media]\nmode = \"helper\"\n[helpers.sip]\ndirect_media = false\ntimeout = 1800\n",
    )
    .unwrap();
    assert!(p.helpers.sip_assign);
    assert_eq!(p.helpers.sip_ports, [5060, 5080]);
    assert!(!p.helpers.sip_direct_media && p.helpers.sip_direct_signalling);
    assert_eq!(p.helpers.sip_timeout, 1800);
}

#[test]
fn long_log_prefix_is_rejected_for_iptables_compatibility() {
    let e = errors("[log]\nprefix = \"this prefix is far too long for iptables\"\n");
    assert!(e[0].contains("at most 29"), "{e:?}");
}

#[test]
fn guard_defaults_are_pike_like_and_configurable() {
    let p = builtin();
    let g = &p.guard;
    assert!(g.scanner.enabled && g.scanner.sipvicious_tag && !g.scanner.ip_literal_domains);
    assert_eq!(
        (g.flood.rate, g.flood.burst, g.flood.max_sources),
        (15, 30, 100_000)
    );
    assert_eq!(
        (g.brute_force.max_failures, g.brute_force.window.as_secs()),
        (5, 60)
    );
    assert_eq!(g.registered_allow.as_secs(), 3600);
    assert_eq!(g.verified_for.as_secs(), 3600);
    let p = parse(
        "p.toml",
        "[zones]\noffice = [\"198.51.100.0/24\"]\n[guard]\nallow = [\"office\"]\nregistered_allow = \"0s\"\n\
         [guard.flood]\nrate = 50\n[guard.scanner]\nuser_agents = [\"evil-dialer\"]\n",
    )
    .unwrap();
    assert_eq!(p.guard.allow, ["office"]);
    assert!(p.guard.registered_allow.is_zero());
    assert_eq!(p.guard.flood.rate, 50);
    assert_eq!(p.guard.scanner.user_agents, ["evil-dialer"]);
    // Both at once now: the unknown key no longer hides the bad value.
    let e = errors("[guard.flood]\nrate = 0\nbrst = 3\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains("0 is not a positive count"), "{e:?}");
    assert!(e[1].contains("unknown field `brst`"), "{e:?}");
    let e = errors("[guard]\nallow = [\"nowhere\"]\n[guard.brute_force]\nmax_failures = -1\n");
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn a_service_name_cannot_carry_nft_syntax() {
    let e = errors(
        "[services.\"sip\\n}\\n}\\ndelete table ip victim\\n\"]\nkind = \"sip\"\nallow = [\"any\"]\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "p.toml:1:11: invalid service name \"sip\\n}\\n}\\ndelete table ip victim\\n\""
        ),
        "{e:?}"
    );
    assert!(!e[0].contains('\n'), "the message is one line: {e:?}");
}

#[test]
fn a_zone_name_cannot_carry_nft_syntax() {
    let e = errors(
        "[zones]\n\"lan\\\"; flush ruleset\" = [\"192.0.2.0/24\"]\n\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("p.toml:2:1: invalid zone name"), "{e:?}");
}

#[test]
fn names_are_at_most_64_characters_of_the_safe_set() {
    let long = "a".repeat(65);
    let e = errors(&format!(
        "[services.{long}]\nkind = \"ssh\"\nallow = [\"any\"]\n[services.\"a b\"]\nkind = \"ssh\"\nports = [2222]\nallow = [\"any\"]\n"
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("p.toml:1:11: invalid service name"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("p.toml:4:11: invalid service name \"a b\""),
        "{e:?}"
    );
    let ok = parse(
        "p.toml",
        &format!(
            "[services.\"{}\"]\nkind = \"ssh\"\nallow = [\"any\"]\n",
            "a.b_c-D9".repeat(8)
        ),
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn a_log_prefix_or_scanner_string_cannot_leave_its_quotes() {
    for bad in [
        "x\\\" drop",
        "a\\\\",
        "a'b",
        "a#b",
        "a{b",
        "a}b",
        "a\\tb",
        "a\\u0000b",
    ] {
        let e = errors(&format!("[log]\nprefix = \"{bad}\"\n"));
        assert!(
            e[0].starts_with("p.toml:2:10: a log prefix"),
            "{bad}: {e:?}"
        );
        let e = errors(&format!("[iptables]\nscanner_strings = [\"{bad}\"]\n"));
        assert!(
            e[0].starts_with("p.toml:2:20: a scanner string"),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn the_ledger_keeps_thirty_days_of_ended_bans_unless_told_otherwise() {
    assert_eq!(builtin().ledger.retention.as_secs(), 30 * 24 * 3600);
    let p = parse("p.toml", "[ledger]\nretention = \"7d\"\n").unwrap();
    assert_eq!(p.ledger.retention.as_secs(), 7 * 24 * 3600);
    let e = errors("[ledger]\nretention = \"forever\"\n");
    assert!(e[0].starts_with("p.toml:2:13"), "{e:?}");
}

#[test]
fn prefix_bans_default_to_a_v6_64_after_8_and_no_v4() {
    let p = parse("p.toml", "").unwrap();
    assert_eq!(p.bans.ipv6_prefix, PrefixBans { after: 8, len: 64 });
    assert_eq!(p.bans.ipv4_prefix, PrefixBans { after: 0, len: 24 });
    let p = parse(
        "p.toml",
        "[bans]\nipv6_prefix_after = 0\nipv4_prefix_after = 20\nipv4_prefix = 28\n",
    )
    .unwrap();
    assert_eq!(p.bans.ipv6_prefix.after, 0);
    assert_eq!(p.bans.ipv4_prefix, PrefixBans { after: 20, len: 28 });
}

#[test]
fn a_prefix_length_that_would_ban_a_provider_is_an_error_at_its_place() {
    let e = errors("[bans]\nipv6_prefix = 8\nipv4_prefix = 33\nipv6_prefix_after = -1\n");
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with("p.toml:2:15: ")
            && e[0].contains("prefix length 8 is out of range: 32 to 128"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("p.toml:3:15: ") && e[1].contains("out of range: 16 to 32"),
        "{e:?}"
    );
    assert!(e[2].starts_with("p.toml:4:21: "), "{e:?}");
}

fn diagnostics(src: &str) -> Vec<Diagnostic> {
    parse("p.toml", src)
        .expect_err("policy should be rejected")
        .diagnostics
}

#[test]
fn type_errors_and_unknown_keys_are_all_reported_at_once() {
    // serde alone stops at the first of these.
    let d = diagnostics(
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\nports = [5060, true]\n\
         [guard.flood]\nrate = \"fast\"\nburst = 0\n[gaurd]\nx = 1\n\
         [services.ssh]\nkind = \"ssh\"\nallow = [\"admins\"]\nport = 22\n",
    );
    let e: Vec<String> = d.iter().map(ToString::to_string).collect();
    assert_eq!(e.len(), 6, "{e:?}");
    assert!(
        e[0].starts_with("p.toml:4:9: services.sip.ports: expected a port number"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with(
            "p.toml:6:8: guard.flood.rate: invalid type: string \"fast\", expected an integer"
        ),
        "{e:?}"
    );
    assert!(
        e[2].starts_with("p.toml:7:9: 0 is not a positive count"),
        "{e:?}"
    );
    assert!(
        e[3].starts_with("p.toml:8:2: unknown field `gaurd` in the top level"),
        "{e:?}"
    );
    assert!(
        e[4].starts_with("p.toml:12:10: unknown zone \"admins\""),
        "{e:?}"
    );
    assert!(
        e[5].starts_with("p.toml:13:1: unknown field `port` in [services.ssh]"),
        "{e:?}"
    );
    assert_eq!(d[3].help().as_deref(), Some("did you mean \"guard\"?"));
    assert_eq!(d[5].help().as_deref(), Some("did you mean \"ports\"?"));
    // The span is the value or key itself, for the caret.
    assert_eq!(
        &"[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\nports = [5060, true]\n"
            [d[0].span.clone()],
        "[5060, true]"
    );
}

#[test]
fn an_unknown_key_far_from_any_lists_what_the_table_has() {
    let d = diagnostics("[log]\nverbosity = 3\n");
    assert!(
        matches!(&d[0].kind, ErrorKind::UnknownKey { key, table, .. } if key == "verbosity" && table == "log")
    );
    assert_eq!(
        d[0].help().as_deref(),
        Some("expected one of: `enabled`, `rate`, `prefix`, `level`")
    );
}

#[test]
fn an_unknown_zone_or_kind_near_a_known_one_suggests_it() {
    let d = diagnostics(
        "[zones]\noffice = [\"198.51.100.0/24\"]\n[services.esl]\nkind = \"esk\"\nallow = [\"ofice\"]\n",
    );
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d[0].help().as_deref(), Some("did you mean \"esl\"?"));
    assert_eq!(d[1].help().as_deref(), Some("did you mean \"office\"?"));
    let d = diagnostics("[services.esl]\nkind = \"esl\"\nallow = [\"warehouse\"]\n");
    assert_eq!(d[0].help(), None, "no wild guesses");
}

#[test]
fn a_misspelt_required_key_is_reported_once_not_also_as_missing() {
    let e = errors("[services.ssh]\nkind = \"ssh\"\nalow = [\"any\"]\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("p.toml:3:1: unknown field `alow`"),
        "{e:?}"
    );
    // Really missing, it is said so, at the table.
    let e = errors("[services.ssh]\nkind = \"ssh\"\n");
    assert_eq!(e, ["p.toml:1:1: services.ssh: missing field `allow`"]);
}

#[test]
fn a_zone_of_the_wrong_type_is_not_also_an_unknown_zone() {
    let e = errors("[zones]\noffice = \"192.0.2.0/24\"\n[services.sip]\nkind = \"sip\"\nallow = [\"office\"]\n");
    assert_eq!(
        e,
        ["p.toml:2:10: zones.office: invalid type: string \"192.0.2.0/24\", expected an array"]
    );
}

#[test]
fn a_custom_service_with_broken_ports_still_has_its_zones_checked() {
    let e = errors("[services.c]\nkind = \"custom\"\nports = \"x\"\nprotocols = [\"udp\"]\nallow = [\"nowhere\"]\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains("services.c.ports: invalid type"), "{e:?}");
    assert!(e[1].contains("unknown zone \"nowhere\""), "{e:?}");
}

#[test]
fn a_syntax_error_is_reported_alone_with_its_span() {
    let src = "[media]\nmode = range\n[log]\nverbosity = 1\n";
    let d = diagnostics(src);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(matches!(d[0].kind, ErrorKind::Syntax(_)));
    assert_eq!(d[0].at, Location { line: 2, col: 8 });
    assert_eq!(d[0].span.start, src.find("range").unwrap());
}

/// The fenced block after `heading` in docs/policy.md.
fn documented_block(heading: &str) -> String {
    let doc = include_str!("../../../docs/policy.md");
    let section = &doc[doc.find(heading).expect("heading")..];
    let start = section.find("```toml\n").expect("toml block") + "```toml\n".len();
    let end = start + section[start..].find("```").expect("block end");
    section[start..end].to_owned()
}

#[test]
fn every_guard_key_is_documented_with_its_real_default() {
    let text = documented_block("## The guard section, every key");
    let documented = parse("policy.md", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        documented.guard,
        parse("p.toml", "").unwrap().guard,
        "docs/policy.md's [guard] defaults differ from the code's"
    );
    // Every key of every guard table is there (a missing one would take
    // its default and pass the comparison above unnoticed).
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let guard = doc["guard"].as_table().unwrap();
    for key in crate::decode::fields::<crate::raw::RawGuard>() {
        assert!(guard.contains_key(*key), "guard.{key} is not documented");
    }
    for (table, keys) in [
        ("scanner", crate::decode::fields::<crate::raw::RawScanner>()),
        ("flood", crate::decode::fields::<crate::raw::RawFlood>()),
        (
            "brute_force",
            crate::decode::fields::<crate::raw::RawBruteForce>(),
        ),
        (
            "enumeration",
            crate::decode::fields::<crate::raw::RawEnumeration>(),
        ),
        (
            "malformed",
            crate::decode::fields::<crate::raw::RawMalformed>(),
        ),
    ] {
        let t = guard[table].as_table().unwrap();
        for key in keys {
            assert!(
                t.contains_key(*key),
                "guard.{table}.{key} is not documented"
            );
        }
    }
}

#[test]
fn a_contradiction_with_the_default_media_is_placed_at_the_service_not_at_line_0() {
    let src = "[services.c]\nkind = \"custom\"\nprotocols = [\"udp\"]\nports = [20000]\nallow = [\"loopback\"]\n";
    let d = diagnostics(src);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].at, Location { line: 1, col: 11 });
    assert_eq!(&src[d[0].span.clone()], "c");
    assert!(
        d[0].to_string().contains(
            "opened by services.c for zones [loopback] and by media (default) for zones [any]"
        ),
        "{}",
        d[0]
    );
}

#[test]
fn a_contradiction_has_its_caret_under_the_entry_name() {
    let src = "[services.a]\nkind = \"sip\"\nallow = [\"any\"]\n[services.\"b.lan\"]\nkind = \"sip\"\nallow = [\"loopback\"]\n";
    let d = diagnostics(src);
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(&src[d[0].span.clone()], "\"b.lan\"");
}

#[test]
fn no_mangled_policy_panics_or_points_outside_the_file() {
    let example = include_str!("../../../dist/sipwall.example.toml");
    let lines: Vec<&str> = example.lines().collect();
    let mut variants = Vec::new();
    for i in 0..lines.len() {
        let mut without = lines.clone();
        without.remove(i);
        variants.push(without.join("\n"));
        let mut twice = lines.clone();
        twice.insert(i, lines[i]);
        variants.push(twice.join("\n"));
        if let Some((key, _)) = lines[i].split_once(" = ") {
            for value in [
                "true",
                "\"x\"",
                "[1, \"a\"]",
                "{ a = 1 }",
                "-1",
                "99999999999",
            ] {
                let mut changed = lines.clone();
                let line = format!("{key} = {value}");
                changed[i] = &line;
                variants.push(changed.join("\n"));
            }
        }
    }
    let mut rejected = 0;
    for src in &variants {
        if let Err(e) = parse("p.toml", src) {
            rejected += 1;
            assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                assert!(d.span.end <= src.len(), "{d} {:?}", d.span);
                assert!(d.at.line >= 1, "{d}");
            }
        }
    }
    assert!(
        rejected > variants.len() / 2,
        "{rejected} of {}",
        variants.len()
    );
}

#[test]
fn a_misspelt_media_mode_or_protocol_suggests_the_word() {
    let d = diagnostics("[media]\nmode = \"helpr\"\n[services.s]\nkind = \"sip\"\nallow = [\"any\"]\nprotocols = [\"udp\", \"tpc\"]\n");
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(
        d[0].to_string(),
        "p.toml:2:8: media.mode: unknown value \"helpr\"; expected one of: range, helper, pinhole"
    );
    assert_eq!(d[0].help().as_deref(), Some("did you mean \"helper\"?"));
    assert!(
        d[1].to_string()
            .starts_with("p.toml:6:21: services.s.protocols: unknown value \"tpc\""),
        "{}",
        d[1]
    );
    assert_eq!(d[1].help().as_deref(), Some("did you mean \"tcp\"?"));
}

#[test]
fn guard_mode_is_enforce_unless_the_policy_says_observe() {
    let p = parse("p.toml", "").unwrap();
    assert_eq!(p.guard.mode, GuardMode::Enforce);
    let p = parse("p.toml", "[guard]\nmode = \"enforce\"\n").unwrap();
    assert_eq!(p.guard.mode, GuardMode::Enforce);
    let p = parse("p.toml", "[guard]\nmode = \"observe\"\n").unwrap();
    assert_eq!(p.guard.mode, GuardMode::Observe);
    assert_eq!(p.guard.mode.name(), "observe");
}

#[test]
fn a_misspelt_guard_mode_is_an_error_at_the_value_that_suggests_the_word() {
    let d = diagnostics("[guard]\nmode = \"obsrve\"\n");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        d[0].to_string(),
        "p.toml:2:8: guard.mode: unknown value \"obsrve\"; expected one of: enforce, observe"
    );
    assert_eq!(d[0].help().as_deref(), Some("did you mean \"observe\"?"));
    let e = errors("[guard]\nmode = true\n");
    assert!(e[0].starts_with("p.toml:2:8:"), "{e:?}");
}

#[test]
fn crowdsec_feeds_and_hep_are_off_unless_written() {
    let p = parse("p.toml", "").unwrap();
    assert_eq!(p.crowdsec, None);
    assert!(p.feeds.is_empty());
    assert_eq!(p.hep, None);
}

#[test]
fn crowdsec_defaults_and_its_url_is_checked() {
    let p = parse("p.toml", "[crowdsec]\nlapi = \"http://192.0.2.1:8080/\"\n").unwrap();
    let c = p.crowdsec.unwrap();
    assert_eq!(c.lapi, "http://192.0.2.1:8080");
    assert_eq!(c.pull_interval, std::time::Duration::from_secs(5));
    assert_eq!(
        c.key_file,
        std::path::Path::new("/etc/sipwall/crowdsec.key")
    );
    assert!(c.push);
    let e = errors("[crowdsec]\npull_interval = \"2s\"\n");
    assert!(
        e[0].starts_with("p.toml:1:1:") && e[0].contains("needs `lapi`"),
        "{e:?}"
    );
    for bad in [
        "ftp://192.0.2.1",
        "http://user:pw@192.0.2.1:8080",
        "http://192.0.2.1:8080/v1/decisions",
        "http://192.0.2.1:8080\\nX-Evil: 1",
        "http://",
    ] {
        let e = errors(&format!("[crowdsec]\nlapi = \"{bad}\"\n"));
        assert!(e[0].starts_with("p.toml:2:8:"), "{bad}: {e:?}");
    }
}

#[test]
fn a_feed_name_that_could_end_a_set_name_is_refused() {
    for bad in ["voip-bl", "VoIPBL", "", "a_very_long_feed_name", "x;flush"] {
        let e = errors(&format!(
            "[[feeds]]\nname = \"{bad}\"\nkind = \"list\"\nurl = \"http://192.0.2.1/list.txt\"\n"
        ));
        assert!(e[0].starts_with("p.toml:2:8:"), "{bad}: {e:?}");
        assert!(e[0].contains("feed name"), "{bad}: {e:?}");
    }
}

#[test]
fn feeds_are_checked_and_resolved_in_file_order() {
    let src = "[[feeds]]\nname = \"voipbl\"\nkind = \"list\"\nurl = \"https://198.51.100.7/update/\"\n\n\
               [[feeds]]\nname = \"apiban\"\nkind = \"apiban\"\nurl = \"https://198.51.100.8/api/get\"\nkey_file = \"/etc/sipwall/apiban.key\"\nrefresh = \"10m\"\n\n\
               [[feeds]]\nname = \"mine\"\nkind = \"list\"\nfile = \"/etc/sipwall/blocked.txt\"\n";
    let p = parse("p.toml", src).unwrap();
    let names: Vec<_> = p.feeds.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["voipbl", "apiban", "mine"]);
    assert_eq!(p.feeds[0].refresh, std::time::Duration::from_secs(3600));
    assert_eq!(p.feeds[1].kind, FeedKind::Apiban);
    assert_eq!(p.feeds[1].refresh, std::time::Duration::from_secs(600));
    assert_eq!(
        p.feeds[2].source,
        FeedSource::File("/etc/sipwall/blocked.txt".into())
    );
    assert_eq!(p.feeds[2].origin.at.line, 13);
}

#[test]
fn feed_mistakes_are_reported_together_with_their_places() {
    let src = "[[feeds]]\nname = \"a\"\nkind = \"apiban\"\nurl = \"https://198.51.100.8/api/get\"\n\n\
               [[feeds]]\nname = \"a\"\nkind = \"list\"\nfile = \"relative.txt\"\n\n\
               [[feeds]]\nname = \"b\"\nkind = \"list\"\nrefresh = \"10s\"\nurl = \"http://198.51.100.9/l\"\n\n\
               [[feeds]]\nname = \"c\"\nkind = \"list\"\nurll = \"http://198.51.100.9/l\"\n";
    let e = errors(src);
    let has = |at: &str, what: &str| e.iter().any(|l| l.starts_with(at) && l.contains(what));
    assert!(has("p.toml:1:1:", "APIBAN needs `key_file`"), "{e:?}");
    assert!(has("p.toml:7:8:", "used twice"), "{e:?}");
    assert!(has("p.toml:14:11:", "at most once a minute"), "{e:?}");
    assert!(has("p.toml:20:1:", "unknown field `urll`"), "{e:?}");
    let e = errors("[[feeds]]\nname = \"x\"\nkind = \"rss\"\nurl = \"http://198.51.100.9/l\"\n");
    assert!(
        e[0].starts_with("p.toml:3:8:") && e[0].contains("apiban, list"),
        "{e:?}"
    );
}

#[test]
fn hep_address_is_an_address_and_port() {
    let p = parse("p.toml", "[hep]\naddress = \"192.0.2.10:9060\"\n").unwrap();
    let h = p.hep.unwrap();
    assert_eq!(h.address, "192.0.2.10:9060".parse().unwrap());
    assert_eq!(h.id, 2001);
    let e = errors("[hep]\naddress = \"homer.example:9060\"\nid = -1\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("p.toml:2:11:"), "{e:?}");
    assert!(e[1].starts_with("p.toml:3:6:"), "{e:?}");
}
