//! The event socket (ESL) wire protocol, sans-IO: frames cut out of a byte
//! buffer, and the commands a client sends. The daemon owns the socket and
//! the retries; this module owns the bytes.
//!
//! A frame is `Name: value` header lines, an empty line, then
//! `Content-Length` bytes of body. Events (`text/event-plain`) carry a body
//! that is itself header lines with URL-encoded values, an empty line and
//! an optional inner body.
//!
//! Trust: bytes from the socket are checked, bounded (64 KiB of headers,
//! 4 MiB of body) and never panic the reader; a frame that breaks the
//! grammar is [`Decoded::Malformed`] and the connection should be dropped.

use percent_encoding::percent_decode_str;

/// The most header bytes a frame may have.
const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted (`api sofia xmlstatus` on a big box is large).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// One frame from FreeSWITCH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// Header lines, in order.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl Frame {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    /// `Reply-Text` of a `command/reply`.
    pub fn reply_text(&self) -> Option<&str> {
        self.header("Reply-Text")
    }

    /// Whether a `command/reply` says `+OK`.
    pub fn is_ok(&self) -> bool {
        self.reply_text().is_some_and(|r| r.starts_with("+OK"))
    }

    /// The event's headers (decoded), when this frame is a plain event.
    pub fn event(&self) -> Option<Vec<(String, String)>> {
        if self.content_type() != Some("text/event-plain") {
            return None;
        }
        let text = std::str::from_utf8(&self.body).ok()?;
        let head = text.split("\n\n").next().unwrap_or(text);
        Some(
            head.lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| {
                    (
                        k.to_owned(),
                        percent_decode_str(v.trim_end_matches('\r'))
                            .decode_utf8_lossy()
                            .into_owned(),
                    )
                })
                .collect(),
        )
    }
}

/// What the start of a buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole frame, and how many bytes it took.
    Frame(Frame, usize),
    /// Not enough bytes yet.
    Incomplete,
    /// Not the ESL protocol.
    Malformed(String),
}

/// Cuts the first frame out of `buf`.
pub fn decode(buf: &[u8]) -> Decoded {
    // FreeSWITCH may send stray newlines between frames.
    let skip = buf
        .iter()
        .take_while(|b| **b == b'\n' || **b == b'\r')
        .count();
    let rest = &buf[skip..];
    let Some(end) = memchr::memmem::find(rest, b"\n\n") else {
        return if rest.len() > MAX_HEAD {
            Decoded::Malformed("header block too long".into())
        } else {
            Decoded::Incomplete
        };
    };
    if end > MAX_HEAD {
        return Decoded::Malformed("header block too long".into());
    }
    let Ok(head) = std::str::from_utf8(&rest[..end]) else {
        return Decoded::Malformed("header block is not UTF-8".into());
    };
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            return Decoded::Malformed(format!("header line without a colon: {line:?}"));
        };
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut frame = Frame {
        headers,
        body: Vec::new(),
    };
    let len = match frame.header("Content-Length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) if n <= MAX_BODY => n,
        Some(_) => return Decoded::Malformed("bad Content-Length".into()),
    };
    let body_start = end + 2;
    if rest.len() < body_start + len {
        return Decoded::Incomplete;
    }
    frame.body = rest[body_start..body_start + len].to_vec();
    Decoded::Frame(frame, skip + body_start + len)
}

/// `auth PASSWORD`.
pub fn auth(password: &str) -> Vec<u8> {
    format!("auth {}\n\n", password.trim()).into_bytes()
}

/// `event plain EVENTS...`: subscribes to the events sipwall uses.
pub fn subscribe(events: &[&str]) -> Vec<u8> {
    format!("event plain {}\n\n", events.join(" ")).into_bytes()
}

/// `api COMMAND`.
pub fn api(command: &str) -> Vec<u8> {
    format!("api {command}\n\n").into_bytes()
}

/// A SIP listener as `sofia xmlstatus` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    /// The profile's name.
    pub profile: String,
    /// The address in its bind URL.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Over TLS: sofia marks it in the state (`RUNNING (0) (TLS)`, `(WSS)`),
    /// and its URL still says `sip:`.
    pub tls: bool,
}

