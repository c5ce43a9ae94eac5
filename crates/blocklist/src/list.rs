//! Plain blocklists (VoIPBL style): one address or CIDR network a line,
//! `#` comments, blank lines.
//!
//! A list is all or nothing: one line that is not an address refuses the
//! whole list with its `line:col`, so an HTML error page served with
//! `200 OK`, a captive portal or a half-written file never becomes an empty
//! or garbage set. A list with no address at all is refused too: the daemon
//! keeps what it had rather than lifting every ban of a feed because a
//! server answered nothing. Networks broader than [`MIN_PREFIX_V4`] /
//! [`MIN_PREFIX_V6`] are refused: a feed that lists `0.0.0.0/0` (by
//! mistake or by malice) must not cut the host off the Internet.
//!
//! [`encode`] writes entries back in this format; the daemon keeps each
//! feed's last good copy that way and reads it with [`decode`].

use crate::Entry;
use ipnet::IpNet;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;

/// The broadest IPv4 network a list may hold (a /8).
pub const MIN_PREFIX_V4: u8 = 8;
/// The broadest IPv6 network a list may hold (a /16).
pub const MIN_PREFIX_V6: u8 = 16;

/// How much of a list is read before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes a list may have.
    pub max_bytes: usize,
    /// The most distinct entries a list may have.
    pub max_entries: usize,
}

impl Default for Limits {
    /// 16 MiB and 262,144 entries: VoIPBL is about 1 MiB and 60,000 lines.
    fn default() -> Self {
        Limits {
            max_bytes: 16 << 20,
            max_entries: 262_144,
        }
    }
}

/// Why a list was refused; positions are 1-based `line:col` (bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// Over [`Limits::max_bytes`]; nothing was decoded.
    #[error("the list is {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A byte that has no place in a list (not printable ASCII).
    #[error(
        "{line}:{col}: byte 0x{byte:02x} is not text: a list is one address or network a line"
    )]
    NotText {
        /// Line.
        line: usize,
        /// Column.
        col: usize,
        /// The byte.
        byte: u8,
    },
    /// A line that is neither an address, a network, a comment nor blank.
    #[error("{line}:{col}: `{token}` is not an address or network")]
    NotAnAddress {
        /// Line.
        line: usize,
        /// Column.
        col: usize,
        /// The start of what was there (at most 40 bytes, printable ASCII).
        token: String,
    },
    /// A network broader than the bound.
    #[error(
        "{line}:{col}: {net} is broader than /{min}: a feed may not drop that much of the Internet"
    )]
    TooBroad {
        /// Line.
        line: usize,
        /// Column.
        col: usize,
        /// The network.
        net: IpNet,
        /// The shortest prefix allowed for its family.
        min: u8,
    },
    /// More entries than [`Limits::max_entries`].
    #[error("more than {limit} entries")]
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// A download whose last line has no end: the body was cut short.
    #[error("{line}:{col}: the last line has no newline: the download looks truncated")]
    Unterminated {
        /// Line.
        line: usize,
        /// Column just past its last byte.
        col: usize,
    },
    /// Not one address: refused, never loaded as an empty set.
    #[error("the list holds no address (an empty list is refused, never loaded)")]
    Empty,
}

/// Why one address or network (from a list line or an APIBAN answer) is
/// refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    /// Not an address nor `address/prefix`.
    Syntax,
    /// Broader than the bound for its family (the bound is given).
    TooBroad(IpNet, u8),
}

/// One address (as a /32 or /128) or network; host bits are cleared
/// (`192.0.2.7/24` is `192.0.2.0/24`), networks broader than the bound for
/// the family are refused.
pub fn net(token: &str) -> Result<IpNet, NetError> {
    let net = if token.contains('/') {
        token.parse::<IpNet>().map_err(|_| NetError::Syntax)?
    } else {
        IpNet::from(token.parse::<IpAddr>().map_err(|_| NetError::Syntax)?)
    }
    .trunc();
    let min = match net {
        IpNet::V4(_) => MIN_PREFIX_V4,
        IpNet::V6(_) => MIN_PREFIX_V6,
    };
    if net.prefix_len() < min {
        return Err(NetError::TooBroad(net, min));
    }
    Ok(net)
}

