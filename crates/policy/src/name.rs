//! The one rule for names that reach ruleset text (services, zones):
//! `[A-Za-z0-9_.-]{1,64}`. Such a name can stand anywhere in an nft or
//! iptables file, quoted or not, and cannot end a string, a line or a
//! block, so no policy can write syntax into the ruleset through a name.

/// The longest name.
pub const MAX_LEN: usize = 64;

/// Whether `c` may appear in a name.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Whether `s` is a valid name.
pub fn is_valid(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LEN && s.chars().all(is_name_char)
}

/// Why `s` is not a valid name (`what` says what it names), or `None`.
pub fn problem(what: &str, s: &str) -> Option<String> {
    if is_valid(s) {
        return None;
    }
    let shown: String = s
        .chars()
        .take(MAX_LEN)
        .flat_map(char::escape_debug)
        .collect();
    let cut = if s.chars().count() > MAX_LEN {
        "..."
    } else {
        ""
    };
    Some(format!(
        "invalid {what} name \"{shown}{cut}\": a name is 1-{MAX_LEN} characters of A-Z, a-z, 0-9, '_', '.' and '-'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["sip", "sip-internal", "lan_2.v6", &"a".repeat(64)] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", "sip\n}", "a b", "x\"", "é", "{", "#", &"a".repeat(65)] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        let msg = problem("service", "sip\n}").unwrap();
        assert!(msg.contains("\"sip\\n}\""), "{msg}");
        assert!(!msg.contains('\n'));
    }
}
