//! sipwall-audit: findings for a ruleset that exists on a host, judged
//! against what a FreeSWITCH configuration really listens on.
//!
//! ```text
//!  sipwall_ruleset::read::Existing ─┐
//!  sipwall_freeswitch::Inventory? ──┼─► audit(&Input) ─► [Finding { id, severity, message, location }]
//!  the admin's SSH session? ────────┘      checks: one function per finding id
//! ```
//!
//! The checks ask the ruleset about probe packets (a NEW connection from a
//! documentation address to a port) and get three-valued answers
//! ([`Reach`](sipwall_ruleset::read::Reach)); a finding is raised only on
//! a sure answer, except where "maybe" is itself the risk (ESL, SSH).
//! Findings that need the configuration are skipped without one.
//!
//! Trust contract: both inputs come from the administrator's machine and
//! are already parsed; the audit does no I/O and never panics.

pub mod checks;
pub mod finding;

pub use checks::{audit, Input};
pub use finding::{Finding, Id, Severity};
