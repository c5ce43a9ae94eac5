//! Any bytes as a datagram: parse, then every accessor must hold the
//! validation contract (no panic after a successful parse).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_sip::{Message, Summary};

fn touch(m: &Message<'_>) -> usize {
    let mut n = m.headers().len() + m.body().len() + m.trailing().len();
    n += m.method().map_or(0, |x| x.as_str().len());
    n += m
        .request_uri()
        .map_or(0, |u| u.as_str().len() + u.param("lr").map_or(0, str::len));
    n += usize::from(m.status().unwrap_or(0));
    n += m.call_id().map_or(0, <[u8]>::len);
    n += m.cseq().map_or(0, |c| c.number as usize);
    for a in [m.from(), m.to()].into_iter().flatten() {
        n += a.tag().map_or(0, <[u8]>::len) + a.display_name().map_or(0, <[u8]>::len);
        n += a.params().iter().count();
    }
    for v in m.vias() {
        n += v.branch().map_or(0, <[u8]>::len);
        n += v.received().is_some() as usize + v.rport().is_some() as usize;
        n += v.host().to_string().len();
    }
    n += m
        .contacts()
        .map(|c| c.expires().unwrap_or(0) as usize)
        .sum::<usize>();
    n += m.routes().count() + m.record_routes().count();
    n += m.expires().unwrap_or(0) as usize + usize::from(m.max_forwards().unwrap_or(0));
    for a in [
        m.authorization(),
        m.proxy_authorization(),
        m.www_authenticate(),
        m.proxy_authenticate(),
    ]
    .into_iter()
    .flatten()
    {
        n += a.username().map_or(0, <[u8]>::len) + a.realm().map_or(0, <[u8]>::len);
    }
    n += m.content_type().map_or(0, |c| c.subtype().len());
    n += m.content_length().unwrap_or(0) as usize;
    if let Some(s) = m.sdp() {
        n += s.media().map(|md| md.port as usize).sum::<usize>();
    }
    n += m.flags().iter().count();
    n + m.fingerprint().is_scanner() as usize
}

fuzz_target!(|data: &[u8]| {
    match Message::parse(data) {
        Ok(m) => {
            assert!(m.as_bytes().len() + m.trailing().len() == data.len());
            std::hint::black_box(touch(&m));
        }
        Err(e) => {
            // Every error but Incomplete points inside the message.
            if let Some(off) = e.offset() {
                assert!(off as usize <= data.len(), "{e}");
            }
            assert!(!e.to_string().is_empty());
        }
    }
    // The summary, read of what the parse refuses, must read what the
    // parse reads where both read.
    let summary = Summary::read(data);
    if let Ok(s) = &summary {
        let n = s.from_tag().map_or(0, <[u8]>::len) + s.sdp().map_or(0, |x| x.media().count());
        std::hint::black_box(n + s.fingerprint().is_scanner() as usize);
    }
    if let Ok(m) = Message::parse(data) {
        if m.flags().is_empty() {
            let s = summary.expect("a clean message has a summary");
            assert_eq!(s.method(), m.method());
            assert_eq!(s.status(), m.status());
            assert_eq!(s.from_tag(), m.from_tag());
            assert_eq!(s.fingerprint(), m.fingerprint());
            assert_eq!(s.user_agent, m.user_agent());
            assert_eq!(s.body, m.body());
        }
    }
});
