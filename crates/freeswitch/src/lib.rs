//! sipwall-freeswitch: reads a FreeSWITCH configuration tree the way
//! FreeSWITCH does and says which services really listen, each port with
//! its provenance.
//!
//! (being built)

pub mod discover;
pub mod error;
pub mod event_socket;
pub mod files;
pub mod glob;
pub mod inventory;
pub mod listeners;
pub mod modules;
pub mod preprocess;
pub mod provenance;
pub mod rtp;
pub mod setting;
pub mod sofia;
pub mod vars;
pub mod verto;
pub mod warning;
pub mod xml;

pub use discover::discover;
pub use error::Error;
pub use files::{Disk, Files, Memory};
pub use inventory::{Address, Family, Inventory, Kind, PortRange, Protocol, Service, Transport};
pub use preprocess::{preprocess, Assembled, Options, SourceLine};
pub use provenance::{Location, Provenance, SetBy, Unknown, VariableUse};
pub use warning::{Warning, WarningKind};
