//! `sipwall discover freeswitch DIR`: what a FreeSWITCH configuration
//! really listens on, through `sipwall-freeswitch`.

use crate::exit::{Failure, Outcome, Success};
use anyhow::anyhow;
use clap::Subcommand;
use sipwall_freeswitch::{discover, Disk, Inventory, Options, Provenance, Service};
use std::fmt::Write as _;
use std::path::PathBuf;

/// `sipwall discover` subcommands.
#[derive(Subcommand, Debug)]
pub enum DiscoverCommand {
    /// Read a FreeSWITCH configuration folder (the one holding freeswitch.xml).
    Freeswitch {
        /// The configuration folder, e.g. /etc/freeswitch.
        dir: PathBuf,
        /// Output format (json: see docs/discover.md; toml: a policy for `sipwall check`/`compile`).
        #[arg(long, value_enum, default_value_t = DiscoverFormat::Text)]
        format: DiscoverFormat,
        /// Give a preprocessor variable's value (e.g. local_ip_v4=192.0.2.10);
        /// it wins over the files. Repeatable.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
}

/// What `discover` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoverFormat {
    /// A summary for people.
    Text,
    /// The inventory (docs/discover.md).
    Json,
    /// A least-privilege policy (docs/policy.md).
    Toml,
}

/// Runs a `sipwall discover` subcommand.
pub fn run(cmd: DiscoverCommand) -> Outcome {
    match cmd {
        DiscoverCommand::Freeswitch { dir, format, vars } => freeswitch(dir, format, &vars),
    }
}

fn freeswitch(dir: PathBuf, format: DiscoverFormat, vars: &[String]) -> Outcome {
    let vars = vars
        .iter()
        .map(|v| match v.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), value.to_string()))
            }
            _ => Err(Failure::bad_input(anyhow!(
                "--var {v:?}: expected NAME=VALUE"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !dir.join(sipwall_freeswitch::discover::ENTRY).is_file() {
        return Err(Failure::bad_input(anyhow!(
            "{}: no {} here; give FreeSWITCH's configuration folder (e.g. /etc/freeswitch)",
            dir.display(),
            sipwall_freeswitch::discover::ENTRY
        )));
    }
    let options = Options {
        vars,
        // FreeSWITCH's own environment is unknown here; ours is the best guess for env-set.
        env: std::env::vars().collect(),
    };
    let inventory = discover(&Disk, &dir, &options).map_err(Failure::bad_input)?;
    match format {
        DiscoverFormat::Json => {
            let json = serde_json::to_string_pretty(&inventory).map_err(Failure::failed)?;
            outln!("{json}");
        }
        DiscoverFormat::Text => out!("{}", text(&inventory)),
        DiscoverFormat::Toml => out!("{}", crate::discovered_policy::policy_toml(&inventory)),
    }
    Ok(Success::Clean)
}

/// The human summary: one line per service, then the ESL and RTP facts, then warnings.
fn text(inv: &Inventory) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "FreeSWITCH configuration {}", inv.conf_dir);
    let _ = writeln!(out, "services:");
    for s in &inv.services {
        let ports = s.ports.map_or("?".to_string(), |p| p.to_string());
        let _ = writeln!(
            out,
            "  {:<24} {:<15} {:<4} {:<3} {:<18} {:<11} {}",
            s.name,
            name_of(&s.kind),
            name_of(&s.transport),
            name_of(&s.protocol),
            s.address.to_string(),
            ports,
            origin(s)
        );
    }
    if let Some(esl) = &inv.event_socket {
        let port = esl.port.map_or("?".to_string(), |p| p.to_string());
        let password = if esl.default_password {
            "the default password ClueCon"
        } else {
            "a custom password"
        };
        let acl = if esl.acl_is_default { " (default)" } else { "" };
        let _ = writeln!(
            out,
            "event socket: {} port {port}, {password}, inbound ACL {}{acl}",
            esl.listen_ip,
            esl.apply_inbound_acl.join(", ")
        );
    }
    if let Some(rtp) = &inv.rtp {
        let _ = writeln!(
            out,
            "rtp: {}-{} (RTP and RTCP: {})",
            rtp.start, rtp.end, rtp.ports
        );
    }
    let _ = writeln!(
        out,
        "modules: {} loaded; sofia profiles: {}",
        inv.modules.len(),
        inv.profiles
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let trunks = crate::discovered_policy::trunks(inv);
    if !trunks.addresses.is_empty() {
        let _ = writeln!(
            out,
            "trunks (gateway hosts, allowlisted by the derived policy): {}",
            trunks.addresses.join(", ")
        );
    }
    if !inv.warnings.is_empty() || !trunks.warnings.is_empty() {
        let _ = writeln!(out, "warnings:");
        for w in &inv.warnings {
            let _ = writeln!(out, "  {w}");
        }
        for w in &trunks.warnings {
            // Config text, shown on a terminal: one line, no control characters.
            let _ = writeln!(
                out,
                "  {}",
                sipwall_engine::remote_text::printable(w.as_bytes(), 1024)
            );
        }
    }
    out
}

/// The stable (JSON) name of a kind, transport or protocol.
fn name_of(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Where the port comes from: `file:line`, and the variable with where it was set.
pub(crate) fn origin(s: &Service) -> String {
    let port_setting = |p: &&Provenance| p.setting.contains("port") || p.setting.contains("bind");
    let Some(p) = s
        .provenance
        .iter()
        .find(port_setting)
        .or(s.provenance.last())
    else {
        return String::new();
    };
    let mut text = p.at.to_string();
    if p.default {
        text.push_str(" (default)");
    }
    for v in &p.variables {
        let _ = write!(text, " $${{{}}}", v.name);
        if let Some(at) = &v.set_at {
            let _ = write!(text, " from {at}");
        }
        if let Some(why) = v.unknown_because {
            let _ = write!(text, " unknown: {}", name_of(&why));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipwall_freeswitch::Memory;
    use std::path::Path;

    #[test]
    fn the_summary_names_the_trunks_and_warns_about_gateways_by_name() {
        let mut tree = Memory::new();
        tree.insert(
            "/c/freeswitch.xml",
            r#"<document type="freeswitch/xml">
  <section name="configuration">
    <configuration name="modules.conf"><modules><load module="mod_sofia"/></modules></configuration>
    <configuration name="sofia.conf"><profiles>
      <profile name="external"><gateways>
        <gateway name="carrier"><param name="proxy" value="192.0.2.50:5080"/></gateway>
        <gateway name="other"><param name="realm" value="sip.example.com"/></gateway>
      </gateways></profile>
    </profiles></configuration>
  </section>
</document>"#,
        );
        let inv = discover(&tree, Path::new("/c"), &Options::default()).unwrap();
        let out = text(&inv);
        assert!(
            out.contains("trunks (gateway hosts, allowlisted by the derived policy): 192.0.2.50\n"),
            "{out}"
        );
        assert!(
            out.contains("  gateway other (profile external): realm \"sip.example.com\", freeswitch.xml:7: sip.example.com is a name"),
            "{out}"
        );
    }
}
