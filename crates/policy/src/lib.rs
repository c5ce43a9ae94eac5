//! sipwall-policy: what a host's firewall should allow, as the admin writes it.
//!
//! A policy is a TOML file (see `docs/policy.md`). Reading one goes through
//! two stages, kept apart so that every error can point at the file:
//!
//! ```text
//!   TOML text ──decode──► raw::RawPolicy ──validate──► Policy
//!          (spans kept; unknown keys     (zones, catalog kinds, defaults,
//!           and wrong types reported      contradictions)
//!           and dropped, all of them)
//! ```
//!
//! Both stages collect every problem as a [`Diagnostic`] (with a
//! `did you mean` [`Diagnostic::help`] where a name is near a known one),
//! so one run shows all that is wrong with a file.
//!
//! [`Policy`] holds [`Zone`]s (named prefix sets, with the built-in `any` and
//! `loopback`), [`Service`]s (a [`Kind`] from the [`catalog`] plus ports,
//! protocols and allowed zones), the [`Media`] mode and the knobs for
//! helpers, DSCP, logging and bans. Each entry remembers its [`Origin`] so
//! that compiled rules can say where they come from.
//!
//! Trust: the input is a local file written by the admin; it is still never
//! trusted to be well-formed, and no input makes this crate panic.

pub mod builtin;
pub mod catalog;
mod decode;
pub mod error;
pub mod name;
mod policy;
pub mod port;
pub mod raw;
pub mod suggest;
mod validate;
pub mod warning;

pub use builtin::builtin;
pub use catalog::Kind;
pub use error::{Diagnostic, ErrorKind, Location, PolicyError};
pub use policy::*;
pub use port::{PortRange, Protocol};
pub use validate::parse;
pub use warning::{warnings, Warning};

#[cfg(test)]
mod tests;
