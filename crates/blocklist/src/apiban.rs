//! APIBAN's v2 API (<https://apiban.org/doc.html>), read without I/O.
//!
//! `POST /api/get` with `Authorization: Bearer KEY` and the body
//! `{"set":"sip","id":ID}` answers up to 250 addresses and the ID to ask
//! with next: `200 {"ipaddress":["192.0.2.1",...],"ID":"1607462501"}`. The
//! end of the list is an answer whose `ID` is `"none"` (documented as
//! `400 {"ipaddress":["no new bans"],"ID":"none"}`; 404 and 200 are taken
//! too), one with no address, or one whose ID did not change. A bad key is
//! `403 {"ipaddress":"none","ID":"unauthorized"}`, the rate limit (the docs
//! say 11 requests in 2 minutes) `429 {"ipaddress":"rate limit exceeded",
//! ...}`; `{"error": ...}` bodies are read for their message.
//!
//! The v2 API only gives additions since an ID, never removals, so a
//! [`Refresh`] always starts from [`START_ID`] and walks every page: the
//! result is the whole current list, which the daemon puts in place of the
//! feed's set. A long list takes more pages than the rate limit allows at
//! once: a 429 makes the refresh wait ([`Step::Wait`], honouring
//! `Retry-After`) and go on from the same ID, a bounded number of times.
//!
//! The answer is an attacker's bytes like any other: each page is bounded
//! before decoding, each address parsed (a bad one refuses the refresh),
//! IDs must be digits, and pages, entries and waits are bounded.

use crate::list::{net, NetError};
use crate::Entry;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::HashSet;
use std::time::Duration;

/// The ID a full refresh starts from (APIBAN's "from the beginning").
pub const START_ID: &str = "100";
/// The APIBAN set sipwall asks for.
pub const SET: &str = "sip";

/// Bounds on one refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes one page (one answer body) may have.
    pub page_bytes: usize,
    /// The most distinct entries a refresh may gather.
    pub max_entries: usize,
    /// The most pages a refresh may ask for.
    pub max_pages: usize,
    /// How many 429 answers a refresh waits out before giving up.
    pub max_waits: usize,
    /// The wait after a 429 without a usable `Retry-After`.
    pub default_wait: Duration,
    /// The longest wait a `Retry-After` may ask for (longer is cut).
    pub max_wait: Duration,
}

impl Default for Limits {
    /// A page of 250 addresses is about 5 KB: 1 MiB is generous.
    fn default() -> Self {
        Limits {
            page_bytes: 1 << 20,
            max_entries: 262_144,
            max_pages: 2_000,
            max_waits: 30,
            default_wait: Duration::from_secs(60),
            max_wait: Duration::from_secs(600),
        }
    }
}

/// Why an answer (or a whole refresh) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApibanError {
    /// A page over [`Limits::page_bytes`]; nothing was decoded.
    #[error("an answer of {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The key was refused (401/403).
    #[error("APIBAN refused the key (HTTP {status}){detail}")]
    Unauthorized {
        /// The status.
        status: u16,
        /// What the server said, cleaned (starts with `: ` when not empty).
        detail: String,
    },
    /// Rate limited (429) more times than [`Limits::max_waits`].
    #[error("APIBAN kept answering 429 (rate limited){detail}")]
    RateLimited {
        /// What the server said, cleaned (starts with `: ` when not empty).
        detail: String,
    },
    /// Any other status.
    #[error("APIBAN answered HTTP {status}{detail}")]
    Status {
        /// The status.
        status: u16,
        /// What the server said, cleaned (starts with `: ` when not empty).
        detail: String,
    },
    /// Not the documented JSON.
    #[error("{line}:{col}: not an APIBAN answer: {why}")]
    Malformed {
        /// Line in the body.
        line: usize,
        /// Column in the body.
        col: usize,
        /// What was wrong.
        why: String,
    },
    /// An element of `ipaddress` that is not an address (or too broad).
    #[error("ipaddress[{index}] `{text}` is not an address sipwall can drop")]
    BadAddress {
        /// Its index in the page.
        index: usize,
        /// The start of it (at most 40 characters, escaped).
        text: String,
    },
    /// An `ID` that is not digits.
    #[error("ID `{text}` is not a number")]
    BadId {
        /// The start of it (at most 40 characters, escaped).
        text: String,
    },
    /// More entries than [`Limits::max_entries`].
    #[error("more than {limit} addresses")]
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// More pages than [`Limits::max_pages`].
    #[error("more than {limit} pages")]
    TooManyPages {
        /// The limit.
        limit: usize,
    },
    /// The whole list had no address: refused, never loaded as empty.
    #[error("APIBAN's list came back empty (refused, never loaded)")]
    Empty,
}

