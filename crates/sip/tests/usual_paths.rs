//! The fast paths read what the general paths read: every message of the
//! shared test data, the fuzz seeds, and messages of the usual shape with
//! every byte in turn replaced by one that matters to some grammar. On the
//! same inputs, the lenient summary reads what the parse reads wherever
//! the parse accepts a message: the guard asks the summary only of what
//! the parse refuses, and must tell a scanner alike either way.

use sipwall_sip::testing::usual_paths_agree;
use sipwall_sip::{Message, Start, Summary};

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    // `dir` is relative to the crate, or absolute (the shared data).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(path) else {
        panic!("{dir} is missing");
    };
    entries
        .map(|e| e.expect("readable directory").path())
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("readable file"),
            )
        })
        .collect()
}

#[test]
fn the_shared_messages_and_the_seeds() {
    let Some(rfc4475) = sipwall_testdata::shared("testdata/rfc4475") else {
        return;
    };
    let mut inputs = files(rfc4475.to_str().expect("a UTF-8 path"));
    for dir in ["fuzz/seeds/message", "fuzz/seeds/framing", "fuzz/seeds/sdp"] {
        inputs.extend(files(dir));
    }
    assert!(inputs.len() > 40, "{} inputs", inputs.len());
    for (name, data) in &inputs {
        if let Err(e) = usual_paths_agree(data) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn usual_messages_with_any_byte_changed() {
    const BYTES: &[u8] = b" \t\r\n;,\"\\:<>@[]=?%0a/.\x7f\x80";
    // The `usual` fuzz target's seeds: messages of the shapes the fast
    // paths take, as the traffic mix has them.
    let usual = files("fuzz/seeds/usual");
    assert!(usual.len() >= 4, "{} usual messages", usual.len());
    for (name, m) in &usual {
        usual_paths_agree(m).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut b = m.clone();
        for at in 0..b.len() {
            let was = b[at];
            for &x in BYTES {
                b[at] = x;
                if let Err(e) = usual_paths_agree(&b) {
                    panic!("{:?}: {e}", String::from_utf8_lossy(&b));
                }
            }
            b[at] = was;
        }
    }
}

/// Where the parse accepts `data`, the summary reads it too, to the same
/// start line, Request-URI, Call-ID and fingerprint.
fn summary_agrees(data: &[u8]) -> Result<(), String> {
    let Ok(m) = Message::parse(data) else {
        return Ok(());
    };
    let s = Summary::read(data).map_err(|e| format!("the summary refuses it: {e}"))?;
    let uri = match s.start {
        Start::Request { uri, .. } => Some(uri),
        Start::Response { .. } => None,
    };
    let read = (s.method(), s.status(), uri, s.call_id, s.fingerprint());
    let parsed = (
        m.method(),
        m.status(),
        m.request_uri().map(|u| u.as_str().as_bytes()),
        m.call_id(),
        m.fingerprint(),
    );
    if read == parsed {
        Ok(())
    } else {
        Err(format!("summary {read:?}, parse {parsed:?}"))
    }
}

#[test]
fn the_summary_reads_what_the_parse_reads_where_it_accepts() {
    let Some(rfc4475) = sipwall_testdata::shared("testdata/rfc4475") else {
        return;
    };
    const BYTES: &[u8] = b" \t\r\n;,\"\\:<>@[]=?%0a/.\x7f\x80";
    for (name, m) in files(rfc4475.to_str().expect("a UTF-8 path")) {
        summary_agrees(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut seeds = files("fuzz/seeds/usual");
    seeds.extend(files("fuzz/seeds/message"));
    let mut parsed = 0;
    for (name, m) in &seeds {
        summary_agrees(m).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut b = m.clone();
        for at in 0..b.len() {
            let was = b[at];
            for &x in BYTES {
                b[at] = x;
                parsed += usize::from(Message::parse(&b).is_ok());
                if let Err(e) = summary_agrees(&b) {
                    panic!("{:?}: {e}", String::from_utf8_lossy(&b));
                }
            }
            b[at] = was;
        }
    }
    assert!(parsed > 15_000, "{parsed} inputs the parse accepts");
}
