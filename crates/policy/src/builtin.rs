//! The built-in default policy, for a vanilla FreeSWITCH.

use crate::policy::Policy;

/// The name the built-in policy has in messages and rule comments.
pub const BUILTIN_NAME: &str = "<built-in>";

/// The built-in policy's TOML text.
pub const BUILTIN_TOML: &str = include_str!("default.toml");

/// The built-in policy, resolved.
pub fn builtin() -> Policy {
    crate::parse(BUILTIN_NAME, BUILTIN_TOML).expect("the built-in policy is valid (tested)")
}
