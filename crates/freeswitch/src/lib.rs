//! sipwall-freeswitch: reads a FreeSWITCH configuration tree the way
//! FreeSWITCH does and says which services really listen, each port with
//! its provenance.
//!
//! (being built)

pub mod error;
pub mod files;
pub mod glob;
pub mod preprocess;
pub mod provenance;
pub mod vars;
pub mod warning;

pub use error::Error;
pub use files::{Disk, Files, Memory};
pub use preprocess::{preprocess, Assembled, Options, SourceLine};
pub use provenance::{Location, Provenance, SetBy, Unknown, VariableUse};
pub use warning::{Warning, WarningKind};
