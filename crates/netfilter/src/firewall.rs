//! Replacing sipwall's table atomically, and only that table.

use crate::elements;
use crate::error::NetfilterError;
use crate::nft::Nftables;

/// A complete table as nft text, with the sets whose elements must survive
/// a replacement (name and type as nft prints them).
#[derive(Debug, Clone)]
pub struct Table {
    /// The table's name (family `inet`).
    pub name: String,
    /// nft text that creates the table.
    pub text: String,
    /// Sets the daemon fills: `(name, type)`.
    pub sets: Vec<(String, String)>,
}

/// sipwall's table in the kernel of the current network namespace.
#[derive(Debug)]
pub struct Firewall<N> {
    nft: N,
}

impl<N: Nftables> Firewall<N> {
    /// Works through `nft`.
    pub fn new(nft: N) -> Self {
        Firewall { nft }
    }

    /// The table as it runs now (text and sets), or `None` if it is not loaded.
    pub fn current(&self, table: &str) -> Result<Option<Table>, NetfilterError> {
        let Some(text) = self.nft.list_table(table)? else {
            return Ok(None);
        };
        let json = self.nft.list_table_json(table)?.unwrap_or_default();
        Ok(Some(Table {
            name: table.to_owned(),
            text,
            sets: elements::sets(&json)?,
        }))
    }

    /// The script that replaces the table in one transaction, carrying the
    /// live elements of its daemon-filled sets over.
    pub fn replacement_script(&self, new: &Table) -> Result<String, NetfilterError> {
        let live = match self.nft.list_table_json(&new.name)? {
            Some(json) => elements::parse(&json)?,
            None => Vec::new(),
        };
        let carried = elements::carry_over(&new.name, &live, &new.sets);
        Ok(format!(
            "table inet {name} {{}}\ndelete table inet {name}\n{text}{carried}",
            name = new.name,
            text = new.text
        ))
    }

    /// Validates the replacement without applying it.
    pub fn check(&self, new: &Table) -> Result<(), NetfilterError> {
        self.nft.check(&self.replacement_script(new)?)
    }

    /// Checks, then replaces the table atomically. On any error the running
    /// ruleset is as it was.
    pub fn replace(&self, new: &Table) -> Result<(), NetfilterError> {
        let script = self.replacement_script(new)?;
        self.nft.check(&script)?;
        self.nft.load(&script)
    }

    /// Removes the table (and nothing else); `false` if it was not there.
    pub fn remove(&self, table: &str) -> Result<bool, NetfilterError> {
        if self.nft.list_table(table)?.is_none() {
            return Ok(false);
        }
        self.nft.load(&format!("delete table inet {table}\n"))?;
        Ok(true)
    }
}
