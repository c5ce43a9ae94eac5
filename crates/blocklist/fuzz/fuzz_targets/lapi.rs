//! Any bytes as a LAPI answer: the decision stream, a login, alert ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_blocklist::lapi;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = lapi::Stream::decode(data) {
        for d in s.new.iter().chain(&s.deleted) {
            // What the daemon does with a decoded decision must hold too.
            assert!(d.ttl <= lapi::MAX_TTL);
            assert_eq!(d.net, d.net.trunc(), "host bits are cleared");
            std::hint::black_box((d.entry(), d.provenance()));
        }
    }
    if let Ok(t) = lapi::decode_login(data) {
        assert!(!t.0.is_empty() && t.0.bytes().all(|b| b.is_ascii_graphic()));
    }
    let _ = std::hint::black_box(lapi::decode_alert_ids(data));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = std::hint::black_box(lapi::go_duration(text));
    }
});
