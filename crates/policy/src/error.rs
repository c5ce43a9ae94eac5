//! Policy errors: what is wrong and where (`file:line:col`).

use std::fmt;

/// A position in the policy file, 1-based, columns counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Location {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl Location {
    /// The location of byte `offset` in `source` (clamped to its end).
    pub fn of_offset(source: &str, offset: usize) -> Location {
        let offset = offset.min(source.len());
        let before = source.get(..offset).unwrap_or(source);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Location {
            line: line as u32,
            col: col as u32,
        }
    }
}

impl Location {
    /// The byte offset of this location in `source` (the inverse of
    /// [`Location::of_offset`]; clamped to the source, 0 for line 0).
    pub fn offset_in(&self, source: &str) -> usize {
        if self.line == 0 {
            return 0;
        }
        let mut line_start = 0;
        for _ in 1..self.line {
            match source[line_start..].find('\n') {
                Some(i) => line_start += i + 1,
                None => return source.len(),
            }
        }
        let line = &source[line_start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        line_start
            + line
                .char_indices()
                .nth(self.col.saturating_sub(1) as usize)
                .map_or(line.len(), |(i, _)| i)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One problem in a policy, with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{at}: {kind}")]
pub struct Diagnostic {
    /// The file's name as the user gave it.
    pub file: String,
    /// Where in it.
    pub at: Location,
    /// The byte range in the source, for renderers that show a snippet.
    pub span: std::ops::Range<usize>,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not valid TOML (then the only problem reported: nothing after it
    /// can be read).
    #[error("{0}")]
    Syntax(String),
    /// A key that its table does not have.
    #[error("unknown field `{key}` in {}", table_name(.table))]
    UnknownKey {
        /// What was written.
        key: String,
        /// The dotted path of its table; empty at the top level.
        table: String,
        /// The keys that table has.
        expected: Vec<&'static str>,
    },
    /// A word that is not one of the few a value may be (`media.mode`,
    /// `protocols`).
    #[error("{key}: unknown value {value:?}; expected one of: {}", .expected.join(", "))]
    UnknownWord {
        /// The dotted path of the value.
        key: String,
        /// What was written.
        value: String,
        /// The words allowed there.
        expected: Vec<&'static str>,
    },
    /// A value of the wrong type, or a required key missing.
    #[error("{}{message}", if key.is_empty() { String::new() } else { format!("{key}: ") })]
    WrongType {
        /// The dotted path of the value (or of the table missing a key).
        key: String,
        /// What was expected (serde's words, in TOML's terms).
        message: String,
    },
    /// `kind = "..."` names no catalog kind.
    #[error("unknown service kind {name:?}; known kinds: {}", .known.join(", "))]
    UnknownKind {
        /// What was written.
        name: String,
        /// The catalog's names.
        known: Vec<String>,
    },
    /// A custom service without ports or protocols.
    #[error("a service of kind \"custom\" needs {0}")]
    CustomNeeds(&'static str),
    /// A port or range that is not one.
    #[error("{0}")]
    BadPort(String),
    /// A prefix that does not parse, or has host bits set.
    #[error("{0}")]
    BadPrefix(String),
    /// A zone that no `[zones]` entry defines.
    #[error("unknown zone {name:?}; defined zones: {}", .known.join(", "))]
    UnknownZone {
        /// What was written.
        name: String,
        /// The zones that exist.
        known: Vec<String>,
    },
    /// A built-in zone name used for a user zone.
    #[error("zone {0:?} is built in and cannot be redefined")]
    ReservedZone(String),
    /// An empty list where at least one entry is needed.
    #[error("{0} is empty: list at least one zone")]
    EmptyAllow(String),
    /// The same port opened twice for different zones.
    #[error(
        "{proto} port {port} is opened by {this} for zones [{these}] and by {other}{} for zones [{those}]: one port, one set of zones",
        if *other_line == 0 { String::new() } else { format!(" (line {other_line})") }
    )]
    Contradiction {
        /// Protocol of the port.
        proto: String,
        /// The first port both share.
        port: u16,
        /// This entry's name.
        this: String,
        /// Its zones.
        these: String,
        /// The earlier entry's name.
        other: String,
        /// Where the other entry is (0: a default, written nowhere).
        other_line: u32,
        /// Its zones.
        those: String,
    },
    /// A service or zone name outside `[A-Za-z0-9_.-]{1,64}` (see [`crate::name`]).
    #[error("{0}")]
    BadName(String),
    /// Any other value outside its allowed set.
    #[error("{0}")]
    BadValue(String),
}

fn table_name(path: &str) -> String {
    if path.is_empty() {
        "the top level".to_owned()
    } else {
        format!("[{path}]")
    }
}

impl ErrorKind {
    /// What to do about it, when the message alone does not say:
    /// `did you mean "office"?` for a near miss, else what is allowed.
    pub fn help(&self) -> Option<String> {
        let meant = |wrong: &str, known: &mut dyn Iterator<Item = &str>| {
            crate::suggest::closest(wrong, known).map(|m| format!("did you mean {m:?}?"))
        };
        match self {
            ErrorKind::UnknownKey { key, expected, .. } => {
                meant(key, &mut expected.iter().copied()).or_else(|| {
                    Some(format!(
                        "expected one of: {}",
                        expected
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
            }
            ErrorKind::UnknownWord {
                value, expected, ..
            } => meant(value, &mut expected.iter().copied()),
            // The message lists the names; the help only picks one.
            ErrorKind::UnknownZone { name, known } | ErrorKind::UnknownKind { name, known } => {
                meant(name, &mut known.iter().map(String::as_str))
            }
            ErrorKind::Contradiction { .. } => Some(
                "open the port once, for all the zones that need it, or give each entry its own ports"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

impl Diagnostic {
    /// What to do about it, if there is more to say than the message;
    /// see [`ErrorKind::help`].
    pub fn help(&self) -> Option<String> {
        self.kind.help()
    }
}

/// Every problem found in one policy (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let s = "a = 1\nbb = \"é\"\n";
        assert_eq!(Location::of_offset(s, 0), Location { line: 1, col: 1 });
        assert_eq!(Location::of_offset(s, 6), Location { line: 2, col: 1 });
        // after the two-byte é the column counts one character
        assert_eq!(Location::of_offset(s, 14), Location { line: 2, col: 8 });
        assert_eq!(Location::of_offset(s, 999).line, 3);
        for offset in [0, 3, 6, 9, 14, 15] {
            assert_eq!(
                Location::of_offset(s, offset).offset_in(s),
                offset,
                "{offset}"
            );
        }
    }
}
