//! `sipwall audit`: findings for an existing ruleset (a dump, or the
//! running kernel's) against a FreeSWITCH configuration, through
//! `sipwall-ruleset::read` and `sipwall-audit`.

use crate::exit::{Failure, Outcome, Success};
use anyhow::{anyhow, Context};
use clap::Args;
use serde::Serialize;
use sipwall_audit::{audit, audit_configuration, sshd, Finding, Input, Severity, SshPorts};
use sipwall_freeswitch::{discover, Disk, Options};
use sipwall_netfilter::{NftCli, Nftables};
use sipwall_ruleset::read::{self, Existing};
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where sshd reads its configuration unless told otherwise.
pub const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// sshd's folder, which relative `Include` patterns start from.
const SSH_DIR: &str = "/etc/ssh";
/// Files read through `Include`, at most (sshd's own nesting limit is 16).
const MAX_SSHD_FILES: usize = 64;

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
    /// Read the ruleset of this network namespace (`nft -j list ruleset`),
    /// and where sshd listens from its socket.
    #[arg(long)]
    live: bool,
    /// sshd's configuration, for the port SSH really uses (`Port`,
    /// `ListenAddress`, `Include`); read when it exists.
    #[arg(long, value_name = "FILE", default_value = SSHD_CONFIG)]
    sshd_config: PathBuf,
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
    let configuration_only = args.ruleset.is_empty() && !args.live;
    if configuration_only && args.freeswitch.is_none() {
        return Err(Failure::bad_input(anyhow!(
            "nothing to audit: give --ruleset FILE (or -), --live or --freeswitch DIR"
        )));
    }
    let mut rs = Existing::default();
    let mut empty = Vec::new();
    for path in &args.ruleset {
        let (name, text) = read_input(path)?;
        // iptables-save and ip6tables-save print nothing when the family
        // has no table at all: no rule filters it.
        if text.trim().is_empty() {
            empty.push(name);
            continue;
        }
        let one =
            read::read(&name, &text).map_err(|e| Failure::bad_input(anyhow!("{name}:{e}")))?;
        rs.merge(one);
    }
    if !empty.is_empty() {
        // An empty dump stands for the families no other input describes
        // (ip6tables-save beside iptables-save; both when it is alone),
        // described completely: nothing filters them.
        rs.covers.v4 = true;
        rs.covers.v6 = true;
        rs.sources.extend(empty);
    }
    if args.live {
        let text = NftCli::default()
            .list_ruleset_json()
            .map_err(|e| Failure::failed(anyhow!("nft -j list ruleset: {e}")))?;
        let one = read::nft_json::parse("live", &text)
            .map_err(|e| Failure::failed(anyhow!("reading nft's own listing: {e}")))?;
        // Rules iptables-nft made (its classic recipe) hold xt matches and
        // targets that nft's JSON leaves as bare names ("conntrack",
        // "REJECT"), judged "maybe"; its text listing translates them.
        match has_xt(&text).then(live_text).flatten() {
            Some(translated) => rs.merge(translated),
            None => rs.merge(one),
        }
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
    let findings = match (&inventory, configuration_only) {
        (Some(inv), true) => audit_configuration(inv),
        _ => {
            let ssh = ssh_ports(&args)?;
            audit(&Input {
                ruleset: &rs,
                inventory: inventory.as_ref(),
                ssh_session: ssh_session(),
                ssh: ssh.as_ref(),
            })
        }
    };
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
            outln!("{json}");
        }
        super::Format::Text => {
            for f in &findings {
                outln!("{f}");
            }
            let skipped = if inventory.is_none() {
                " (configuration checks skipped: no --freeswitch)"
            } else if configuration_only {
                " (the configuration alone: no --ruleset or --live)"
            } else {
                ""
            };
            outln!("{} finding(s){skipped}", findings.len());
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

/// Where sshd listens: its listening socket with `--live`, else its
/// configuration file when there is one; `None` when neither says.
fn ssh_ports(args: &AuditArgs) -> Result<Option<SshPorts>, Failure> {
    sshd_ports(&args.sshd_config, args.live)
}

/// Where sshd listens: its listening socket when `live`, else its
/// configuration `path` (and what it includes) when there is one; `None`
/// when neither says. `audit` and `init` ask this one question.
pub fn sshd_ports(path: &Path, live: bool) -> Result<Option<SshPorts>, Failure> {
    if live {
        if let Some(ports) = listening_sshd() {
            return Ok(Some(SshPorts {
                ports,
                source: "the listening sshd".into(),
            }));
        }
    }
    if !path.exists() {
        if path == Path::new(SSHD_CONFIG) {
            return Ok(None);
        }
        return Err(Failure::bad_input(anyhow!(
            "{}: no such sshd configuration",
            path.display()
        )));
    }
    let mut files = Vec::new();
    let mut queue = vec![path.to_path_buf()];
    while let Some(p) = queue.pop() {
        if files.len() >= MAX_SSHD_FILES {
            break;
        }
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("reading {}", p.display()))
            .map_err(Failure::bad_input)?;
        let file = sshd::parse(&text);
        // Included files are read in the order sshd reads them.
        let mut included: Vec<PathBuf> = file.includes.iter().flat_map(|i| expand(i)).collect();
        included.reverse();
        queue.extend(included);
        files.push(file);
    }
    Ok(Some(SshPorts {
        ports: sshd::ports(&files),
        source: path.display().to_string(),
    }))
}

/// An `Include` pattern's files, sorted, with `*` and `?` in the last
/// component only (what distributions ship: `sshd_config.d/*.conf`).
fn expand(pattern: &str) -> Vec<PathBuf> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        Path::new(SSH_DIR).join(pattern)
    };
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![full];
    }
    let Some(dir) = full.parent() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| wildcard(name.as_bytes(), e.file_name().to_string_lossy().as_bytes()))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// `*` and `?` matching, as glob(3) does within one component.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// The TCP ports an `sshd` process listens on in this namespace (`ss`).
fn listening_sshd() -> Option<Vec<u16>> {
    let out = Command::new("ss").args(["-Hltnp"]).output().ok()?;
    let mut ports: Vec<u16> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("((\"sshd"))
        .filter_map(|l| {
            l.split_whitespace()
                .nth(3)?
                .rsplit_once(':')?
                .1
                .parse()
                .ok()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    (!ports.is_empty()).then_some(ports)
}

/// Whether nft's JSON listing holds an iptables-nft compat expression.
fn has_xt(json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(json).is_ok_and(|v| {
        v["nftables"].as_array().is_some_and(|items| {
            items.iter().any(|i| {
                i["rule"]["expr"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| x.get("xt").is_some()))
            })
        })
    })
}

/// The live ruleset from `nft list ruleset` text, when it reads.
fn live_text() -> Option<Existing> {
    let text = NftCli::default().list_ruleset_text().ok()?;
    read::nft_text::parse("live (nft list ruleset)", &text).ok()
}
