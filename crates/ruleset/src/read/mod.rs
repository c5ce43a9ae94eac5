//! Reading rulesets that already exist on a host, for the audit: the
//! output of `iptables-save` / `ip6tables-save`, `nft list ruleset` and
//! `nft -j list ruleset`.
//!
//! # How the parts fit
//!
//! ```text
//!  text ──detect──► Format
//!   │
//!   ├─ iptables_save::parse ─┐
//!   ├─ nft_text::parse ──────┼─► [ExistingChain] ──link──► Existing { chains, covers }
//!   └─ nft_json::parse ──────┘     rules of Cond + Step     base chains with jumps inlined
//!                                                            │
//!        verdict::Existing::reach(hook, packet) ◄────────────┘
//!          three-valued: Accepted / Denied / Maybe, through eval::evaluate
//! ```
//!
//! A rule's conditions are sipwall's own [`ir::Match`](crate::ir::Match)
//! wherever the IR can say it, so the same [`eval`](crate::eval) decides
//! both sipwall's rules and foreign ones; what the IR cannot say (a `NEW`
//! conntrack state, an interface other than `lo`, a negation, an unknown
//! extension) is a [`Cond`] of its own.
//!
//! Trust contract: the input is an administrator's dump or the kernel's
//! own listing, never network data, but it may be truncated, hand-edited
//! or from a newer tool. Readers never panic: malformed text is a
//! [`ReadError`] with the line (and column), and constructs they do not
//! know become [`Cond::Opaque`] or [`Step::Opaque`], which every question
//! answers with "maybe" rather than a guess.

pub mod error;
pub mod existing;
pub mod exposure;
pub mod iptables_save;
pub mod link;
mod literal;
mod nft_expr;
pub mod nft_json;
pub mod nft_text;
mod statement;
pub mod verdict;

pub use error::ReadError;
pub use existing::{
    Cond, Covers, CtSet, Existing, ExistingChain, ExistingRule, HookPoint, L4Proto, Location,
    SetInfo, Step, TableFamily,
};
pub use verdict::Reach;

/// The kind of text a ruleset dump is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `iptables-save` or `ip6tables-save` output.
    IptablesSave,
    /// `nft list ruleset`.
    NftText,
    /// `nft -j list ruleset` (JSON schema 1).
    NftJson,
}

/// Guesses the format from the content: a leading `{` is nft JSON, a
/// `table` statement is nft text, `*table` or `-A` lines are iptables-save.
pub fn detect(text: &str) -> Option<Format> {
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('{') {
            return Some(Format::NftJson);
        }
        if line.starts_with("table ") || line.starts_with("table\t") {
            return Some(Format::NftText);
        }
        if line.starts_with('*')
            || line.starts_with("-A ")
            || line.starts_with("-I ")
            || line.starts_with(':')
        {
            return Some(Format::IptablesSave);
        }
        return None;
    }
    None
}

/// Reads a dump of any known format, named `source` in locations.
pub fn read(source: &str, text: &str) -> Result<Existing, ReadError> {
    match detect(text) {
        Some(Format::IptablesSave) => iptables_save::parse(source, text),
        Some(Format::NftText) => nft_text::parse(source, text),
        Some(Format::NftJson) => nft_json::parse(source, text),
        None => Err(ReadError::UnknownFormat),
    }
}
