//! Scanner fingerprints the guard matches on: known scanner User-Agents,
//! and SIPVicious's From tag, which survives its `-c` mode (no
//! User-Agent) and UA changes.
//!
//! SIPVicious builds the tag as the hex encoding of `label`, a 0x01 byte,
//! and decimal digits. For `svmap` the label is the target's IPv4 address
//! and port in hex (`c000020213c4` is 192.0.2.2:5060); for `svwar` and
//! `svcrack` it is the extension, or `user:password` being tried.

use crate::message::Message;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Known scanner families, recognised by User-Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scanner {
    /// SIPVicious (`friendly-scanner`, `sipvicious`).
    SipVicious,
    /// `sipcli`
    Sipcli,
    /// `VaxSIPUserAgent`
    Vax,
    /// sippts (`pplsip`)
    Sippts,
    /// `sundayddr`
    Sundayddr,
    /// `iWar`
    IWar,
    /// `sip-scan`
    SipScan,
    /// `sipsak`
    Sipsak,
    /// `SIVuS`
    Sivus,
    /// `smap`
    Smap,
    /// `PortSIP VoIP SDK` (common in attack tooling)
    PortSip,
}

impl Scanner {
    /// A stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scanner::SipVicious => "sipvicious",
            Scanner::Sipcli => "sipcli",
            Scanner::Vax => "vaxsipuseragent",
            Scanner::Sippts => "sippts",
            Scanner::Sundayddr => "sundayddr",
            Scanner::IWar => "iwar",
            Scanner::SipScan => "sip-scan",
            Scanner::Sipsak => "sipsak",
            Scanner::Sivus => "sivus",
            Scanner::Smap => "smap",
            Scanner::PortSip => "portsip",
        }
    }
}

const USER_AGENTS: &[(&[u8], Scanner)] = &[
    (b"friendly-scanner", Scanner::SipVicious),
    (b"sipvicious", Scanner::SipVicious),
    (b"sipcli", Scanner::Sipcli),
    (b"vaxsipuseragent", Scanner::Vax),
    (b"pplsip", Scanner::Sippts),
    (b"sundayddr", Scanner::Sundayddr),
    (b"iwar", Scanner::IWar),
    (b"sip-scan", Scanner::SipScan),
    (b"sipsak", Scanner::Sipsak),
    (b"sivus", Scanner::Sivus),
    (b"smap", Scanner::Smap),
    (b"portsip voip sdk", Scanner::PortSip),
];

/// For each byte, the needles of [`USER_AGENTS`] it starts (either case),
/// one bit each in list order: the other bytes of a User-Agent cost one
/// lookup each.
static STARTS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < USER_AGENTS.len() {
        assert!(USER_AGENTS[i].0[1].is_ascii_lowercase());
        let first = USER_AGENTS[i].0[0];
        t[first as usize] |= 1 << i;
        t[first.to_ascii_uppercase() as usize] |= 1 << i;
        i += 1;
    }
    t
};

/// The scanner a User-Agent names, if any (case-insensitive substring;
/// the leftmost, and at one place the first in the list of needles).
pub fn scanner_by_user_agent(ua: &[u8]) -> Option<Scanner> {
    // A dozen short needles in a short haystack: a check at each byte
    // that can start one is cheaper than an automaton's set-up.
    for (i, &b) in ua.iter().enumerate() {
        let mut needles = STARTS[usize::from(b)];
        while needles != 0 {
            let (needle, scanner) = USER_AGENTS[needles.trailing_zeros() as usize];
            needles &= needles - 1;
            // Needles are lower-case letters, `-` and space, and their
            // second byte a letter: most candidates fail on it.
            if ua.get(i + 1).is_some_and(|&b| b | 0x20 == needle[1])
                && ua
                    .get(i..i + needle.len())
                    .is_some_and(|at| crate::byte_scan::eq_name(at, needle))
            {
                return Some(scanner);
            }
        }
    }
    None
}

/// The longest label kept from a SIPVicious tag.
const MAX_LABEL: usize = 64;

/// A From tag in SIPVicious's format, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipviciousTag {
    label: [u8; MAX_LABEL],
    len: u8,
}

