//! Things worth telling that do not stop discovery, each with where it is.

use crate::provenance::Location;
use serde::Serialize;
use std::fmt;

/// What kind of thing a [`Warning`] reports; stable names for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WarningKind {
    /// An `include` matched no file (FreeSWITCH logs it and goes on).
    MissingInclude,
    /// An included file could not be read.
    UnreadableInclude,
    /// A file includes itself, directly or not; sipwall includes it once.
    IncludeLoop,
    /// Includes nest deeper than FreeSWITCH's limit of 100.
    RecursionLimit,
    /// A `$${` without its `}`.
    UnterminatedVariable,
    /// `exec`, `exec-set` or `stun-set`: not run at discovery.
    NotExecuted,
    /// `env-set` names an environment variable that is not set.
    MissingEnvironment,
    /// A preprocessor command FreeSWITCH does not know (it ignores it).
    UnknownCommand,
    /// A setting whose value FreeSWITCH cannot use, or reads otherwise than it looks (`sip-port="abc"` is 5060).
    BadValue,
    /// A setting depends on a value only known when FreeSWITCH runs.
    UnknownValue,
    /// Something listens that discovery cannot fully describe from files.
    Dynamic,
}

/// A non-fatal finding about the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Its kind.
    pub kind: WarningKind,
    /// Where.
    #[serde(flatten)]
    pub at: Location,
    /// For people.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}
