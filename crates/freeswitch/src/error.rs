//! Errors that stop discovery: each names the original file and line.

use crate::provenance::Location;
use std::fmt;

/// Why a configuration tree could not be read at all.
///
/// Problems FreeSWITCH itself shrugs off (a missing include, an include loop,
/// an unknown variable) are not errors but [`crate::Warning`]s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The entry file (usually `freeswitch.xml`) could not be read.
    #[error("{path}: cannot read: {source}")]
    Unreadable {
        /// The path as given.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The assembled document is not well-formed XML.
    #[error("{}: {message}", Position(at, *column))]
    Xml {
        /// Where the problem is in the original (not the assembled) files.
        at: Location,
        /// The column in that line, 1-based, when known.
        column: Option<u32>,
        /// What the XML parser objected to.
        message: String,
    },
    /// The document parsed but has no `<document>` root FreeSWITCH would accept.
    #[error("{at}: {message}")]
    Structure {
        /// The offending element.
        at: Location,
        /// What is wrong with it.
        message: String,
    },
}

/// `file:line` or `file:line:col`, the form editors jump to.
struct Position<'a>(&'a Location, Option<u32>);

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(col) => write!(f, "{}:{col}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}