impl SipviciousTag {
    /// Recognises and decodes a From tag.
    pub fn parse(tag: &[u8]) -> Option<SipviciousTag> {
        if tag.len() % 2 != 0 || tag.len() < 6 || tag.len() > 2 * (MAX_LABEL + 1 + 20) {
            return None;
        }
        // The label is printable, so its hex never holds the pair `01`:
        // the first `01` pair is the separator. Looking for it first turns
        // down an ordinary tag without decoding it.
        let sep = tag
            .chunks_exact(2)
            .position(|p| p[0] == b'0' && p[1] == b'1')?;
        let nibble = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        };
        let mut decoded = [0u8; MAX_LABEL + 1 + 20];
        for (i, pair) in tag.chunks_exact(2).enumerate() {
            decoded[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        let decoded = &decoded[..tag.len() / 2];
        let (label, digits) = (&decoded[..sep], &decoded[sep + 1..]);
        if label.is_empty()
            || label.len() > MAX_LABEL
            || !label.iter().all(|b| b.is_ascii_graphic())
            || digits.is_empty()
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let mut out = SipviciousTag {
            label: [0; MAX_LABEL],
            len: label.len() as u8,
        };
        out.label[..label.len()].copy_from_slice(label);
        Some(out)
    }

    /// The decoded label: target in hex (svmap), extension or `user:password`.
    pub fn label(&self) -> &[u8] {
        &self.label[..usize::from(self.len)]
    }

    /// The scanned target, when the label is svmap's `ip:port` in hex.
    pub fn target(&self) -> Option<SocketAddrV4> {
        let l = self.label();
        if l.len() != 12 || !l.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let text = std::str::from_utf8(l).ok()?;
        let ip = u32::from_str_radix(&text[..8], 16).ok()?;
        let port = u16::from_str_radix(&text[8..], 16).ok()?;
        Some(SocketAddrV4::new(Ipv4Addr::from(ip), port))
    }
}

/// What one message tells about the software that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint<'a> {
    /// The User-Agent (requests) or Server (responses), as written.
    pub user_agent: Option<&'a [u8]>,
    /// The scanner the User-Agent names.
    pub scanner: Option<Scanner>,
    /// A SIPVicious From tag. Only requests are considered: a response
    /// echoes the requester's From tag and says nothing about its sender.
    pub sipvicious_tag: Option<SipviciousTag>,
}

impl<'a> Fingerprint<'a> {
    /// Reads the fingerprint of a message.
    pub fn of(m: &Message<'a>) -> Fingerprint<'a> {
        Self::read(m.is_request(), m.user_agent(), m.server(), || m.from_tag())
    }

    /// The fingerprint from the values it is read from, whichever reader
    /// found them (the message, or the summary of one it refused).
    pub(crate) fn read(
        request: bool,
        user_agent: Option<&'a [u8]>,
        server: Option<&'a [u8]>,
        from_tag: impl FnOnce() -> Option<&'a [u8]>,
    ) -> Fingerprint<'a> {
        let user_agent = if request { user_agent } else { server };
        Fingerprint {
            user_agent,
            scanner: user_agent.and_then(scanner_by_user_agent),
            sipvicious_tag: if request {
                from_tag().and_then(SipviciousTag::parse)
            } else {
                None
            },
        }
    }

    /// True when anything marks the sender as a scanner.
    pub fn is_scanner(&self) -> bool {
        self.scanner.is_some() || self.sipvicious_tag.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svmap_tag_names_the_target() {
        let t = SipviciousTag::parse(b"63303030303230323133633401383331323337343339").unwrap();
        assert_eq!(t.label(), b"c000020213c4");
        assert_eq!(t.target(), Some("192.0.2.2:5060".parse().unwrap()));
    }

    #[test]
    fn svcrack_tag_leaks_the_guess() {
        let t = SipviciousTag::parse(b"3130303a3130300133383832383731363031").unwrap();
        assert_eq!(t.label(), b"100:100");
        assert_eq!(t.target(), None);
    }

    #[test]
    fn ordinary_tags_are_not_sipvicious() {
        for tag in [
            &b"3206210844"[..],
            b"23915SIPpTag011",
            b"as8d7f",
            b"0101",
            b"abcdef0123",
            b"",
            // A separator but no digits after it, or an unprintable label.
            b"61626301",
            b"0101013132",
            // Not hex.
            b"6162zz013132",
        ] {
            assert_eq!(SipviciousTag::parse(tag), None, "{tag:?}");
        }
    }

    #[test]
    fn every_needle_is_found() {
        for (n, scanner) in USER_AGENTS {
            assert_eq!(scanner_by_user_agent(n), Some(*scanner), "{n:?}");
        }
    }

    #[test]
    fn user_agents() {
        assert_eq!(
            scanner_by_user_agent(b"friendly-scanner"),
            Some(Scanner::SipVicious)
        );
        assert_eq!(scanner_by_user_agent(b"PPLSIP/1"), Some(Scanner::Sippts));
        assert_eq!(
            scanner_by_user_agent(b"x Friendly-Scanner"),
            Some(Scanner::SipVicious)
        );
        assert_eq!(
            scanner_by_user_agent(b"VaxSIPUserAgent/3.1"),
            Some(Scanner::Vax)
        );
        assert_eq!(scanner_by_user_agent(b"FreeSWITCH-mod_sofia/1.10"), None);
    }

    #[test]
    fn leftmost_then_first_listed_as_a_plain_search_says() {
        // The leftmost needle wins; at one position, the first listed.
        let plain = |ua: &[u8]| {
            let lower = ua.to_ascii_lowercase();
            (0..lower.len()).find_map(|i| {
                USER_AGENTS
                    .iter()
                    .find(|(n, _)| lower[i..].starts_with(n))
                    .map(|&(_, s)| s)
            })
        };
        for ua in [
            &b"SIPVICIOUS sipcli"[..],
            b"xsip-scanner sipsak",
            b"Sivus smap",
            b"PortSIP VoIP SDK 11",
            b"portsip voip sd",
            b"iWAR/1 friendly-scanner",
            b"sipsa",
            b"\xffS\xe9sipcli",
            b"",
            b"Zoiper 5",
        ] {
            assert_eq!(scanner_by_user_agent(ua), plain(ua), "{ua:?}");
        }
    }
}
