//! Any bytes as a blocklist: decoded, and what decodes is encoded and
//! read back to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_blocklist::list::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 16,
        max_entries: 1024,
    };
    let whole = list::decode_download(data, &limits);
    if let Ok(entries) = list::decode(data, &limits) {
        if let Ok(w) = &whole {
            assert_eq!(w, &entries);
        }
        let text = list::encode(&["fuzz"], &entries);
        let back = list::decode_download(text.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(back, entries);
    }
});
