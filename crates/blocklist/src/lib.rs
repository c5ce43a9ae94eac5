//! Addresses banned elsewhere, decoded from what a remote service sent.
//!
//! Every byte here comes from the network (CrowdSec's local API, a
//! blocklist feed) and is treated as an attacker's: answers are decoded
//! into typed values ([`Entry`]) or refused whole with a typed error, with
//! a size bound checked before decoding. Nothing here does I/O: the daemon
//! fetches, this crate reads, `netfilter` writes the kernel sets.
//!
//! ```text
//!   HTTP body (bytes) ─► lapi / apiban / list ─► Vec<Entry> ─► daemon ─► kernel sets of their own
//!                                                                 │
//!                              cover: allowlist cut out, overlaps folded, diffs
//! ```

pub mod cover;
pub mod lapi;

pub use cover::without;

use ipnet::IpNet;
use std::time::Duration;

/// One address or network to drop, with how long (none: until the list
/// says otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The address (a /32 or /128) or network.
    pub net: IpNet,
    /// How long it stays banned from now, when the source says.
    pub ttl: Option<Duration>,
}

pub mod apiban;
pub mod list;
