//! The pipeline from a configuration folder to an [`Inventory`]:
//! preprocess, parse, then let each module's reader add its services.

use crate::error::Error;
use crate::files::Files;
use crate::inventory::{
    Address, Inventory, Kind, Module, PortRange, Service, Transport, SCHEMA_VERSION,
};
use crate::preprocess::{preprocess, Options};
use crate::provenance::Provenance;
use crate::warning::Warning;
use crate::xml::{Document, Node};
use crate::{event_socket, listeners, modules, rtp, sofia, verto};
use std::path::Path;

/// The file FreeSWITCH starts reading from.
pub const ENTRY: &str = "freeswitch.xml";

/// Reads the configuration folder `conf_dir` (which holds `freeswitch.xml`)
/// and lists what FreeSWITCH would listen on.
pub fn discover(files: &dyn Files, conf_dir: &Path, options: &Options) -> Result<Inventory, Error> {
    let assembled = preprocess(files, conf_dir, Path::new(ENTRY), options)?;
    let doc = Document::parse(&assembled)?;
    let mut d = Discovery {
        doc: &doc,
        warnings: assembled.warnings.clone(),
        services: Vec::new(),
        modules: Vec::new(),
    };
    d.modules = modules::read(&doc);
    let profiles = sofia::read(&mut d);
    verto::read(&mut d);
    let event_socket = event_socket::read(&mut d);
    let rtp = rtp::read(&mut d);
    listeners::read(&mut d);
    Ok(Inventory {
        schema: SCHEMA_VERSION,
        conf_dir: conf_dir.display().to_string(),
        services: d.services,
        rtp,
        event_socket,
        modules: d.modules,
        profiles,
        warnings: d.warnings,
    })
}

/// The state the module readers share while discovery runs.
pub struct Discovery<'d, 'a> {
    /// The parsed configuration.
    pub doc: &'d Document<'a>,
    /// Warnings so far, the preprocessor's first.
    pub warnings: Vec<Warning>,
    /// Services found so far.
    pub services: Vec<Service>,
    /// The loaded modules.
    pub modules: Vec<Module>,
}

/// A service being added, before the module's provenance is prepended.
pub struct Found {
    /// See [`Service::name`].
    pub name: String,
    /// See [`Service::kind`].
    pub kind: Kind,
    /// See [`Service::transport`].
    pub transport: Transport,
    /// See [`Service::address`].
    pub address: Address,
    /// See [`Service::ports`].
    pub ports: Option<PortRange>,
    /// The settings behind it.
    pub provenance: Vec<Provenance>,
}

impl Discovery<'_, '_> {
    /// The module's `<load>` entry, if FreeSWITCH loads it.
    pub fn loaded(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// Provenance for a setting left at its default: at `node` (the
    /// settings element) when the configuration exists, else at the module's `<load>`.
    pub fn default_at(&self, node: Option<Node>, module: &str, setting: &str) -> Provenance {
        match node {
            Some(n) => self.doc.default(n, setting),
            None => Provenance {
                setting: setting.to_string(),
                at: self
                    .loaded(module)
                    .map(|m| m.at.clone())
                    .unwrap_or_else(|| self.doc.location(self.doc.root())),
                value: None,
                default: true,
                variables: Vec::new(),
            },
        }
    }

    /// Records a service opened by `module` (`core` for FreeSWITCH itself).
    pub fn add(&mut self, module: &str, found: Found) {
        let mut provenance = Vec::with_capacity(found.provenance.len() + 1);
        if let Some(m) = self.loaded(module) {
            provenance.push(Provenance {
                setting: "load".into(),
                at: m.at.clone(),
                value: Some(m.name.clone()),
                default: false,
                variables: Vec::new(),
            });
        }
        provenance.extend(found.provenance);
        self.services.push(Service {
            name: found.name,
            kind: found.kind,
            transport: found.transport,
            protocol: found.transport.protocol(),
            module: module.to_string(),
            address: found.address,
            ports: found.ports,
            provenance,
        });
    }
}
