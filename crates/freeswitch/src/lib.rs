//! sipwall-freeswitch: reads a FreeSWITCH configuration tree the way
//! FreeSWITCH does and says which services really listen, each port with
//! its provenance.
//!
//! # How the parts fit
//!
//! ```text
//!  Files (Disk | Memory)                       the only file access
//!    │
//!  preprocess ──► Assembled { text, lines: [SourceLine], vars, warnings }
//!    │              X-PRE-PROCESS / <!--#...-->, $${vars}, include globs;
//!    │              every output line remembers its original file:line
//!  xml::Document    switch_xml.c's grammar (markup) over the text;
//!    │              node -> Location, <param> -> Param
//!    │
//!  discover ──► Inventory { services: [Service], rtp, event_socket,
//!                           modules, profiles, warnings }
//!                 modules, sofia, verto, event_socket, rtp, listeners
//!                 each add the Services of one module, with Provenance
//! ```
//!
//! Beside the configuration, [`esl`] is the event socket's wire protocol
//! (sans-IO: frames in, commands out) for the daemon's client.
//!
//! [`discover()`] is the entry point: give it a [`Files`] (usually [`Disk`]),
//! the configuration folder and [`Options`] (`--var` values, the
//! environment for `env-set`). It fails only when FreeSWITCH itself could
//! not start: the entry file is unreadable or the assembled XML is broken
//! ([`Error`] names the original `file:line`). Everything FreeSWITCH would
//! shrug off becomes a [`Warning`].
//!
//! Discovery never runs anything: `exec`, `exec-set` and `stun-set` are
//! not executed, so the values they produce are unknown unless given with
//! [`Options::vars`], and every [`Service`] whose port or address depends
//! on one says so ([`Service::unknown_because`]). Host-dependent built-ins
//! (`local_ip_v4`, `local_ip_v6`, `hostname`, ...) stay symbolic and show
//! up as [`Address::Host`].
//!
//! Trust contract: input is an administrator's configuration, not network
//! data; reading it never panics and never touches anything but the files
//! it includes.
//!
//! ```
//! use sipwall_freeswitch::{discover, Kind, Memory, Options};
//! use std::path::Path;
//!
//! let mut tree = Memory::new();
//! tree.insert("/c/freeswitch.xml", r#"<document type="freeswitch/xml">
//!   <X-PRE-PROCESS cmd="set" data="esl_port=8022"/>
//!   <section name="configuration">
//!     <configuration name="modules.conf"><modules>
//!       <load module="mod_event_socket"/>
//!     </modules></configuration>
//!     <configuration name="event_socket.conf"><settings>
//!       <param name="listen-port" value="$${esl_port}"/>
//!     </settings></configuration>
//!   </section>
//! </document>"#);
//! let inv = discover(&tree, Path::new("/c"), &Options::default()).unwrap();
//! let esl = inv.services.iter().find(|s| s.kind == Kind::Esl).unwrap();
//! assert_eq!(esl.ports.unwrap().first, 8022);
//! let port = &esl.provenance[2];
//! assert_eq!(port.at.to_string(), "freeswitch.xml:8");
//! assert_eq!(port.variables[0].set_at.as_ref().unwrap().to_string(), "freeswitch.xml:2");
//! ```

pub mod discover;
pub mod error;
pub mod esl;
pub mod event_socket;
pub mod files;
pub mod gateway;
pub mod glob;
pub mod inventory;
pub mod listeners;
pub mod markup;
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
pub use gateway::{Gateway, GatewayHost};
pub use inventory::{Address, Family, Inventory, Kind, PortRange, Protocol, Service, Transport};
pub use preprocess::{preprocess, Assembled, Options, SourceLine};
pub use provenance::{Location, Provenance, SetBy, Unknown, VariableUse};
pub use warning::{Warning, WarningKind};
