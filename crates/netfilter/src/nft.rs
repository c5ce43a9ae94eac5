//! The narrow interface to nftables that the rest of sipwall uses, and its
//! implementation over the `nft` program. Tests can substitute their own
//! [`Nftables`]; the lab tests use the real one inside a network namespace.

use crate::error::NetfilterError;
use std::io::Write;
use std::process::{Command, Stdio};

/// What sipwall needs from nftables.
pub trait Nftables {
    /// Validates a script without applying it (`nft -c -f`).
    fn check(&self, script: &str) -> Result<(), NetfilterError>;
    /// Applies a script as one transaction (`nft -f`): all or nothing.
    fn load(&self, script: &str) -> Result<(), NetfilterError>;
    /// `nft list table inet NAME`, or `None` when the table does not exist.
    fn list_table(&self, table: &str) -> Result<Option<String>, NetfilterError>;
    /// The same as JSON (`nft -j`), or `None` when the table does not exist.
    fn list_table_json(&self, table: &str) -> Result<Option<String>, NetfilterError>;
    /// Every table of the namespace as JSON (`nft -j list ruleset`).
    fn list_ruleset_json(&self) -> Result<String, NetfilterError>;
    /// The tables of the namespace, `(family, name)` (`nft list tables`).
    fn list_tables(&self) -> Result<Vec<(String, String)>, NetfilterError>;
    /// Every table of the namespace as text (`nft list ruleset`): where
    /// iptables-nft's rules are, nft translates their xt matches here,
    /// which its JSON leaves as bare names.
    fn list_ruleset_text(&self) -> Result<String, NetfilterError>;
}

/// [`Nftables`] through the `nft` program of the current network namespace.
#[derive(Debug, Clone)]
pub struct NftCli {
    program: String,
}

impl Default for NftCli {
    fn default() -> Self {
        NftCli {
            program: "nft".to_owned(),
        }
    }
}

impl NftCli {
    /// Uses `program` instead of `nft` from `PATH`.
    pub fn with_program(program: impl Into<String>) -> Self {
        NftCli {
            program: program.into(),
        }
    }

    fn run(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<(bool, String, String), NetfilterError> {
        let spawn_err = |source| NetfilterError::Spawn {
            program: self.program.clone(),
            source,
        };
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).map_err(spawn_err)?;
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    fn list(&self, json: bool, table: &str) -> Result<Option<String>, NetfilterError> {
        let mut args = vec![];
        if json {
            args.push("-j");
        }
        args.extend(["list", "table", "inet", table]);
        let (ok, stdout, stderr) = self.run(&args, None)?;
        if ok {
            Ok(Some(stdout))
        } else if stderr.contains("No such file or directory") {
            Ok(None)
        } else {
            Err(NetfilterError::Rejected { stderr })
        }
    }
}

impl Nftables for NftCli {
    fn check(&self, script: &str) -> Result<(), NetfilterError> {
        match self.run(&["-c", "-f", "-"], Some(script))? {
            (true, ..) => Ok(()),
            (false, _, stderr) => Err(NetfilterError::Rejected { stderr }),
        }
    }

    fn load(&self, script: &str) -> Result<(), NetfilterError> {
        match self.run(&["-f", "-"], Some(script))? {
            (true, ..) => Ok(()),
            (false, _, stderr) => Err(NetfilterError::Rejected { stderr }),
        }
    }

    fn list_table(&self, table: &str) -> Result<Option<String>, NetfilterError> {
        self.list(false, table)
    }

    fn list_table_json(&self, table: &str) -> Result<Option<String>, NetfilterError> {
        self.list(true, table)
    }

    fn list_ruleset_json(&self) -> Result<String, NetfilterError> {
        match self.run(&["-j", "list", "ruleset"], None)? {
            (true, stdout, _) => Ok(stdout),
            (false, _, stderr) => Err(NetfilterError::Rejected { stderr }),
        }
    }

    fn list_ruleset_text(&self) -> Result<String, NetfilterError> {
        match self.run(&["list", "ruleset"], None)? {
            (true, stdout, _) => Ok(stdout),
            (false, _, stderr) => Err(NetfilterError::Rejected { stderr }),
        }
    }

    fn list_tables(&self) -> Result<Vec<(String, String)>, NetfilterError> {
        match self.run(&["list", "tables"], None)? {
            (true, stdout, _) => Ok(stdout
                .lines()
                .filter_map(|l| {
                    let mut w = l.split_whitespace();
                    (w.next() == Some("table")).then_some(())?;
                    Some((w.next()?.to_owned(), w.next()?.to_owned()))
                })
                .collect()),
            (false, _, stderr) => Err(NetfilterError::Rejected { stderr }),
        }
    }
}
