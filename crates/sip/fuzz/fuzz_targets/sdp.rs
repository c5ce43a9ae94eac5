//! Any bytes as an SDP body (and as a multipart body holding one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_sip::{multipart, Sdp};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Sdp::parse(data) {
        let mut n = s.connection().is_some() as usize + s.direction().is_some() as usize;
        n += s.origin().map_or(0, <[u8]>::len) + s.session_name().map_or(0, <[u8]>::len);
        for m in s.media() {
            n += m.port as usize + m.formats.len() + m.rtcp.map_or(0, |r| r.port as usize);
            n += m.connection.is_some() as usize;
        }
        std::hint::black_box(n);
    }
    if let Ok(parts) = multipart::parts(data, b"boundary1") {
        for p in parts {
            let _ = std::hint::black_box(p.content_type());
            let _ = std::hint::black_box(Sdp::parse(p.body));
        }
    }
});
