//! Any bytes through every fast path and the general path it stands in
//! for: where a fast path reads a value, the general path reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = sipwall_sip::testing::usual_paths_agree(data) {
        panic!("{e}");
    }
});