/// The profiles' bind URLs in the answer to `api sofia xmlstatus`
/// (`<profile><name>..</name><data>sip:mod_sofia@192.0.2.1:5060</data>`):
/// what FreeSWITCH really listens on, dynamic profiles included.
pub fn listening(xml: &str) -> Result<Vec<Listening>, String> {
    let doc = roxmltree::Document::parse(xml.trim_start()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for p in doc.descendants().filter(|n| n.has_tag_name("profile")) {
        let text = |tag: &str| {
            p.children()
                .find(|c| c.has_tag_name(tag))
                .and_then(|c| c.text())
                .map(str::trim)
        };
        if text("type").is_some_and(|t| t != "profile") {
            continue;
        }
        let (Some(name), Some(data)) = (text("name"), text("data")) else {
            continue;
        };
        let (sips, rest) = match data.split_once(':') {
            Some(("sips", r)) => (true, r),
            Some(("sip", r)) => (false, r),
            _ => continue,
        };
        // mod_sofia lists a profile's TLS listener as a second profile
        // whose URL is `sip:` on the TLS port; only the state says so.
        let state = text("state").unwrap_or("");
        let tls = sips || state.ends_with("(TLS)") || state.ends_with("(WSS)");
        let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let hostport = hostport.split(';').next().unwrap_or(hostport);
        let Some((host, port)) = hostport.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse() else { continue };
        out.push(Listening {
            profile: name.to_owned(),
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
            tls,
        });
    }
    Ok(out)
}

/// The events the guard needs: media of calls and registration outcomes.
pub const EVENTS: &[&str] = &[
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CALL_UPDATE",
    "CHANNEL_HANGUP_COMPLETE",
    "CUSTOM",
    "sofia::register_failure",
    "sofia::register",
    "sofia::pre_register",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_in_any_chunking() {
        let event_body = "Event-Name: CHANNEL_ANSWER\nUnique-ID: 6f2e\nvariable_local_media_port: 21000\nvariable_remote_media_ip: 203.0.113.9\nCaller-Caller-ID-Name: J%C3%BCrgen%20M\n\n";
        let stream = format!(
            "Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK accepted\n\nContent-Length: {}\nContent-Type: text/event-plain\n\n{event_body}",
            event_body.len()
        );
        let bytes = stream.as_bytes();
        for chunk in [1, 7, 64, bytes.len()] {
            let mut buf = Vec::new();
            let mut frames = Vec::new();
            for piece in bytes.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Decoded::Frame(f, used) = decode(&buf) {
                    frames.push(f);
                    buf.drain(..used);
                }
            }
            assert_eq!(frames.len(), 3, "chunk {chunk}");
            assert_eq!(frames[0].content_type(), Some("auth/request"));
            assert!(frames[1].is_ok());
            let ev = frames[2].event().unwrap();
            let get = |k: &str| ev.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            assert_eq!(get("variable_local_media_port").as_deref(), Some("21000"));
            assert_eq!(
                get("Caller-Caller-ID-Name").as_deref(),
                Some("Jürgen M"),
                "URL-decoded"
            );
        }
    }

    #[test]
    fn garbage_and_oversize_are_malformed_not_panics() {
        assert!(matches!(
            decode(b"no colon here\n\n"),
            Decoded::Malformed(_)
        ));
        assert!(matches!(
            decode(b"Content-Length: lots\n\n"),
            Decoded::Malformed(_)
        ));
        assert!(matches!(
            decode(b"Content-Length: 99999999999\n\n"),
            Decoded::Malformed(_)
        ));
        assert!(matches!(
            decode(&vec![b'a'; MAX_HEAD + 10]),
            Decoded::Malformed(_)
        ));
        assert_eq!(decode(b"Content-Type: x"), Decoded::Incomplete);
        assert_eq!(decode(b"Content-Length: 5\n\nab"), Decoded::Incomplete);
    }

    #[test]
    fn xmlstatus_names_every_profile_binding() {
        let xml = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<profiles>\n\
            <profile><name>internal</name><type>profile</type><data>sip:mod_sofia@192.0.2.1:5060</data><state>RUNNING (0)</state></profile>\n\
            <profile><name>internal-ipv6</name><type>profile</type><data>sip:mod_sofia@[2001:db8::1]:5060</data><state>RUNNING (0)</state></profile>\n\
            <profile><name>external</name><type>profile</type><data>sips:mod_sofia@192.0.2.1:5081;transport=tls</data><state>RUNNING (0)</state></profile>\n\
            <profile><name>example.com</name><type>gateway</type><data>sip:joeuser@example.com</data><state>NOREG</state></profile>\n\
            </profiles>\n";
        let l = listening(xml).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(
            (l[0].profile.as_str(), l[0].port, l[0].tls),
            ("internal", 5060, false)
        );
        assert_eq!(l[1].host, "2001:db8::1");
        assert_eq!((l[2].port, l[2].tls), (5081, true));
        assert!(listening("<profiles><unclosed>").is_err());
    }

    #[test]
    fn xmlstatus_tls_listeners_are_marked_in_the_state_not_the_url() {
        // What FreeSWITCH 1.11 answers with internal_ssl_enable=true
        // (mod_sofia.c: the TLS entry's data is profile->tls_url, `sip:`;
        // sofia.c makes the WSS one `sips:`).
        let xml = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<profiles>\n\
            <profile>\n<name>internal</name>\n<type>profile</type>\n<data>sip:mod_sofia@192.0.2.1:5060</data>\n<state>RUNNING (0)</state>\n</profile>\n\
            <profile>\n<name>internal</name>\n<type>profile</type>\n<data>sip:mod_sofia@192.0.2.1:5061</data>\n<state>RUNNING (0) (TLS)</state>\n</profile>\n\
            <profile>\n<name>internal</name>\n<type>profile</type>\n<data>sip:mod_sofia@192.0.2.1:5066;transport=ws</data>\n<state>RUNNING (0) (WS)</state>\n</profile>\n\
            <profile>\n<name>internal</name>\n<type>profile</type>\n<data>sips:mod_sofia@192.0.2.1:7443;transport=wss</data>\n<state>RUNNING (0) (WSS)</state>\n</profile>\n\
            </profiles>\n";
        let l: Vec<(u16, bool)> = listening(xml)
            .unwrap()
            .iter()
            .map(|l| (l.port, l.tls))
            .collect();
        assert_eq!(
            l,
            [(5060, false), (5061, true), (5066, false), (7443, true)]
        );
    }

    #[test]
    fn commands_are_terminated_by_an_empty_line() {
        assert_eq!(auth(" ClueCon\n"), b"auth ClueCon\n\n");
        assert!(subscribe(EVENTS).starts_with(b"event plain CHANNEL_PROGRESS_MEDIA"));
        assert_eq!(api("sofia xmlstatus"), b"api sofia xmlstatus\n\n");
    }
}
