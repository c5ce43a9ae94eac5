//! The seed's hand-written iptables recipe (`../shared/seed/freeswitch-firewall.txt`),
//! cut out of its page the way an administrator copies it.

#![allow(dead_code)] // each test binary uses a different part

/// The page, or `None` (the reason printed) where `../shared` is absent.
fn page() -> Option<String> {
    let path = sipwall_testdata::shared("seed/freeswitch-firewall.txt")?;
    Some(std::fs::read_to_string(path).expect("the seed page is readable"))
}

/// The recipe's rules file as the page gives it: the `*mangle` and
/// `*filter` sections after `vim ~/iptables.fs.rules`, comments included:
/// what an administrator feeds iptables-restore.
pub fn recipe() -> Option<String> {
    Some(recipe_and_inserts(&page()?).0)
}

/// The recipe with its scanner block applied: the six `iptables -I INPUT
/// ... -m string` commands that follow it become `-I INPUT` lines at the
/// end of its `*filter` section.
pub fn recipe_with_string_matches() -> Option<String> {
    let (rules, inserts) = recipe_and_inserts(&page()?);
    assert_eq!(inserts.len(), 6, "the six string-match rules");
    let mut out = String::new();
    let mut section = "";
    for line in rules.lines() {
        if let Some(name) = line.strip_prefix('*') {
            section = if name == "filter" { "filter" } else { "other" };
        }
        if line == "COMMIT" && section == "filter" {
            for i in &inserts {
                out.push_str(i);
                out.push('\n');
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

/// The rule lines between `vim ~/iptables.fs.rules` and `Turn on the
/// rules`, and the scanner block's `iptables` commands (without the word).
fn recipe_and_inserts(page: &str) -> (String, Vec<String>) {
    let start = page
        .find("vim ~/iptables.fs.rules")
        .expect("the recipe's start");
    let end = page.find("Turn on the rules").expect("the recipe's end");
    let part = &page[start..end];
    let inserts = part
        .lines()
        .filter_map(|l| l.trim().strip_prefix("iptables "))
        .map(str::to_owned)
        .collect();
    let mut rules = String::new();
    for line in part.lines().skip(1).map(str::trim) {
        if line.starts_with('*')
            || line.starts_with("-A")
            || line.starts_with('#')
            || line == "COMMIT"
        {
            rules.push_str(line);
            rules.push('\n');
        }
    }
    assert!(rules.contains("--dport 6245"), "{rules}");
    (rules, inserts)
}
