//! Text that came from the network (User-Agents, Request-URIs, accounts,
//! FreeSWITCH event fields), made safe to show a person and bounded in
//! bytes before it becomes evidence in the ledger, the log or a terminal.
//!
//! The contract of [`printable`]:
//! - the result holds no control character (C0, DEL, C1), no invisible
//!   format character that can reorder or hide text (bidi overrides and
//!   isolates, zero-width characters, the BOM) and no invalid UTF-8: each
//!   such character is written as `\xNN` (a byte) or `\u{NNNN}`;
//! - it is at most `max` bytes long, cut on a character boundary and
//!   marked with `...` when cut;
//! - it is idempotent: a backslash is left as it is, so text escaped once
//!   (say, read back from the ledger) is unchanged by a second pass, and
//!   the escapes cannot be told from a sender's literal `\x1b` — which is
//!   the point: neither can reach a terminal as a control sequence.

/// Where an escape sequence would reorder or hide what a person reads.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{FEFF}'              // BOM / zero-width no-break space
    )
}

/// `bytes` from the network as printable text of at most `max` bytes.
pub fn printable(bytes: &[u8], max: usize) -> String {
    const CUT: &str = "...";
    let mut out = String::with_capacity(bytes.len().min(max));
    // The end of the last whole piece that still leaves room for CUT.
    let mut room_to_cut = 0;
    let mut push = |out: &mut String, piece: &str| -> bool {
        out.push_str(piece);
        if out.len() + CUT.len() <= max {
            room_to_cut = out.len();
        }
        out.len() <= max
    };
    let mut rest = bytes;
    let complete = 'outer: loop {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, None),
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                let len = e.error_len().unwrap_or(tail.len()).max(1);
                // from_utf8 checked `ok` already.
                (std::str::from_utf8(ok).unwrap_or(""), Some(&tail[..len]))
            }
        };
        for c in valid.chars() {
            let fits = if c.is_control() {
                push(&mut out, &format!("\\x{:02x}", u32::from(c)))
            } else if is_invisible(c) {
                push(&mut out, &format!("\\u{{{:04x}}}", u32::from(c)))
            } else {
                push(&mut out, c.encode_utf8(&mut [0; 4]))
            };
            if !fits {
                break 'outer false;
            }
        }
        let Some(bad) = bad else { break true };
        for b in bad {
            if !push(&mut out, &format!("\\x{b:02x}")) {
                break 'outer false;
            }
        }
        rest = &rest[valid.len() + bad.len()..];
    };
    if !complete {
        out.truncate(room_to_cut);
        out.push_str(CUT.get(..max.min(CUT.len())).unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn an_escape_sequence_in_a_user_agent_never_reaches_a_terminal() {
        let shown = printable(b"friendly\x1b[31m-scanner\r\n\x7f", 256);
        assert_eq!(shown, "friendly\\x1b[31m-scanner\\x0d\\x0a\\x7f");
        assert!(!shown.chars().any(char::is_control));
    }

    #[test]
    fn bidi_overrides_and_invalid_utf8_are_written_as_escapes() {
        let shown = printable("a\u{202E}b".as_bytes(), 256);
        assert_eq!(shown, "a\\u{202e}b");
        assert_eq!(printable(b"a\xffb\xc3", 256), "a\\xffb\\xc3");
        assert_eq!(printable("é".as_bytes(), 256), "é");
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        let once = printable(b"x\x1b\\y\xfe\xe2\x80\xae", 256);
        assert_eq!(printable(once.as_bytes(), 256), once);
    }

    #[test]
    fn long_text_is_cut_to_the_byte_budget_on_a_character_boundary() {
        let long = "é".repeat(10_000);
        let shown = printable(long.as_bytes(), 64);
        assert!(shown.len() <= 64, "{} bytes", shown.len());
        assert!(shown.ends_with("..."));
        let escapes = printable(&[0x1b; 1000], 64);
        assert!(escapes.len() <= 64 && escapes.ends_with("..."));
        assert_eq!(printable(b"short", 64), "short");
        assert_eq!(printable(b"abcdef", 6), "abcdef");
    }
}
