//! The generated traffic mix the parsing benchmarks read: 20% INVITE+SDP,
//! 20% 200 OK+SDP, 40% REGISTER with Digest, 20% scanner OPTIONS; about
//! 560 bytes a message, documentation addresses only, every message valid.

use sipwall_sip::{Message, Summary};

/// A small deterministic generator, so every run measures the same bytes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

fn sdp(r: &mut Lcg, ip: &str) -> String {
    let port = 16384 + (r.next() % 16000) * 2;
    format!(
        "v=0\r\no=FreeSWITCH 1718{0} 1718{1} IN IP4 {ip}\r\ns=FreeSWITCH\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        r.next() % 100000,
        r.next() % 100000
    )
}

fn invite(r: &mut Lcg) -> String {
    let ip = format!("198.51.100.{}", 1 + r.next() % 250);
    let body = sdp(r, &ip);
    format!(
        "INVITE sip:{ext}@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:5060;rport;branch=z9hG4bK{b:x}\r\n\
         Max-Forwards: 70\r\nFrom: \"{ext2}\" <sip:{ext2}@192.0.2.2>;tag={t:x}\r\nTo: <sip:{ext}@192.0.2.2>\r\n\
         Call-ID: {c:x}@{ip}\r\nCSeq: {n} INVITE\r\nContact: <sip:{ext2}@{ip}:5060>\r\n\
         User-Agent: Ph/1.{n}\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, UPDATE\r\n\
         Supported: timer, replaces\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{body}",
        ext = 1000 + r.next() % 100,
        ext2 = 1000 + r.next() % 100,
        b = r.next(),
        t = r.next(),
        c = r.next(),
        n = 1 + r.next() % 50,
        len = body.len()
    )
}

fn ok(r: &mut Lcg) -> String {
    let body = sdp(r, "192.0.2.2");
    format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.{h}:5060;rport=5060;branch=z9hG4bK{b:x};received=198.51.100.{h}\r\n\
         From: <sip:{ext}@192.0.2.2>;tag={t:x}\r\nTo: <sip:{ext2}@192.0.2.2>;tag={t2:x}\r\nCall-ID: {c:x}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:{ext2}@192.0.2.2:5060;transport=udp>\r\n\
         Server: FreeSWITCH-mod_sofia/1.10.9\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, UPDATE\r\n\
         Supported: timer, path, replaces\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{body}",
        h = 1 + r.next() % 250,
        ext = 1000 + r.next() % 100,
        ext2 = 1000 + r.next() % 100,
        b = r.next(),
        t = r.next(),
        t2 = r.next(),
        c = r.next(),
        len = body.len()
    )
}

fn register(r: &mut Lcg) -> String {
    let ext = 1000 + r.next() % 100;
    let ip = format!("203.0.113.{}", 1 + r.next() % 250);
    format!(
        "REGISTER sip:192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:5060;branch=z9hG4bK{b:x};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{ext}@192.0.2.2>;tag={t:x}\r\nTo: <sip:{ext}@192.0.2.2>\r\n\
         Call-ID: {c:x}\r\nCSeq: {n} REGISTER\r\nContact: <sip:{ext}@{ip}:5060>;expires=3600\r\n\
         Authorization: Digest username=\"{ext}\",realm=\"192.0.2.2\",nonce=\"{nonce:x}\",uri=\"sip:192.0.2.2\",\
         response=\"{resp:x}{resp:x}\",algorithm=MD5\r\nUser-Agent: Zoiper 5\r\n\
         Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE\r\nContent-Length: 0\r\n\r\n",
        b = r.next(),
        t = r.next(),
        c = r.next(),
        n = 1 + r.next() % 50,
        nonce = r.next(),
        resp = r.next()
    )
}

fn scanner(r: &mut Lcg) -> String {
    format!(
        "OPTIONS sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{b};rport\r\n\
         Max-Forwards: 70\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>\r\n\
         From: \"sipvicious\"<sip:100@1.1.1.1>;tag=6330303030323032313363340138333132{d:08}\r\n\
         User-Agent: friendly-scanner\r\nCall-ID: {c}\r\nContact: sip:100@192.0.2.1:5060\r\n\
         CSeq: 1 OPTIONS\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n",
        b = r.next(),
        d = r.next() % 100_000_000,
        c = r.next()
    )
}

/// The kinds of message in the mix, as [`corpus_of`] names them.
#[allow(dead_code)] // criterion's bench reads the whole mix only
pub const KINDS: [&str; 4] = ["invite", "ok", "register", "scanner"];

/// The kind of the mix's `i`th message (an index into [`KINDS`]).
fn kind(i: usize) -> usize {
    match i % 10 {
        0 | 1 => 0,
        2 | 3 => 1,
        4..=7 => 2,
        _ => 3,
    }
}

/// The mix: 1000 messages, the same bytes on every run.
pub fn corpus() -> Vec<Vec<u8>> {
    let mut r = Lcg(0x5157_3a11);
    (0..1000)
        .map(|i| {
            let m = match kind(i) {
                0 => invite(&mut r),
                1 => ok(&mut r),
                2 => register(&mut r),
                _ => scanner(&mut r),
            };
            m.into_bytes()
        })
        .collect()
}