/// Reads a list from a file the operator wrote (a last line without a
/// newline is fine). Duplicates are dropped; order is the list's.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Vec<Entry>, ListError> {
    read(bytes, limits, false)
}

/// Reads a list that came over the network: as [`decode`], and the last
/// line must end with a newline, since a body cut inside a line may still
/// read as an address (`192.0.2.1` of `192.0.2.100`). A cut right after a
/// newline cannot be seen in the bytes: the HTTP layer refuses a body
/// shorter than its `Content-Length` or its chunks.
pub fn decode_download(bytes: &[u8], limits: &Limits) -> Result<Vec<Entry>, ListError> {
    read(bytes, limits, true)
}

fn read(bytes: &[u8], limits: &Limits, whole_lines: bool) -> Result<Vec<Entry>, ListError> {
    if bytes.len() > limits.max_bytes {
        return Err(ListError::TooLarge {
            len: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    // A byte-order mark from an editor on another system is not an address.
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let bom = bytes.len() - body.len();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut rest = body;
    let mut line = 0;
    while !rest.is_empty() {
        line += 1;
        let (raw, next, ended) = match newline(rest) {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        rest = next;
        let shift = if line == 1 { bom } else { 0 };
        let text = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(i) = text
            .iter()
            .position(|&b| !(b == b'\t' || (0x20..0x7f).contains(&b)))
        {
            return Err(ListError::NotText {
                line,
                col: shift + i + 1,
                byte: text[i],
            });
        }
        if !ended && whole_lines {
            return Err(ListError::Unterminated {
                line,
                col: shift + raw.len() + 1,
            });
        }
        // Checked above: printable ASCII and tabs only.
        let text = std::str::from_utf8(text).unwrap_or_default();
        let content = text.split('#').next().unwrap_or_default();
        let token = content.trim_matches([' ', '\t']);
        if token.is_empty() {
            continue;
        }
        let col = shift + (content.len() - content.trim_start_matches([' ', '\t']).len()) + 1;
        if token.contains([' ', '\t']) {
            return Err(not_an_address(line, col, token));
        }
        let net = match net(token) {
            Ok(n) => n,
            Err(NetError::Syntax) => return Err(not_an_address(line, col, token)),
            Err(NetError::TooBroad(net, min)) => {
                return Err(ListError::TooBroad {
                    line,
                    col,
                    net,
                    min,
                })
            }
        };
        if seen.insert(net) {
            if out.len() == limits.max_entries {
                return Err(ListError::TooMany {
                    limit: limits.max_entries,
                });
            }
            out.push(Entry { net, ttl: None });
        }
    }
    if out.is_empty() {
        return Err(ListError::Empty);
    }
    Ok(out)
}

fn newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn not_an_address(line: usize, col: usize, token: &str) -> ListError {
    // Printable ASCII already: cutting at 40 bytes keeps a char boundary.
    ListError::NotAnAddress {
        line,
        col,
        token: token[..token.len().min(40)].to_owned(),
    }
}

/// Writes `entries` as a list [`decode`] reads back, after `header` lines
/// written as comments (control characters in them become spaces).
pub fn encode<'a>(header: &[&str], entries: impl IntoIterator<Item = &'a Entry>) -> String {
    let mut out = String::new();
    for h in header {
        let h: String = h
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(out, "# {h}");
    }
    for e in entries {
        let _ = writeln!(out, "{}", e.net);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(bytes: &[u8]) -> Result<Vec<String>, ListError> {
        decode(bytes, &Limits::default()).map(|v| v.iter().map(|e| e.net.to_string()).collect())
    }

    #[test]
    fn a_voipbl_style_list_is_read_with_comments_blanks_and_cidrs() {
        let got = nets(
            b"# VoIPBL\r\n\n192.0.2.1\n198.51.100.0/24  # a scanner farm\n\t2001:db8::1\n2001:db8:1::/48\n192.0.2.1/32\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "192.0.2.1/32",
                "198.51.100.0/24",
                "2001:db8::1/128",
                "2001:db8:1::/48"
            ]
        );
    }

    #[test]
    fn host_bits_are_cleared() {
        assert_eq!(nets(b"203.0.113.77/24\n").unwrap(), ["203.0.113.0/24"]);
    }

    #[test]
    fn an_html_error_page_served_as_200_is_refused_not_loaded_empty() {
        let page = b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n";
        assert_eq!(
            nets(page).unwrap_err(),
            ListError::NotAnAddress {
                line: 1,
                col: 1,
                token: "<!DOCTYPE html>".into()
            }
        );
    }

    #[test]
    fn one_bad_line_refuses_the_whole_list_with_its_position() {
        let e = nets(b"192.0.2.1\n  192.0.2.300\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "2:3: `192.0.2.300` is not an address or network"
        );
        let e = nets(b"192.0.2.1 192.0.2.2\n").unwrap_err();
        assert!(
            matches!(
                e,
                ListError::NotAnAddress {
                    line: 1,
                    col: 1,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_feed_listing_the_whole_internet_is_refused() {
        for (list, min) in [
            (&b"0.0.0.0/0\n"[..], 8),
            (b"10.0.0.0/7\n", 8),
            (b"::/0\n", 16),
        ] {
            match nets(list).unwrap_err() {
                ListError::TooBroad {
                    line: 1,
                    col: 1,
                    min: m,
                    ..
                } => assert_eq!(m, min),
                e => panic!("{e}"),
            }
        }
        assert_eq!(nets(b"10.0.0.0/8\n").unwrap(), ["10.0.0.0/8"]);
    }

    #[test]
    fn an_empty_or_comment_only_list_is_refused() {
        assert_eq!(nets(b"").unwrap_err(), ListError::Empty);
        assert_eq!(nets(b"# nothing today\n\n").unwrap_err(), ListError::Empty);
    }

    #[test]
    fn control_bytes_and_non_ascii_are_refused_with_their_column() {
        assert_eq!(
            nets(b"192.0.2.1\n192.0.2.\x002\n").unwrap_err(),
            ListError::NotText {
                line: 2,
                col: 9,
                byte: 0
            }
        );
        assert!(matches!(
            nets("192.0.2.1 # caf\u{e9}\n".as_bytes()).unwrap_err(),
            ListError::NotText {
                line: 1,
                col: 16,
                ..
            }
        ));
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_counted_in_columns() {
        assert_eq!(nets(b"\xEF\xBB\xBF192.0.2.1\n").unwrap(), ["192.0.2.1/32"]);
        assert!(matches!(
            nets(b"\xEF\xBB\xBFx\n").unwrap_err(),
            ListError::NotAnAddress {
                line: 1,
                col: 4,
                ..
            }
        ));
    }

    #[test]
    fn a_download_cut_at_a_line_boundary_is_refused() {
        let l = Limits::default();
        assert_eq!(
            decode_download(b"192.0.2.1\n192.0.2.2", &l).unwrap_err(),
            ListError::Unterminated { line: 2, col: 10 }
        );
        assert_eq!(decode_download(b"192.0.2.1\n", &l).unwrap().len(), 1);
        // An operator's file may end without one.
        assert_eq!(decode(b"192.0.2.1\n192.0.2.2", &l).unwrap().len(), 2);
    }

    #[test]
    fn limits_are_checked_before_and_while_decoding() {
        let small = Limits {
            max_bytes: 12,
            max_entries: 2,
        };
        assert_eq!(
            decode(b"192.0.2.1\n192.0.2.2\n", &small).unwrap_err(),
            ListError::TooLarge { len: 20, limit: 12 }
        );
        let few = Limits {
            max_bytes: 1 << 10,
            max_entries: 2,
        };
        assert_eq!(
            decode(b"192.0.2.1\n192.0.2.1\n192.0.2.2\n", &few)
                .unwrap()
                .len(),
            2,
            "duplicates do not count"
        );
        assert_eq!(
            decode(b"192.0.2.1\n192.0.2.2\n192.0.2.3\n", &few).unwrap_err(),
            ListError::TooMany { limit: 2 }
        );
    }

    #[test]
    fn encode_is_read_back_as_the_same_entries() {
        let e = decode(b"192.0.2.1\n2001:db8::/32\n", &Limits::default()).unwrap();
        let text = encode(&["feed voipbl", "evil\nline"], &e);
        assert!(text.starts_with("# feed voipbl\n# evil line\n"), "{text}");
        assert_eq!(
            decode_download(text.as_bytes(), &Limits::default()).unwrap(),
            e
        );
    }
}
