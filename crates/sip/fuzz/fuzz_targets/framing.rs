//! Any bytes as a stream: frames must stay inside the buffer, make
//! progress, and agree with the message parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwall_sip::framing::{frames, Frame};
use sipwall_sip::Message;

fuzz_target!(|data: &[u8]| {
    let mut it = frames(data);
    let mut last_end = 0;
    for (at, f) in it.by_ref() {
        assert_eq!(at, last_end);
        match f {
            Frame::Complete(n) => {
                assert!(n > 0 && at + n <= data.len());
                let _ = std::hint::black_box(Message::parse(&data[at..at + n]));
                last_end = at + n;
            }
            Frame::KeepAlive(n) => {
                assert!(n > 0 && at + n <= data.len());
                assert!(data[at..at + n].iter().all(|&b| b == b'\r' || b == b'\n'));
                last_end = at + n;
            }
            Frame::Incomplete => {}
            Frame::Malformed(e) => assert!(!e.to_string().is_empty()),
        }
    }
    assert_eq!(it.consumed(), last_end);
});
