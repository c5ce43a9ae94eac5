//! Any bytes as APIBAN answers: the first two bytes pick the status, the
//! rest is split on NUL into the pages of one refresh.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_blocklist::apiban::{self, Limits, Refresh, Step};

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = match head[0] % 6 {
        0 | 1 | 2 => 200,
        3 => 400,
        4 => 429,
        _ => 100 + u16::from(head[1]) * 2,
    };
    let limits = Limits {
        max_pages: 8,
        max_entries: 64,
        max_waits: 2,
        ..Limits::default()
    };
    if let Ok(p) = apiban::decode_page(status, body, &limits) {
        assert!(p.next.as_deref().is_none_or(|id| id.bytes().all(|b| b.is_ascii_digit())));
    }
    let _ = apiban::retry_after(&String::from_utf8_lossy(body));
    let mut r = Refresh::new(limits);
    for page in body.split(|&b| b == 0) {
        let status = if page.first() == Some(&b'!') { 429 } else { status };
        match r.answer(status, page, apiban::retry_after("3")) {
            Ok(Step::Ask | Step::Wait(_)) => {}
            Ok(Step::Done(entries)) => {
                assert!(!entries.is_empty() && entries.len() <= 64);
                break;
            }
            Err(_) => break,
        }
    }
});