/// One decoded answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The addresses on this page.
    pub nets: Vec<IpNet>,
    /// The ID to ask with next; `None` at the end of the list.
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    ipaddress: Option<OneOrMany>,
    #[serde(rename = "ID")]
    id: Option<Id>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<String>),
    One(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(u64),
}

/// The JSON body of a request for the page after `id`.
pub fn request_body(id: &str) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Ask<'a> {
        set: &'a str,
        id: &'a str,
    }
    serde_json::to_vec(&Ask { set: SET, id }).unwrap_or_default()
}

/// A `Retry-After` value in seconds (the HTTP-date form is not used by
/// APIBAN and gives `None`, as does anything else).
pub fn retry_after(header: &str) -> Option<Duration> {
    let h = header.trim();
    if h.is_empty() || h.len() > 9 || !h.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    h.parse().ok().map(Duration::from_secs)
}

/// Reads one answer: its status and body.
pub fn decode_page(status: u16, body: &[u8], limits: &Limits) -> Result<Page, ApibanError> {
    if body.len() > limits.page_bytes {
        return Err(ApibanError::TooLarge {
            len: body.len(),
            limit: limits.page_bytes,
        });
    }
    match status {
        200 => {}
        400 | 404 => {
            // The documented end of the list; any other 400/404 is an error.
            return match serde_json::from_slice::<Answer>(body) {
                Ok(Answer {
                    id: Some(Id::Text(id)),
                    ..
                }) if id == "none" => Ok(Page {
                    nets: Vec::new(),
                    next: None,
                }),
                _ => Err(ApibanError::Status {
                    status,
                    detail: detail(body),
                }),
            };
        }
        401 | 403 => {
            return Err(ApibanError::Unauthorized {
                status,
                detail: detail(body),
            })
        }
        429 => {
            return Err(ApibanError::RateLimited {
                detail: detail(body),
            })
        }
        _ => {
            return Err(ApibanError::Status {
                status,
                detail: detail(body),
            })
        }
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| ApibanError::Malformed {
        line: e.line(),
        col: e.column(),
        why: e.to_string(),
    })?;
    let id = match answer.id {
        Some(Id::Text(t)) => t,
        Some(Id::Number(n)) => n.to_string(),
        None => {
            let why = match answer.error {
                Some(e) => format!("no ID{}", detail_of(&e)),
                None => "no ID".into(),
            };
            return Err(ApibanError::Malformed {
                line: 1,
                col: 1,
                why,
            });
        }
    };
    if id == "none" {
        return Ok(Page {
            nets: Vec::new(),
            next: None,
        });
    }
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApibanError::BadId { text: clean(&id) });
    }
    let addresses = match answer.ipaddress {
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(s)) => {
            return Err(ApibanError::Malformed {
                line: 1,
                col: 1,
                why: format!("ipaddress is `{}`, not a list", clean(&s)),
            })
        }
        None => Vec::new(),
    };
    let mut nets = Vec::with_capacity(addresses.len());
    for (index, a) in addresses.iter().enumerate() {
        match net(a) {
            Ok(n) => nets.push(n),
            Err(NetError::Syntax | NetError::TooBroad(..)) => {
                return Err(ApibanError::BadAddress {
                    index,
                    text: clean(a),
                })
            }
        }
    }
    Ok(Page {
        nets,
        next: Some(id),
    })
}

