//! sipwall-audit: findings for a ruleset that exists on a host, judged
//! against what a FreeSWITCH configuration really listens on.
//!
//! ```text
//!  sipwall_ruleset::read::Existing ─┐
//!  sipwall_freeswitch::Inventory? ──┼─► audit(&Input) ─► [Finding { id, severity, message, location }]
//!  the admin's SSH session? ────────┤      checks: one function per finding id
//!  sshd's ports (sshd::SshPorts)? ──┘
//!
//!  sipwall_freeswitch::Inventory ───► audit_configuration ─► [Finding]
//!                                     (no ruleset: the configuration alone)
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
pub mod configuration;
pub mod finding;
pub mod sshd;

pub use checks::{audit, Input};
pub use configuration::audit_configuration;
pub use finding::{Finding, Id, Severity};
pub use sshd::SshPorts;
