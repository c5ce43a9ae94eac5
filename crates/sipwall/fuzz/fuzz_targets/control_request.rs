//! Any bytes as a control-socket request line: the parser never panics,
//! never accepts a line past MAX_REQUEST or a length past MAX_BAN, and
//! what it accepts reads back the same once written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_control::{parse_request, Request, MAX_BAN, MAX_REQUEST};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = parse_request(data) else { return };
    assert!(data.len() <= MAX_REQUEST);
    let max = MAX_BAN.as_secs();
    match &req {
        Request::Ban { seconds, .. } => assert!(seconds.map_or(true, |s| s <= max)),
        Request::Unban { allow_seconds, .. } => assert!(allow_seconds.map_or(true, |s| s <= max)),
        _ => {}
    }
    let again = serde_json::to_vec(&req).expect("a request serializes");
    assert_eq!(parse_request(&again).as_ref(), Ok(&req));
});
