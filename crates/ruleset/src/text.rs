//! Policy text (rule comments, the policy's file name, log prefixes,
//! string matches) made safe to print inside an nft or iptables-restore
//! quoted string or after a `#`.
//!
//! Both formats read a quoted string up to the next `"` (iptables-restore
//! also honours `\`), and a line ends a `#` comment, so [`escape`] writes
//! every character that could end either, or that a terminal would act
//! on, as `%XX` (its UTF-8 bytes in hex): control characters, quotes,
//! backslashes, `#`, braces, `$` and anything outside printable ASCII.
//! A `%` is left as it is, so escaping twice changes nothing; the escape
//! is for safety, not a reversible encoding.
//!
//! `sipwall_engine::remote_text::printable` does the same job for network
//! text, but the engine depends on this crate, and its `\xNN` escapes
//! contain the backslash that iptables-restore reads as an escape.

/// Whether `c` is printed as it is.
fn is_safe(c: char) -> bool {
    (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\'' | '\\' | '#' | '{' | '}' | '$')
}

/// `s` escaped, at most `max` bytes (cut on a whole escape).
pub fn escape(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let piece = if is_safe(c) {
            c.to_string()
        } else {
            let mut buf = [0; 4];
            c.encode_utf8(&mut buf)
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect()
        };
        if out.len() + piece.len() > max {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// `s` escaped as an option's argument on an iptables-restore line: also
/// never starting with `-`, which a reader that does not know the option
/// takes for the next option.
pub fn escape_arg(s: &str, max: usize) -> String {
    let out = escape(s, max);
    match out.strip_prefix('-') {
        Some(rest) => escape(&format!("%2D{rest}"), max),
        None => out,
    }
}

/// Whether `s` passes [`escape`] unchanged (what the readers get back).
pub fn is_escaped(s: &str) -> bool {
    s.chars().all(is_safe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakouts_are_escaped() {
        assert_eq!(
            escape("sip\"\n}\ndelete table ip victim # x\\", 200),
            "sip%22%0A%7D%0Adelete table ip victim %23 x%5C"
        );
        assert_eq!(escape("é\u{202e}", 200), "%C3%A9%E2%80%AE");
        assert_eq!(escape("sipwall denied: 50%", 200), "sipwall denied: 50%");
    }

    #[test]
    fn escaping_is_idempotent_and_bounded() {
        let once = escape("a\nb\"c{", 200);
        assert_eq!(escape(&once, 200), once);
        assert!(is_escaped(&once));
        // A cut never splits an escape.
        assert_eq!(escape("ab\n", 4), "ab");
        assert_eq!(escape("ab\n", 5), "ab%0A");
    }

    #[test]
    fn an_argument_never_looks_like_an_option() {
        assert_eq!(escape_arg("-j ACCEPT", 200), "%2Dj ACCEPT");
        assert_eq!(escape_arg("a-b", 200), "a-b");
        assert_eq!(escape_arg("-", 2), "%2");
    }
}
