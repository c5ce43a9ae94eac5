//! Any text as `freeswitch.xml` (which may include itself and a second
//! file): preprocessing and switch_xml.c's grammar never panic and stay
//! bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_freeswitch::{discover, Memory, Options};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut tree = Memory::new();
    tree.insert("/c/freeswitch.xml", text.to_string());
    tree.insert("/c/other.xml", text.to_string());
    if let Ok(inv) = discover(&tree, Path::new("/c"), &Options::default()) {
        std::hint::black_box(inv.services.len());
    }
    std::hint::black_box(sipwall_freeswitch::markup::parse(&text, true).is_ok());
});
