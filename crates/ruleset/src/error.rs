//! Errors of compiling a policy for a target.

/// Why a policy cannot be compiled for the chosen target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The target cannot express what the policy asks for.
    #[error("unsupported by this target: {0}")]
    Unsupported(String),
}
