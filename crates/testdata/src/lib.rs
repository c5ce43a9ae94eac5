//! sipwall-testdata: the test data every crate's tests share, `../shared`
//! beside the clone (FreeSWITCH trees, RFC 4475 torture messages, captures,
//! the seed recipe), and the one rule for when it is not there.
//!
//! ```text
//!   test ──shared("testdata/pcap/x.pcap")──► Some(path)   it is there
//!                                        └─► None         absent: the test
//!                                                         prints why and passes
//!                                            panic        absent under CI=true
//! ```
//!
//! A fresh clone elsewhere has no `../shared`; its tests skip with the
//! reason on stderr rather than fail on a missing file. CI always has it,
//! so under `CI=true` absence is a failure, never a silent skip.
//!
//! ```no_run
//! let Some(vanilla) = sipwall_testdata::shared("testdata/freeswitch/vanilla") else {
//!     return;
//! };
//! assert!(vanilla.join("freeswitch.xml").is_file());
//! ```

use std::path::{Path, PathBuf};

/// Where `../shared` is expected: beside the workspace's directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// `../shared/<rel>` when it exists; `None` (with the reason printed) when
/// it does not. Panics under `CI=true`, where the data must be present.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let path = root().join(rel);
    if path.exists() {
        return Some(path);
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: ../shared/{rel} is missing under CI=true"
    );
    eprintln!("{test}: skipped: ../shared/{rel} is not beside this clone");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_there_is_found() {
        // The crate's own manifest stands in for shared data that exists.
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert!(here.is_file());
        if root().exists() {
            assert!(shared("").is_some());
        }
    }

    #[test]
    fn a_missing_file_is_skipped_outside_ci_and_fails_under_it() {
        let rel = "no/such/file/anywhere";
        let ci = std::env::var("CI").as_deref() == Ok("true");
        let got = std::panic::catch_unwind(|| shared(rel));
        if ci {
            assert!(got.is_err(), "absent data must fail under CI=true");
        } else {
            assert_eq!(got.ok(), Some(None));
        }
    }
}
