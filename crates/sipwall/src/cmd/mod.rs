//! One module per command family; each turns arguments into library calls.

pub mod apply;
pub mod audit;
pub mod control;
pub mod discover;
pub mod explain;
pub mod import;
pub mod init;
pub mod manual;
pub mod policy;
pub mod preview;
pub mod replay;
pub mod report;
pub mod safety;
pub mod sip;
pub mod text;
pub mod top;

/// The output format of a reporting command.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// A documented, stable JSON shape (see docs/).
    Json,
}
