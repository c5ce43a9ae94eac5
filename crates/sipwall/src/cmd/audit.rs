//! `sipwall audit`: findings for an existing ruleset (a dump, or the
//! running kernel's) against a FreeSWITCH configuration, through
//! `sipwall-ruleset::read` and `sipwall-audit`.

use crate::exit::{Failure, Outcome, Success};
use anyhow::{anyhow, Context};
use clap::Args;
use serde::Serialize;
use sipwall_audit::{audit, Finding, Input, Severity};
use sipwall_freeswitch::{discover, Disk, Options};
use sipwall_ruleset::read::{self, Existing};
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

/// The version of the JSON shape; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;

/// `sipwall audit` arguments.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// A ruleset dump: iptables-save / ip6tables-save output, `nft list
    /// ruleset` or `nft -j list ruleset`; `-` for stdin. Give it twice for
    /// an iptables-save and an ip6tables-save dump.
    #[arg(long, value_name = "FILE")]
    ruleset: Vec<PathBuf>,
    /// Read the ruleset of this network namespace (`nft -j list ruleset`).
    #[arg(long)]
    live: bool,
    /// FreeSWITCH's configuration folder (the one holding freeswitch.xml);
    /// without it the checks that need the configuration are skipped.
    #[arg(long, value_name = "DIR")]
    freeswitch: Option<PathBuf>,
    /// Output format (json: see docs/audit.md).
    #[arg(long, value_enum, default_value_t = super::Format::Text)]
    format: super::Format,
    /// Exit with 1 when a finding is at least this severe
    /// (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY", default_value = "high")]
    fail_on: Severity,
}

#[derive(Serialize)]
struct Report<'a> {
    schema: u32,
    sources: &'a [String],
    covers: Covers,
    freeswitch: Option<String>,
    findings: &'a [Finding],
}

#[derive(Serialize)]
struct Covers {
    ipv4: bool,
    ipv6: bool,
}

/// Runs `sipwall audit`.
pub fn run(args: AuditArgs) -> Outcome {
    if args.ruleset.is_empty() && !args.live {
        return Err(Failure::bad_input(anyhow!(
            "nothing to audit: give --ruleset FILE (or -) or --live"
        )));
    }
    let mut rs = Existing::default();
    for path in &args.ruleset {
        let (name, text) = read_input(path)?;
        let one =
            read::read(&name, &text).map_err(|e| Failure::bad_input(anyhow!("{name}:{e}")))?;
        rs.merge(one);
    }
    if args.live {
        let out = Command::new("nft")
            .args(["-j", "list", "ruleset"])
            .output()
            .context("running nft -j list ruleset")
            .map_err(Failure::failed)?;
        if !out.status.success() {
            return Err(Failure::failed(anyhow!(
                "nft -j list ruleset failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let one = read::nft_json::parse("live", &text)
            .map_err(|e| Failure::failed(anyhow!("reading nft's own listing: {e}")))?;
        rs.merge(one);
    }
    let inventory = match &args.freeswitch {
        Some(dir) => {
            if !dir.join(sipwall_freeswitch::discover::ENTRY).is_file() {
                return Err(Failure::bad_input(anyhow!(
                    "{}: no {} here; give FreeSWITCH's configuration folder (e.g. /etc/freeswitch)",
                    dir.display(),
                    sipwall_freeswitch::discover::ENTRY
                )));
            }
            let options = Options {
                vars: Vec::new(),
                env: std::env::vars().collect(),
            };
            Some(discover(&Disk, dir, &options).map_err(Failure::bad_input)?)
        }
        None => None,
    };
    let findings = audit(&Input {
        ruleset: &rs,
        inventory: inventory.as_ref(),
        ssh_session: ssh_session(),
    });
    match args.format {
        super::Format::Json => {
            let report = Report {
                schema: SCHEMA_VERSION,
                sources: &rs.sources,
                covers: Covers {
                    ipv4: rs.covers.v4,
                    ipv6: rs.covers.v6,
                },
                freeswitch: args.freeswitch.as_ref().map(|d| d.display().to_string()),
                findings: &findings,
            };
            let json = serde_json::to_string_pretty(&report).map_err(Failure::failed)?;
            println!("{json}");
        }
        super::Format::Text => {
            for f in &findings {
                println!("{f}");
            }
            let skipped = if inventory.is_none() {
                " (configuration checks skipped: no --freeswitch)"
            } else {
                ""
            };
            println!("{} finding(s){skipped}", findings.len());
        }
    }
    if findings.iter().any(|f| f.severity >= args.fail_on) {
        Ok(Success::Findings)
    } else {
        Ok(Success::Clean)
    }
}

fn read_input(path: &PathBuf) -> Result<(String, String), Failure> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")
            .map_err(Failure::bad_input)?;
        return Ok(("<stdin>".into(), text));
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Failure::bad_input)?;
    Ok((path.display().to_string(), text))
}

/// The SSH session this runs from: `SSH_CONNECTION` is
/// `client_ip client_port server_ip server_port`.
fn ssh_session() -> Option<(IpAddr, u16)> {
    let v = std::env::var("SSH_CONNECTION").ok()?;
    let parts: Vec<&str> = v.split_whitespace().collect();
    Some((parts.first()?.parse().ok()?, parts.get(3)?.parse().ok()?))
}