/// What the server said in an error body, cleaned for a log line: `: `
/// and the text, or nothing.
fn detail(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => detail_of(&v),
        Err(_) => String::new(),
    }
}

fn detail_of(v: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    };
    let said = match v {
        serde_json::Value::Object(m) => m
            .get("error")
            .and_then(text)
            .or_else(|| m.get("ipaddress").and_then(text)),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    };
    match said {
        Some(s) if !s.is_empty() => format!(": {}", clean(&s)),
        _ => String::new(),
    }
}

/// At most 40 characters, control and non-ASCII characters escaped: what
/// the server sent goes into log lines.
fn clean(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    let mut out: String = cut.escape_default().collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// What to do after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send [`Refresh::body`] now.
    Ask,
    /// Rate limited: wait this long, then send [`Refresh::body`].
    Wait(Duration),
    /// The whole list, ready to replace the feed's set.
    Done(Vec<Entry>),
}

/// One full refresh: from [`START_ID`] through every page. Drop it after
/// an error: a failed refresh changes nothing.
#[derive(Debug, Clone)]
pub struct Refresh {
    limits: Limits,
    id: String,
    entries: Vec<Entry>,
    seen: HashSet<IpNet>,
    pages: usize,
    waits: usize,
}

impl Refresh {
    /// A refresh from the start of the list.
    pub fn new(limits: Limits) -> Self {
        Refresh {
            limits,
            id: START_ID.to_owned(),
            entries: Vec::new(),
            seen: HashSet::new(),
            pages: 0,
            waits: 0,
        }
    }

    /// The ID the next request asks with.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The body of the next request.
    pub fn body(&self) -> Vec<u8> {
        request_body(&self.id)
    }