/// The messages of the mix of one kind of [`KINDS`], the same bytes as
/// in [`corpus`]; `None` for a name not in [`KINDS`].
#[allow(dead_code)]
pub fn corpus_of(name: &str) -> Option<Vec<Vec<u8>>> {
    let wanted = KINDS.iter().position(|&k| k == name)?;
    let all = corpus().into_iter().enumerate();
    Some(
        all.filter(|&(i, _)| kind(i) == wanted)
            .map(|(_, m)| m)
            .collect(),
    )
}

/// The full parse, then every typed accessor a firewall reads.
pub fn full(b: &[u8]) -> usize {
    let m = Message::parse(b).expect("generated messages are valid");
    let mut n = m.method().map_or(0, |m| m.as_str().len()) + usize::from(m.status().unwrap_or(0));
    n += m.call_id().map_or(0, <[u8]>::len);
    n += m.cseq().map_or(0, |c| c.number as usize);
    n += m.from().and_then(|f| f.tag()).map_or(0, <[u8]>::len);
    n += m.to().map_or(0, |t| t.uri().as_str().len());
    n += m
        .vias()
        .map(|v| v.port().unwrap_or(0) as usize + v.branch().map_or(0, <[u8]>::len))
        .sum::<usize>();
    n += m
        .contacts()
        .map(|c| c.expires().unwrap_or(0) as usize)
        .sum::<usize>();
    n += m.user_agent().or(m.server()).map_or(0, <[u8]>::len);
    n += m
        .authorization()
        .and_then(|a| a.username())
        .map_or(0, <[u8]>::len);
    n += m.content_length().unwrap_or(0) as usize;
    if let Some(s) = m.sdp() {
        n += s.media().map(|md| md.port as usize).sum::<usize>();
    }
    n + m.fingerprint().is_scanner() as usize
}

/// The lenient summary the engine reads of a message the parse refuses:
/// start line, User-Agent, From tag, SDP c=/m=.
pub fn summary(b: &[u8]) -> usize {
    let s = Summary::read(b).expect("generated messages are valid");
    let mut n = s.method().map_or(0, |m| m.as_str().len()) + usize::from(s.status().unwrap_or(0));
    n += s.user_agent.map_or(0, <[u8]>::len);
    n += s.from_tag().map_or(0, <[u8]>::len);
    if let Some(sdp) = s.sdp() {
        n += sdp.connection().is_some() as usize;
        n += sdp.media().map(|md| md.port as usize).sum::<usize>();
    }
    n
}

/// rsip 0.4 on the same bytes, reading what [`full`] reads that rsip can
/// read (its typed headers; rsip has no SDP reader): the like-for-like
/// counterpart of [`full`].
pub fn rsip_typed(b: &[u8]) -> usize {
    use rsip::prelude::*;
    let Ok(m) = rsip::SipMessage::try_from(b) else {
        return 0;
    };
    let mut n = match &m {
        rsip::SipMessage::Request(r) => r.method.to_string().len(),
        rsip::SipMessage::Response(r) => usize::from(r.status_code.code()),
    };
    n += m.call_id_header().map_or(0, |c| c.value().len());
    n += m
        .cseq_header()
        .ok()
        .and_then(|c| c.typed().ok())
        .map_or(0, |c| c.seq as usize);
    n += m
        .from_header()
        .ok()
        .and_then(|f| f.typed().ok())
        .and_then(|f| f.tag().map(|t| t.value().len()))
        .unwrap_or(0);
    n += m
        .to_header()
        .ok()
        .and_then(|t| t.typed().ok())
        .map_or(0, |t| t.uri.to_string().len());
    n += m
        .via_header()
        .ok()
        .and_then(|v| v.typed().ok())
        .map_or(0, |v| {
            v.uri
                .host_with_port
                .port
                .map_or(0, |p| usize::from(*p.value()))
                + v.branch().map_or(0, |b| b.value().len())
        });
    n += m
        .contact_header()
        .ok()
        .and_then(|c| c.typed().ok())
        .and_then(|c| c.expires().and_then(|e| e.seconds().ok()))
        .unwrap_or(0) as usize;
    n += m.user_agent_header().map(|u| u.value().len()).unwrap_or(0);
    n += m
        .authorization_header()
        .and_then(|a| a.typed().ok())
        .map_or(0, |a| a.username.len());
    let length = m.headers().iter().find_map(|h| match h {
        rsip::Header::ContentLength(c) => c.length().ok(),
        _ => None,
    });
    n + length.unwrap_or(0) as usize
}

/// rsip 0.4 on the same bytes: its parse, then its header count.
pub fn rsip_parse(b: &[u8]) -> usize {
    match rsip::SipMessage::try_from(b) {
        Ok(m) => rsip::message::HasHeaders::headers(&m).iter().count(),
        Err(_) => 0,
    }
}
