//! Keyed hashing of network input. Call-IDs, tags, nonces, addresses and
//! flow keys are chosen by whoever sends the packet; with an unkeyed hash
//! (FxHash) an attacker can precompute keys that collide, turning each
//! table lookup into a walk of a chain, or make two Call-IDs share one
//! digest.
//!
//! - Every map keyed by network input is a [`Map`]: foldhash with random
//!   seeds (per process and per map), as the `lru` tables already are
//!   (hashbrown's default). SipHash there cost 42% more instructions per
//!   replayed packet (the flow table is looked up twice per packet),
//!   foldhash 9% (docs/performance.md). Its seeds are never visible to a
//!   sender; a collision attack has to recover them from timing first.
//! - Every digest of network bytes that stands for an identity (a
//!   dialog's Call-ID, a transaction, a nonce, a tag) comes from
//!   [`digest`]: 64 bits of SipHash under a random per-process key, so
//!   two Call-IDs can be made to share a call only by chance (2^-64).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

/// A map whose keys come from the network: keyed, randomly seeded hashing.
pub type Map<K, V> = HashMap<K, V, foldhash::quality::RandomState>;

/// The process's SipHash key for [`digest`], drawn once (so digests agree across the
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
