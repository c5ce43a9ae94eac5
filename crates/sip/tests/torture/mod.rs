//! The RFC 4475 torture messages, read in place from the shared test data
//! (the integration tests that read them share this module).

use std::path::{Path, PathBuf};

/// `../shared/testdata/rfc4475`, or `None` (the reason printed) where
/// `../shared` is absent.
pub fn dir() -> Option<PathBuf> {
    sipwall_testdata::shared("testdata/rfc4475")
}

/// The bytes of `<name>.dat` in `dir`.
pub fn load(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(format!("{name}.dat"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// §3.1.1, §3.2, §3.4, and the §3.3 messages that are not flagged.
pub const VALID: &[&str] = &[
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",  // 3.1.1
    "badbranch", // 3.2
    "unkscm",
    "novelsc",
    "unksm2",
    "bext01",
    "invut",
    "regaut01",
    "bcast",
    "zeromf",
    "cparam01",
    "cparam02",
    "regescrt",
    "sdp01",   // 3.3
    "inv2543", // 3.4
];
