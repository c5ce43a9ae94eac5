//! Why a ruleset dump could not be read.

/// A dump that is not what its format says it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The text is none of the known formats.
    #[error("not a ruleset: expected iptables-save output (*filter, -A ...), `nft list ruleset` text (table ...) or `nft -j list ruleset` JSON")]
    UnknownFormat,
    /// A line that the format does not allow.
    #[error("{line}:{column}: {message}")]
    Syntax {
        /// 1-based line.
        line: u32,
        /// 1-based column (1 when the whole line is at fault).
        column: u32,
        /// What is wrong.
        message: String,
    },
}

impl ReadError {
    /// A syntax error at `line`:`column`.
    pub fn at(line: u32, column: u32, message: impl Into<String>) -> Self {
        ReadError::Syntax {
            line,
            column,
            message: message.into(),
        }
    }
}
