//! Scanner fingerprints of a request: the User-Agent (the built-in list of
//! `sipwall-sip` plus the policy's own patterns), SIPVicious's From tag
//! (which survives `svmap -c` dropping the User-Agent), and optionally a
//! Request-URI naming an IP address other than this host's.
//!
//! It reads a [`Request`]: what the full parse found, or, for a message
//! the parser refuses, what its lenient [`Summary`] found, so that a
//! scanner's malformed probe is still told for a scanner's.

use crate::action::BanReason;
use crate::remote_text::printable;
use sipwall_policy::ScannerDetector;
use sipwall_sip::{Fingerprint, Message, Method, Start, Summary, Uri};
use std::net::IpAddr;

/// The longest User-Agent kept in a ban's reason, in bytes.
const MAX_USER_AGENT: usize = 256;

/// What the scanner check reads of a request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method.
    pub method: Method<'a>,
    /// The Request-URI as written.
    pub uri: &'a [u8],
    /// The User-Agent and From tag, read.
    pub fingerprint: Fingerprint<'a>,
}

impl<'a> Request<'a> {
    /// The request a parsed message is; `None` for a response.
    pub fn of_message(m: &Message<'a>) -> Option<Request<'a>> {
        Some(Request {
            method: m.method()?,
            uri: m.request_uri()?.as_str().as_bytes(),
            fingerprint: m.fingerprint(),
        })
    }

    /// The request the summary of a refused message is; `None` for a
    /// response.
    pub fn of_summary(s: &Summary<'a>) -> Option<Request<'a>> {
        let Start::Request { method, uri } = s.start else {
            return None;
        };
        Some(Request {
            method,
            uri,
            fingerprint: s.fingerprint(),
        })
    }
}

/// The scanner detector.
#[derive(Debug, Clone)]
pub struct Scanner {
    enabled: bool,
    extra: Vec<Vec<u8>>,
    sipvicious_tag: bool,
    ip_literal_domains: bool,
}

impl Scanner {
    /// Configured by the policy.
    pub fn new(cfg: &ScannerDetector) -> Self {
        Scanner {
            enabled: cfg.enabled,
            extra: cfg
                .user_agents
                .iter()
                .map(|u| u.to_ascii_lowercase().into_bytes())
                .collect(),
            sipvicious_tag: cfg.sipvicious_tag,
            ip_literal_domains: cfg.ip_literal_domains,
        }
    }

    /// Why the request `r` (sent to `dst`) comes from a scanner, if it does.
    pub fn check(&self, r: &Request<'_>, dst: IpAddr) -> Option<BanReason> {
        if !self.enabled {
            return None;
        }
        let fp = &r.fingerprint;
        if let Some(ua) = fp.user_agent {
            if fp.scanner.is_some() || self.extra.iter().any(|p| contains_ignore_case(ua, p)) {
                return Some(BanReason::ScannerUserAgent(printable(ua, MAX_USER_AGENT)));
            }
        }
        if self.sipvicious_tag && fp.sipvicious_tag.is_some() {
            return Some(BanReason::SipviciousTag);
        }
        if self.ip_literal_domains {
            let host = Uri::parse(r.uri)
                .ok()
                .and_then(|u| u.host())
                .and_then(|h| h.ip());
            if host.is_some_and(|ip| ip != dst) {
                return Some(BanReason::IpLiteralDomain);
            }
        }
        None
    }
}

fn contains_ignore_case(hay: &[u8], lower_needle: &[u8]) -> bool {
    !lower_needle.is_empty()
        && hay.len() >= lower_needle.len()
        && hay
            .windows(lower_needle.len())
            .any(|w| w.eq_ignore_ascii_case(lower_needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &[&str], ip_literal: bool) -> Scanner {
        Scanner::new(&ScannerDetector {
            enabled: true,
            user_agents: extra.iter().map(|s| s.to_string()).collect(),
            sipvicious_tag: true,
            ip_literal_domains: ip_literal,
        })
    }

    /// The request as each reader reads it: the full parse, and the
    /// summary the engine falls back to when the parse refuses it.
    fn both(bytes: &[u8]) -> [Request<'_>; 2] {
        let m = Message::parse(bytes).unwrap();
        let s = Summary::read(bytes).unwrap();
        [
            Request::of_message(&m).unwrap(),
            Request::of_summary(&s).unwrap(),
        ]
    }

    fn options(ua: Option<&str>, tag: &str, ruri: &str) -> Vec<u8> {
        let ua = ua
            .map(|u| format!("User-Agent: {u}\r\n"))
            .unwrap_or_default();
        format!(
            "OPTIONS {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.66:5060;branch=z9hG4bK1\r\nFrom: <sip:100@example.com>;tag={tag}\r\n\
             To: <sip:100@example.com>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n{ua}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn scanner_user_agents_and_policy_patterns() {
        let dst: IpAddr = "192.0.2.1".parse().unwrap();
        let s = cfg(&["Evil-Dialer"], false);
        for (ua, banned) in [
            ("friendly-scanner", true),
            ("sipcli/v1.8", true),
            ("my evil-dialer 2", true),
            ("Zoiper rv2.10", false),
        ] {
            let bytes = options(Some(ua), "abc", "sip:100@example.com");
            for m in both(&bytes) {
                assert_eq!(s.check(&m, dst).is_some(), banned, "{ua}");
            }
        }
    }

    #[test]
    fn the_sipvicious_tag_without_a_user_agent() {
        let dst: IpAddr = "192.0.2.1".parse().unwrap();
        let bytes = options(
            None,
            "63303030303230323133633401383331323337343339",
            "sip:100@example.com",
        );
        for m in both(&bytes) {
            assert_eq!(
                cfg(&[], false).check(&m, dst),
                Some(BanReason::SipviciousTag)
            );
        }
    }

    #[test]
    fn ip_literal_domains_only_when_asked_and_not_our_own_address() {
        let dst: IpAddr = "192.0.2.1".parse().unwrap();
        let bytes = options(Some("Zoiper"), "abc", "sip:100@1.1.1.1");
        for m in both(&bytes) {
            assert_eq!(cfg(&[], false).check(&m, dst), None);
            assert_eq!(
                cfg(&[], true).check(&m, dst),
                Some(BanReason::IpLiteralDomain)
            );
        }
        let ours = options(Some("Zoiper"), "abc", "sip:100@192.0.2.1");
        for m in both(&ours) {
            assert_eq!(cfg(&[], true).check(&m, dst), None);
        }
    }

    #[test]
    fn answers_are_never_scanners() {
        let ok = b"SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=63303030303230323133633401383331323337343339\r\nServer: friendly-scanner\r\nUser-Agent: friendly-scanner\r\n\r\n";
        // An answer is no request, by either reader: nothing to check.
        assert!(Request::of_message(&Message::parse(ok).unwrap()).is_none());
        assert!(Request::of_summary(&Summary::read(ok).unwrap()).is_none());
    }
}
