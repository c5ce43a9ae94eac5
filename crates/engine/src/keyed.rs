//! Keyed hashing of network input. Call-IDs, tags, nonces, addresses and
//! flow keys are chosen by whoever sends the packet; with an unkeyed hash
//! (FxHash) an attacker can precompute keys that collide, turning each
//! table lookup into a walk of a chain, or make two Call-IDs share one
//! digest. Every map keyed by network input uses [`Map`] (std's SipHash
//! with a random key per process), and every digest of network bytes
//! used as a key comes from [`digest`].

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

/// A map whose keys come from the network: keyed, randomly seeded hashing.
pub type Map<K, V> = HashMap<K, V, RandomState>;

/// The process's hashing key, drawn once (so digests agree across the
/// engine's tables for the life of the process, and differ between runs).
fn key() -> &'static RandomState {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    KEY.get_or_init(RandomState::new)
}

/// A keyed 64-bit digest of `parts` in namespace `ns` (parts are
/// length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ).
pub fn digest(ns: u8, parts: &[&[u8]]) -> u64 {
    let mut h = key().build_hasher();
    h.write_u8(ns);
    for p in parts {
        h.write_usize(p.len());
        h.write(p);
    }
    h.finish()
}

/// An address as 17 bytes (family, then the 16 bytes of its IPv6 or
/// IPv4-mapped form): keys hash their addresses through this in one
/// `write`, since SipHash pays per call and the derived `Hash` of an
/// `IpAddr` is several.
pub fn addr_bytes(addr: std::net::IpAddr) -> [u8; 17] {
    let mut out = [0; 17];
    match addr {
        std::net::IpAddr::V4(a) => out[1..].copy_from_slice(&a.to_ipv6_mapped().octets()),
        std::net::IpAddr::V6(a) => {
            out[0] = 6;
            out[1..].copy_from_slice(&a.octets());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn digests_are_stable_within_a_process_and_separate_parts_and_namespaces() {
        assert_eq!(digest(b'd', &[b"call"]), digest(b'd', &[b"call"]));
        assert_ne!(digest(b'd', &[b"call"]), digest(b'c', &[b"call"]));
        assert_ne!(digest(b'a', &[b"ab", b"c"]), digest(b'a', &[b"a", b"bc"]));
    }
}
