//! `sipwall init`: from a FreeSWITCH host to a policy in /etc/sipwall, the
//! event socket's password beside it for the daemon, and, with `--yes`,
//! the policy applied under a confirm window and both units enabled.
//!
//! Nothing is spliced: the policy is what discovery derives (values built
//! by the `toml` serializer, see `discovered_policy`), with the admin's
//! `--ssh-from` and `--trunk` parsed as addresses first. The files are
//! written as `apply` writes its own: into a folder root owns, through a
//! fresh file renamed over the old one, never through a link.

use super::policy::{freeswitch_tree, inventory, FREESWITCH_DIRS, SYSTEM_POLICY};
use crate::discovered_policy::{policy_toml_for, Site};
use crate::exit::{Failure, Outcome, Success};
use anyhow::anyhow;
use clap::Args;
use ipnet::IpNet;
use sipwall_netfilter::trust;
use sipwall_policy::{MediaMode, Policy};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `sipwall init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// FreeSWITCH's configuration folder (default: /etc/freeswitch, else
    /// /usr/local/freeswitch/conf).
    #[arg(long, value_name = "DIR")]
    freeswitch: Option<PathBuf>,
    /// Who may reach SSH: an address or prefix, repeatable (default:
    /// anyone, so that applying never locks you out).
    #[arg(long = "ssh-from", value_name = "PREFIX", value_parser = super::control::parse_target)]
    ssh_from: Vec<IpNet>,
    /// A SIP trunk's address that the gateways do not name: allowlisted,
    /// never banned. Repeatable.
    #[arg(long = "trunk", value_name = "ADDR")]
    trunks: Vec<std::net::IpAddr>,
    /// sshd's configuration, for the port SSH is opened on (default: the
    /// port the running sshd listens on, else /etc/ssh/sshd_config).
    #[arg(long, value_name = "FILE")]
    sshd_config: Option<PathBuf>,
    /// Apply now (rolled back unless confirmed within --confirm) and enable
    /// sipwall-firewall.service and sipwall.service.
    #[arg(long)]
    yes: bool,
    /// The confirm window of --yes.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = sipwall_control::parse_duration)]
    confirm: Duration,
    /// Replace an existing policy file.
    #[arg(long)]
    force: bool,
    /// Where the policy is written.
    #[arg(long, env = "SIPWALL_POLICY", default_value = SYSTEM_POLICY, value_name = "FILE")]
    policy: PathBuf,
    /// Where the event socket's password is written (what `sipwall run`
    /// reads with --esl).
    #[arg(
        long,
        env = "SIPWALL_ESL_PASSWORD_FILE",
        default_value = "/etc/sipwall/esl.password",
        value_name = "FILE"
    )]
    esl_password_file: PathBuf,
}

/// Runs `sipwall init`.
pub fn init(a: InitArgs) -> Outcome {
    let dir = match &a.freeswitch {
        Some(d) => d.clone(),
        None => {
            let dirs: Vec<&Path> = FREESWITCH_DIRS.iter().map(Path::new).collect();
            freeswitch_tree(&dirs)?.ok_or_else(|| {
                Failure::bad_input(anyhow!(
                    "no FreeSWITCH configuration in {}; give it with --freeswitch DIR",
                    FREESWITCH_DIRS.join(" or ")
                ))
            })?
        }
    };
    if !dir.join(sipwall_freeswitch::discover::ENTRY).is_file() {
        return Err(Failure::bad_input(anyhow!(
            "{}: no {} here; give FreeSWITCH's configuration folder",
            dir.display(),
            sipwall_freeswitch::discover::ENTRY
        )));
    }
    if !a.force && std::fs::symlink_metadata(&a.policy).is_ok() {
        return Err(Failure::bad_input(anyhow!(
            "{} exists; sipwall init does not replace a policy unless --force",
            a.policy.display()
        )));
    }
    let inv = inventory(&dir)?;
    let sshd = match &a.sshd_config {
        Some(path) => super::audit::sshd_ports(path, false)?,
        None => super::audit::sshd_ports(Path::new(super::audit::SSHD_CONFIG), true)?,
    };
    let (ssh_ports, ssh_source) = match sshd {
        Some(p) => (p.ports, p.source),
        None => (Vec::new(), String::new()),
    };
    let site = Site {
        ssh_from: a.ssh_from.clone(),
        ssh_ports,
        ssh_ports_source: ssh_source,
        trunks: a.trunks.clone(),
    };
    let text = policy_toml_for(&inv, &site);
    let name = a.policy.display().to_string();
    // What discovery writes always validates; if it did not, writing it
    // would leave the admin a broken file, so this is checked first.
    let policy = sipwall_policy::parse(&name, &text)
        .map_err(|e| Failure::failed(anyhow!("the derived policy does not validate: {e}")))?;

    let write = |path: &Path, bytes: &[u8], mode: u32| {
        trust::dir(&trust::parent_of(path))
            .and_then(|()| trust::write(path, bytes, mode))
            .map_err(|e| Failure::failed(anyhow!("{}: {e}", path.display())))
    };
    write(&a.policy, text.as_bytes(), 0o600)?;
    outln!("wrote {} from {}", a.policy.display(), dir.display());
    match &inv.event_socket {
        Some(esl) => {
            write(
                &a.esl_password_file,
                format!("{}\n", esl.password).as_bytes(),
                0o600,
            )?;
            outln!(
                "wrote {} (mode 0600): the event socket's password, for `sipwall run --esl`",
                a.esl_password_file.display()
            );
            if esl.default_password {
                outln!(
                    "warning: FreeSWITCH's event socket uses the default password ClueCon (CVE-2019-19492): change it in event_socket.conf.xml, then run sipwall init --force again"
                );
            }
        }
        None => outln!("mod_event_socket is not configured: no password file written"),
    }
    out!("\n{}", opens(&policy));
    if a.ssh_from.is_empty() {
        outln!(
            "\nSSH stays open to anyone; narrow it with --ssh-from PREFIX (your admin network)."
        );
    }

    if !a.yes {
        outln!(
            "\nNext: review {0}, then\n  sipwall apply -c {0} --confirm 2m\n  systemctl enable sipwall-firewall.service sipwall.service\n(or run sipwall init --yes --force to do both).",
            a.policy.display()
        );
        return Ok(Success::Clean);
    }
    apply_and_enable(&a)
}

/// What the policy opens, for whom: one row per service and the media.
fn opens(policy: &Policy) -> String {
    let zone = |name: &str| {
        let prefixes = policy
            .zones
            .iter()
            .find(|z| z.name == name)
            .filter(|z| !z.is_any() && !z.is_loopback())
            .map(|z| {
                let p: Vec<String> = z.prefixes.iter().map(ToString::to_string).collect();
                format!(" ({})", p.join(", "))
            })
            .unwrap_or_default();
        format!("{name}{prefixes}")
    };
    let mut rows = vec![[
        "SERVICE".to_owned(),
        "PORTS".to_owned(),
        "PROTOCOLS".to_owned(),
        "FROM".to_owned(),
    ]];
    for s in &policy.services {
        let list = |v: Vec<String>| v.join(",");
        rows.push([
            s.name.clone(),
            list(s.ports.iter().map(ToString::to_string).collect()),
            list(s.protocols.iter().map(ToString::to_string).collect()),
            list(s.allow.iter().map(|z| zone(z)).collect()),
        ]);
    }
    let media = match policy.media.mode {
        MediaMode::Range => policy
            .media
            .allow
            .iter()
            .map(|z| zone(z))
            .collect::<Vec<_>>()
            .join(","),
        MediaMode::Helper => "each call's peer (conntrack helper)".to_owned(),
        MediaMode::Pinhole => "each call's peer (pinholes)".to_owned(),
    };
    rows.push([
        "media".to_owned(),
        policy.media.ports.to_string(),
        "udp".to_owned(),
        media,
    ]);
    let mut out = String::from("The policy opens:\n");
    let _ = write!(out, "{}", super::text::columns(&rows));
    out
}

/// `--yes`: `sipwall apply --confirm` (this binary, so the prompt, lock
/// and rollback are apply's own), then the units.
fn apply_and_enable(a: &InitArgs) -> Outcome {
    let me = std::env::current_exe().map_err(Failure::failed)?;
    let window = format!("{}s", a.confirm.as_secs().max(1));
    outln!();
    let status = std::process::Command::new(me)
        .arg("apply")
        .arg("-c")
        .arg(&a.policy)
        .args(["--confirm", &window])
        .status()
        .map_err(Failure::failed)?;
    if !status.success() {
        return Err(Failure::failed(anyhow!(
            "apply did not complete ({status}); the policy stays in {} for another try",
            a.policy.display()
        )));
    }
    if !Path::new("/run/systemd/system").exists() {
        outln!(
            "systemd is not running here: enable sipwall-firewall.service and sipwall.service yourself"
        );
        return Ok(Success::Clean);
    }
    let systemctl = |args: &[&str]| {
        std::process::Command::new("systemctl")
            .args(args)
            .status()
            .map_err(Failure::failed)
            .and_then(|s| {
                if s.success() {
                    Ok(())
                } else {
                    Err(Failure::failed(anyhow!(
                        "systemctl {} failed ({s})",
                        args.join(" ")
                    )))
                }
            })
    };
    systemctl(&["enable", "sipwall-firewall.service"])?;
    systemctl(&["enable", "--now", "sipwall.service"])?;
    outln!("enabled sipwall-firewall.service (the ruleset at boot) and sipwall.service (the guard, started)");
    Ok(Success::Clean)
}
