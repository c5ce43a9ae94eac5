//! The fast paths read what the general paths read: every message of the
//! shared test data, the fuzz seeds, and messages of the usual shape with
//! every byte in turn replaced by one that matters to some grammar.

use sipwall_sip::testing::usual_paths_agree;

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    let Ok(entries) = std::fs::read_dir(format!("{root}{dir}")) else {
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
    let mut inputs = files("../../../shared/testdata/rfc4475");
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
