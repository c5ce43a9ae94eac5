//! sipwall-netfilter: the only crate that touches the kernel.
//!
//! ```text
//!   nft::Nftables (trait; nft::NftCli runs `nft` in the current netns)
//!        ▲
//!   firewall::Firewall ── replace(Table): nft -c, then one transaction that
//!        │                 recreates `table inet sipwall` around the daemon's
//!        │                 sets (kept in place when their declaration is
//!        │                 unchanged, else re-added: elements::carry_over)
//!   confirm::StateDir ──── the apply --confirm protocol: a lock, the previous ruleset,
//!                          pending / confirmed / rolled-back markers
//!   nflog::NflogReader ─── copies of packets from `log group` rules (the tap)
//!   queue::PacketQueue ─── packets held for a verdict (inline, fail-open),
//!                          and what the kernel's queues dropped
//!   sets::SetWriter ────── set elements (bans, pinholes) through netlink
//!                          batches, with timeouts
//!   trust ──────────────── which directories root may write into, and how
//!                          (O_NOFOLLOW reads, O_EXCL temp files renamed over)
//!   hooks ──────────────── other tables' base chains on the input hook: a
//!                          packet must pass each of them as well as sipwall's
//!   iptables::Iptables ─── (trait; IptablesCli runs iptables/ip6tables) chains
//!                          of our own entered by one jump (the intake's fallback)
//! ```
//!
//! Trust: `nft`'s output is parsed defensively (`elements::parse` returns an
//! error, never panics); scripts come from `sipwall-ruleset`.

pub mod confirm;
pub mod elements;
pub mod error;
pub mod firewall;
pub mod hooks;
pub mod iptables;
pub mod nflog;
pub mod nft;
pub mod queue;
pub mod sets;
pub mod trust;

pub use confirm::StateDir;
pub use error::NetfilterError;
pub use firewall::{Firewall, Replaced, Table};
pub use iptables::{Iptables, IptablesCli};
pub use nflog::{Logged, NflogReader};
pub use nft::{NftCli, Nftables};
pub use queue::{PacketQueue, Queued};
pub use sets::{Addition, Key, SetWriter};
