//! What `apply` refuses unless `--force` (and `check` reports): the audit's critical
//! and high findings on the compiled ruleset (an event socket reachable
//! from beyond loopback and admin zones, a weak or default ESL password
//! others can reach), and a ruleset under which an SSH session this host
//! serves could not be opened again.
//!
//! SSH sessions are read from the kernel's socket table (established TCP
//! connections to the ports sshd listens on) as well as `SSH_CONNECTION`,
//! which `su -` and `sudo` drop: the admin who runs `sudo sipwall apply`
//! from an SSH session is still protected.

use sipwall_audit::{audit, Finding, Id, Input, Severity};
use sipwall_freeswitch::Inventory;
use sipwall_ruleset::eval::{self, EmptySets, Packet, Verdict, L4};
use sipwall_ruleset::ir::Hook;
use sipwall_ruleset::Ruleset;
use std::net::IpAddr;
use std::process::Command;

/// An SSH session: the client's address and port, ours and sshd's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The client.
    pub client: IpAddr,
    /// The client's port.
    pub client_port: u16,
    /// Our address.
    pub server: IpAddr,
    /// sshd's port.
    pub port: u16,
    /// Where it was learnt.
    pub from: &'static str,
}

/// The audit's critical and high findings on the ruleset `text` renders
/// (nft, as apply loads it). SSH lockout is judged by [`cut_sessions`]
/// from the sessions that exist, not by the audit's guess.
pub fn findings(text: &str, inventory: Option<&Inventory>) -> Vec<Finding> {
    let Ok(existing) = sipwall_ruleset::read::nft_text::parse("compiled", text) else {
        return Vec::new();
    };
    let input = Input {
        ruleset: &existing,
        inventory,
        ssh_session: None,
        ssh: None,
    };
    audit(&input)
        .into_iter()
        .filter(|f| f.severity >= Severity::High && f.id != Id::SshLockoutRisk)
        .collect()
}

/// The SSH sessions of this host: `SSH_CONNECTION` and the socket table.
pub fn sessions() -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    if let Some(s) = from_env() {
        out.push(s);
    }
    for s in from_sockets() {
        if !out
            .iter()
            .any(|o| (o.client, o.client_port, o.port) == (s.client, s.client_port, s.port))
        {
            out.push(s);
        }
    }
    out
}

fn strip(s: &str) -> Option<IpAddr> {
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_start_matches("::ffff:")
        .parse()
        .ok()
}

fn from_env() -> Option<Session> {
    let v = std::env::var("SSH_CONNECTION").ok()?;
    let mut p = v.split_whitespace();
    Some(Session {
        client: strip(p.next()?)?,
        client_port: p.next()?.parse().ok()?,
        server: strip(p.next()?)?,
        port: p.next()?.parse().ok()?,
        from: "SSH_CONNECTION",
    })
}

/// `ADDR:PORT` as `ss` prints it (`[::1]:22`, `192.0.2.1:22`).
fn endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.rsplit_once(':')?;
    Some((strip(addr)?, port.parse().ok()?))
}

/// Established connections to sshd's listening ports (`ss`).
fn from_sockets() -> Vec<Session> {
    let run = |args: &[&str]| {
        Command::new("ss")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let listening: Vec<u16> = run(&["-Hltnp"])
        .lines()
        .filter(|l| l.contains("((\"sshd"))
        .filter_map(|l| endpoint(l.split_whitespace().nth(3)?).map(|(_, p)| p))
        .collect();
    if listening.is_empty() {
        return Vec::new();
    }
    run(&["-Htn", "state", "established"])
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Recv-Q Send-Q Local Peer (state is implied by the filter).
            let (server, port) = endpoint(f.get(2)?)?;
            let (client, client_port) = endpoint(f.get(3)?)?;
            listening.contains(&port).then_some(Session {
                client,
                client_port,
                server,
                port,
                from: "the socket table",
            })
        })
        .collect()
}

/// The sessions a new connection like which `rs` would refuse, with what
/// refuses it.
pub fn cut_sessions(rs: &Ruleset, sessions: &[Session]) -> Vec<(Session, String)> {
    let Some(input) = rs.chain(Hook::Input) else {
        return Vec::new();
    };
    sessions
        .iter()
        .filter_map(|s| {
            let pkt = Packet {
                loopback_in: s.client.is_loopback(),
                saddr: s.client,
                daddr: s.server,
                l4: L4::Tcp {
                    sport: s.client_port,
                    dport: s.port,
                },
                ct: None,
                payload: &[],
            };
            let d = eval::evaluate(input, &pkt, &EmptySets);
            (d.action != Verdict::Accept).then(|| {
                let by = d.rule.map_or_else(
                    || "the chain's policy".to_owned(),
                    |r| format!("rule \"{}\"", r.comment),
                );
                (*s, format!("{:?} by {by}", d.action))
            })
        })
        .collect()
}

/// Everything `apply` refuses for `rs` (rendered as `text`), one line
/// each; empty when it is safe to load. `sessions` says whether this
/// host's SSH sessions count: `check` judges a file that may be for
/// another host, `apply` loads it here.
pub fn refusals(rs: &Ruleset, text: &str, sessions_here: bool) -> Vec<String> {
    // FreeSWITCH's own settings sharpen the ESL checks where it is installed.
    let dirs: Vec<&std::path::Path> = super::policy::FREESWITCH_DIRS
        .iter()
        .map(std::path::Path::new)
        .collect();
    let inventory = super::policy::freeswitch_tree(&dirs)
        .ok()
        .flatten()
        .and_then(|d| super::policy::inventory(&d).ok());
    let here = if sessions_here {
        sessions()
    } else {
        Vec::new()
    };
    let mut out: Vec<String> = cut_sessions(rs, &here)
        .into_iter()
        .map(|(s, by)| {
            format!(
                "a new SSH connection from {} to port {} (as the session in {}) would be {by}; allow it in the policy (a service of kind \"ssh\" with port {})",
                s.client, s.port, s.from, s.port
            )
        })
        .collect();
    out.extend(
        findings(text, inventory.as_ref())
            .into_iter()
            .map(|f| format!("{} {}: {}", f.severity, f.id, f.message)),
    );
    out
}
