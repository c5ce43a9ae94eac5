//! Where a value comes from: the file and line it was written on, and the
//! preprocessor variables it went through.

use serde::Serialize;
use std::fmt;

/// A line in one of the original configuration files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// The file, relative to the configuration folder when it lies inside it.
    pub file: String,
    /// The line, 1-based.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// How a preprocessor variable got its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetBy {
    /// `<X-PRE-PROCESS cmd="set">` or `<!--#set-->`.
    Set,
    /// `cmd="env-set"`: copied from FreeSWITCH's environment.
    EnvSet,
    /// `cmd="exec-set"`: a shell command's output (never run by sipwall).
    ExecSet,
    /// `cmd="stun-set"`: the answer of a STUN server (never asked by sipwall).
    StunSet,
    /// Set by FreeSWITCH itself at start-up (`local_ip_v4`, `hostname`, ...).
    Builtin,
    /// Given on sipwall's command line with `--var NAME=VALUE`.
    CommandLine,
}

/// Why a variable's value cannot be known without running FreeSWITCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unknown {
    /// The value is a shell command's output.
    ExecSet,
    /// The value is a STUN server's answer.
    StunSet,
    /// The value comes from an environment variable that is not set here.
    EnvSet,
    /// The variable is set nowhere; FreeSWITCH expands it to nothing.
    Undefined,
}

/// One `$${name}` expansion that a value went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariableUse {
    /// The variable's name.
    pub name: String,
    /// How it got its value.
    pub set_by: Option<SetBy>,
    /// Where it was set, when that was in a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_at: Option<Location>,
    /// Set when its value is unknown at discovery (it then expands to nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_because: Option<Unknown>,
}

/// Where one setting that shaped a service comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The setting, e.g. `sip-port` or `bind-local`.
    pub setting: String,
    /// The line holding the setting, or the element whose default applies.
    #[serde(flatten)]
    pub at: Location,
    /// The value after preprocessing; `None` when FreeSWITCH's default applies.
    pub value: Option<String>,
    /// True when the setting is absent or empty and FreeSWITCH's default is used.
    pub default: bool,
    /// The `$${variables}` expanded into the value, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<VariableUse>,
}

impl Provenance {
    /// The reason the value is unknown, if any variable it uses is unknown.
    pub fn unknown_because(&self) -> Option<Unknown> {
        self.variables.iter().find_map(|v| v.unknown_because)
    }
}
