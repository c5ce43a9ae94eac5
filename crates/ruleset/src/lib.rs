//! sipwall-ruleset: from a [`Policy`](sipwall_policy::Policy) to what the
//! kernel loads, through one intermediate representation.
//!
//! ```text
//!   Policy ──compile──► ir::Ruleset ──nft::render──────► nft script (table inet sipwall)
//!                            │        ──iptables::render─► iptables-restore / ip6tables-restore
//!                            └─eval::evaluate(chain, packet, sets) ─► Decision (verdict + rule)
//!   Policy ──modprobe::render──► modprobe.d options for the conntrack helpers
//!   Policy ──intake::nft / intake::iptables──► the daemon's intake (log / queue rules)
//! ```
//!
//! Every [`ir::Rule`] carries a comment naming the policy entry it comes
//! from, and the renderers print it, escaped by [`text`]: no policy text
//! can write syntax into the ruleset. The crate does no I/O: it returns text.

pub mod compile;
pub mod error;
pub mod eval;
pub mod intake;
pub mod iptables;
pub mod ir;
pub mod modprobe;
pub mod nft;
pub mod read;
pub mod roundtrip;
pub mod text;

pub use compile::{compile, sets};
pub use error::CompileError;
pub use ir::{Family, Ruleset, TABLE};

#[cfg(test)]
mod tests;