    /// Pages read so far.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Takes the answer to [`Refresh::body`]: its status, body and
    /// `Retry-After` if any (see [`retry_after`]).
    pub fn answer(
        &mut self,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Result<Step, ApibanError> {
        let page = match decode_page(status, body, &self.limits) {
            Err(ApibanError::RateLimited { detail }) => {
                self.waits += 1;
                if self.waits > self.limits.max_waits {
                    return Err(ApibanError::RateLimited { detail });
                }
                let wait = retry_after
                    .unwrap_or(self.limits.default_wait)
                    .clamp(Duration::from_secs(1), self.limits.max_wait);
                return Ok(Step::Wait(wait));
            }
            other => other?,
        };
        self.pages += 1;
        let added = page.nets.len();
        for net in page.nets {
            if self.seen.insert(net) {
                if self.entries.len() == self.limits.max_entries {
                    return Err(ApibanError::TooMany {
                        limit: self.limits.max_entries,
                    });
                }
                self.entries.push(Entry { net, ttl: None });
            }
        }
        let end = match page.next {
            None => true,
            Some(next) if next == self.id || added == 0 => true,
            Some(next) => {
                self.id = next;
                false
            }
        };
        if end {
            if self.entries.is_empty() {
                return Err(ApibanError::Empty);
            }
            return Ok(Step::Done(std::mem::take(&mut self.entries)));
        }
        if self.pages >= self.limits.max_pages {
            return Err(ApibanError::TooManyPages {
                limit: self.limits.max_pages,
            });
        }
        Ok(Step::Ask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(status: u16, body: &str) -> Result<Page, ApibanError> {
        decode_page(status, body.as_bytes(), &Limits::default())
    }

    #[test]
    fn the_request_body_is_built_not_spliced() {
        assert_eq!(request_body("100"), br#"{"set":"sip","id":"100"}"#);
        assert_eq!(
            request_body(r#"1","set":"http"#),
            br#"{"set":"sip","id":"1\",\"set\":\"http"}"#
        );
    }

    #[test]
    fn a_page_gives_its_addresses_and_the_next_id() {
        let p = page(
            200,
            r#"{"ipaddress":["192.0.2.1","2001:db8::7","198.51.100.0/24"],"ID":"1607462501"}"#,
        )
        .unwrap();
        assert_eq!(p.next.as_deref(), Some("1607462501"));
        let got: Vec<String> = p.nets.iter().map(ToString::to_string).collect();
        assert_eq!(got, ["192.0.2.1/32", "2001:db8::7/128", "198.51.100.0/24"]);
        assert_eq!(
            page(200, r#"{"ipaddress":["192.0.2.1"],"ID":1607462502}"#)
                .unwrap()
                .next
                .as_deref(),
            Some("1607462502")
        );
    }

    #[test]
    fn the_documented_no_new_bans_answers_end_the_list() {
        for status in [200, 400, 404] {
            for body in [
                r#"{"ipaddress":["no new bans"], "ID":"none"}"#,
                r#"{"ipaddress":"no new bans", "ID":"none"}"#,
            ] {
                assert_eq!(page(status, body).unwrap().next, None, "{status} {body}");
            }
        }
        assert!(matches!(
            page(400, r#"{"error":"bad set"}"#).unwrap_err(),
            ApibanError::Status { status: 400, ref detail } if detail == ": bad set"
        ));
    }

    #[test]
    fn a_bad_key_and_the_rate_limit_are_errors_with_what_the_server_said() {
        let e = page(403, r#"{"ipaddress":"none", "ID":"unauthorized"}"#).unwrap_err();
        assert_eq!(e.to_string(), "APIBAN refused the key (HTTP 403): none");
        let e = page(403, r#"{"error":"bad key\u001b[31m"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r"APIBAN refused the key (HTTP 403): bad key\u{1b}[31m"
        );
        let e = page(
            429,
            r#"{"ipaddress":"rate limit exceeded", "ID":"unauthorized"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "APIBAN kept answering 429 (rate limited): rate limit exceeded"
        );
        let e = page(502, "<html>").unwrap_err();
        assert_eq!(e.to_string(), "APIBAN answered HTTP 502");
    }

    #[test]
    fn a_truncated_or_html_answer_is_malformed_with_its_position() {
        let e = page(200, r#"{"ipaddress":["192.0.2.1","19"#).unwrap_err();
        assert!(
            matches!(
                e,
                ApibanError::Malformed {
                    line: 1,
                    col: 29,
                    ..
                }
            ),
            "{e}"
        );
        let e = page(200, "<!DOCTYPE html>\n<p>maintenance</p>").unwrap_err();
        assert!(
            matches!(
                e,
                ApibanError::Malformed {
                    line: 1,
                    col: 1,
                    ..
                }
            ),
            "{e}"
        );
        let e = page(200, r#"{"error":"maintenance"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1:1: not an APIBAN answer: no ID: maintenance"
        );
    }

    #[test]
    fn one_bad_address_or_id_refuses_the_page() {
        let e = page(200, r#"{"ipaddress":["192.0.2.1","0.0.0.0/0"],"ID":"2"}"#).unwrap_err();
        assert_eq!(
            e,
            ApibanError::BadAddress {
                index: 1,
                text: "0.0.0.0/0".into()
            }
        );
        let e = page(200, r#"{"ipaddress":["192.0.2.1\n"],"ID":"2"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r"ipaddress[0] `192.0.2.1\n` is not an address sipwall can drop"
        );
        let e = page(200, r#"{"ipaddress":["192.0.2.1"],"ID":"2;drop"}"#).unwrap_err();
        assert!(matches!(e, ApibanError::BadId { .. }), "{e}");
    }

    #[test]
    fn a_page_over_the_bound_is_refused_before_decoding() {
        let l = Limits {
            page_bytes: 10,
            ..Limits::default()
        };
        let e = decode_page(200, br#"{"ipaddress":[],"ID":"1"}"#, &l).unwrap_err();
        assert_eq!(e, ApibanError::TooLarge { len: 25, limit: 10 });
    }

    fn ok(r: &mut Refresh, body: &str) -> Step {
        r.answer(200, body.as_bytes(), None).unwrap()
    }

    #[test]
    fn a_refresh_walks_every_page_from_the_start() {
        let mut r = Refresh::new(Limits::default());
        assert_eq!(r.id(), START_ID);
        assert_eq!(
            ok(
                &mut r,
                r#"{"ipaddress":["192.0.2.1","192.0.2.2"],"ID":"11"}"#
            ),
            Step::Ask
        );
        assert_eq!(r.body(), br#"{"set":"sip","id":"11"}"#);
        assert_eq!(
            ok(
                &mut r,
                r#"{"ipaddress":["192.0.2.2","192.0.2.3"],"ID":"12"}"#
            ),
            Step::Ask
        );
        let done = r
            .answer(400, br#"{"ipaddress":["no new bans"],"ID":"none"}"#, None)
            .unwrap();
        let Step::Done(entries) = done else {
            panic!("{done:?}")
        };
        assert_eq!(entries.len(), 3, "duplicates across pages count once");
        assert_eq!(r.pages(), 3);
    }

    #[test]
    fn a_refresh_ends_when_the_id_stops_changing_or_a_page_is_empty() {
        let mut r = Refresh::new(Limits::default());
        ok(&mut r, r#"{"ipaddress":["192.0.2.1"],"ID":"11"}"#);
        assert!(
            matches!(ok(&mut r, r#"{"ipaddress":["192.0.2.9"],"ID":"11"}"#), Step::Done(e) if e.len() == 2)
        );
        let mut r = Refresh::new(Limits::default());
        ok(&mut r, r#"{"ipaddress":["192.0.2.1"],"ID":"11"}"#);
        assert!(
            matches!(ok(&mut r, r#"{"ipaddress":[],"ID":"12"}"#), Step::Done(e) if e.len() == 1)
        );
    }

    #[test]
    fn an_empty_list_is_refused_not_loaded() {
        let mut r = Refresh::new(Limits::default());
        let e = r
            .answer(400, br#"{"ipaddress":["no new bans"],"ID":"none"}"#, None)
            .unwrap_err();
        assert_eq!(e, ApibanError::Empty);
    }

    #[test]
    fn a_429_waits_as_told_and_goes_on_from_the_same_id() {
        let l = Limits {
            max_waits: 2,
            ..Limits::default()
        };
        let mut r = Refresh::new(l);
        ok(&mut r, r#"{"ipaddress":["192.0.2.1"],"ID":"11"}"#);
        let limited = br#"{"ipaddress":"rate limit exceeded","ID":"unauthorized"}"#;
        assert_eq!(
            r.answer(429, limited, retry_after("7")).unwrap(),
            Step::Wait(Duration::from_secs(7))
        );
        assert_eq!(r.id(), "11");
        // An HTTP date or garbage: the default; a huge value: the cap.
        assert_eq!(
            r.answer(429, limited, retry_after("Wed, 21 Oct 2015 07:28:00 GMT"))
                .unwrap(),
            Step::Wait(Duration::from_secs(60))
        );
        let e = r.answer(429, limited, retry_after("1")).unwrap_err();
        assert!(matches!(e, ApibanError::RateLimited { .. }), "{e}");
        let mut r = Refresh::new(Limits::default());
        assert_eq!(
            r.answer(429, b"", retry_after("99999")).unwrap(),
            Step::Wait(Duration::from_secs(600))
        );
        assert_eq!(
            r.answer(429, b"", retry_after("0")).unwrap(),
            Step::Wait(Duration::from_secs(1))
        );
    }

    #[test]
    fn pages_and_entries_are_bounded() {
        let l = Limits {
            max_pages: 2,
            ..Limits::default()
        };
        let mut r = Refresh::new(l);
        ok(&mut r, r#"{"ipaddress":["192.0.2.1"],"ID":"11"}"#);
        let e = r
            .answer(200, br#"{"ipaddress":["192.0.2.2"],"ID":"12"}"#, None)
            .unwrap_err();
        assert_eq!(e, ApibanError::TooManyPages { limit: 2 });
        let l = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let mut r = Refresh::new(l);
        let e = r
            .answer(
                200,
                br#"{"ipaddress":["192.0.2.1","192.0.2.2","192.0.2.3"],"ID":"11"}"#,
                None,
            )
            .unwrap_err();
        assert_eq!(e, ApibanError::TooMany { limit: 2 });
    }
}
