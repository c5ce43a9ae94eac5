//! `sipwall apply`, `confirm`, `reset`, and the detached watchdog that
//! rolls an unconfirmed apply back.

use super::policy::PolicyArgs;
use crate::exit::{Failure, Outcome, Success};
use anyhow::anyhow;
use clap::Args;
use sipwall_netfilter::confirm::{now_ms, Settled};
use sipwall_netfilter::{Firewall, NftCli, StateDir, Table};
use sipwall_ruleset::eval::{self, EmptySets, Packet, Verdict, L4};
use sipwall_ruleset::ir::Hook;
use sipwall_ruleset::{Ruleset, TABLE};
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where apply keeps its state.
#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// Directory for the previous ruleset and the confirmation markers.
    #[arg(
        long,
        env = "SIPWALL_STATE_DIR",
        default_value = "/run/sipwall",
        value_name = "DIR"
    )]
    state_dir: PathBuf,
}

impl StateArgs {
    fn open(&self) -> Result<StateDir, Failure> {
        StateDir::open(&self.state_dir).map_err(Failure::failed)
    }
}

/// Arguments of `sipwall apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Roll back unless confirmed within SECS (at the prompt, or with `sipwall confirm`).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    confirm: Option<u64>,
    /// Apply even if it would cut off the SSH connection this runs from.
    #[arg(long)]
    force: bool,
    /// Where the applied ruleset is saved once final (confirmed, or applied
    /// without --confirm), for sipwall-firewall.service to load at boot.
    #[arg(
        long,
        env = "SIPWALL_SAVED_RULESET",
        default_value = "/var/lib/sipwall/ruleset.nft",
        value_name = "FILE"
    )]
    save: PathBuf,
    #[command(flatten)]
    state: StateArgs,
}

/// Arguments of `sipwall confirm`.
#[derive(Args, Debug)]
pub struct ConfirmArgs {
    #[command(flatten)]
    state: StateArgs,
}

/// Arguments of `sipwall reset`.
#[derive(Args, Debug)]
pub struct ResetArgs {
    #[command(flatten)]
    state: StateArgs,
}

/// Arguments of the hidden rollback watchdog.
#[derive(Args, Debug)]
pub struct WatchdogArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The apply it guards.
    #[arg(long)]
    token: String,
}

fn table_of(rs: &Ruleset) -> Table {
    Table {
        name: TABLE.to_owned(),
        text: sipwall_ruleset::nft::render(rs),
        sets: rs
            .sets
            .iter()
            .filter(|s| s.survives_replacement())
            .map(|s| {
                (
                    s.name.clone(),
                    sipwall_ruleset::nft::set_type(s.key).to_owned(),
                )
            })
            .collect(),
    }
}

/// The SSH connection this process runs from, as `SSH_CONNECTION` tells it:
/// client address, client port, server address, server port.
fn ssh_connection() -> Option<(IpAddr, u16, IpAddr, u16)> {
    let v = std::env::var("SSH_CONNECTION").ok()?;
    let mut p = v.split_whitespace();
    let strip = |s: &str| s.trim_start_matches("::ffff:").parse::<IpAddr>().ok();
    let client = strip(p.next()?)?;
    let cport = p.next()?.parse().ok()?;
    let server = strip(p.next()?)?;
    let sport = p.next()?.parse().ok()?;
    Some((client, cport, server, sport))
}

/// Refuses a ruleset under which the admin could not open a new SSH
/// connection like the current one.
fn guard_ssh(rs: &Ruleset) -> Result<(), Failure> {
    let Some((client, cport, server, sport)) = ssh_connection() else {
        return Ok(());
    };
    let Some(input) = rs.chain(Hook::Input) else {
        return Ok(());
    };
    let pkt = Packet {
        loopback_in: client.is_loopback(),
        saddr: client,
        daddr: server,
        l4: L4::Tcp {
            sport: cport,
            dport: sport,
        },
        ct: None,
        payload: &[],
    };
    let d = eval::evaluate(input, &pkt, &EmptySets);
    if d.action == Verdict::Accept {
        return Ok(());
    }
    let by = d.rule.map_or_else(
        || "the chain's policy".to_owned(),
        |r| format!("rule \"{}\"", r.comment),
    );
    Err(Failure::failed(anyhow!(
        "refusing to apply: a new SSH connection from {client} to port {sport} (SSH_CONNECTION) would be {:?} by {by}; \
         allow it in the policy (e.g. a service of kind \"ssh\" with port {sport}) or use --force",
        d.action
    )))
}

/// Restores the table recorded before the last apply.
fn restore(state: &StateDir) -> Result<(), Failure> {
    let fw = Firewall::new(NftCli::default());
    match state.previous(TABLE).map_err(Failure::failed)? {
        Some(Some(table)) => fw.replace(&table).map_err(Failure::failed),
        Some(None) => fw.remove(TABLE).map(drop).map_err(Failure::failed),
        None => Err(Failure::failed(anyhow!(
            "no previous ruleset recorded in {}",
            state.path().display()
        ))),
    }
}

/// Applies a policy, optionally awaiting confirmation.
pub fn apply(a: ApplyArgs) -> Outcome {
    let loaded = a.policy.load()?;
    let rs = sipwall_ruleset::compile(&loaded.policy, &loaded.source);
    if !a.force {
        guard_ssh(&rs)?;
    }
    let table = table_of(&rs);
    let state = a.state.open()?;
    if let Some(p) = state.pending().map_err(Failure::failed)? {
        if p.deadline_ms + 5_000 > now_ms() {
            return Err(Failure::failed(anyhow!(
                "another apply awaits confirmation: run `sipwall confirm`, or wait for its rollback"
            )));
        }
    }
    let fw = Firewall::new(NftCli::default());
    fw.check(&table).map_err(Failure::failed)?;
    let previous = fw.current(TABLE).map_err(Failure::failed)?;
    state
        .save_previous(previous.as_ref())
        .map_err(Failure::failed)?;

    let Some(secs) = a.confirm else {
        fw.replace(&table).map_err(Failure::failed)?;
        save(&a.save, &table)?;
        println!(
            "applied {} (table inet {TABLE}); previous state saved in {}; saved for boot in {}",
            loaded.source,
            state.path().display(),
            a.save.display()
        );
        return Ok(Success::Clean);
    };

    // The watchdog starts before the new rules do, so that whatever happens
    // to this process afterwards, an unconfirmed apply is rolled back.
    let pending = state
        .begin(Duration::from_secs(secs))
        .map_err(Failure::failed)?;
    let watchdog = spawn_watchdog(&a.state, &pending.token);
    if let Err(e) = fw.replace(&table) {
        let _ = state.claim_rollback(&pending.token);
        return Err(Failure::failed(e));
    }
    if let Err(e) = &watchdog {
        eprintln!("warning: no rollback watchdog ({e}); this process will roll back itself");
    }
    println!(
        "applied {} (table inet {TABLE}); rolling back in {secs}s unless confirmed",
        loaded.source
    );
    let outcome = wait_for_confirmation(&state, &pending.token, pending.deadline_ms)?;
    save(&a.save, &table)?;
    println!("saved for boot in {}", a.save.display());
    Ok(outcome)
}

/// Saves the final ruleset as a script that loads it on an empty kernel
/// as well as over an older sipwall table (what the boot unit runs).
fn save(path: &std::path::Path, table: &Table) -> Result<(), Failure> {
    let script = sipwall_ruleset::nft::replace_script(&table.text, "");
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, script)?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        Failure::failed(anyhow!(
            "the ruleset is applied but could not be saved for boot in {}: {e}",
            path.display()
        ))
    })
}

fn spawn_watchdog(state: &StateArgs, token: &str) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    Command::new(std::env::current_exe()?)
        .arg("__rollback-watchdog")
        .arg("--state-dir")
        .arg(&state.state_dir)
        .arg("--token")
        .arg(token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: ^C or a hang-up of this terminal does not reach it.
        .process_group(0)
        .spawn()
        .map(drop)
}

fn wait_for_confirmation(state: &StateDir, token: &str, deadline_ms: u128) -> Outcome {
    let (tx, rx) = std::sync::mpsc::channel();
    if std::io::stdin().is_terminal() {
        println!("Keep it? Type \"yes\" and Enter (or run `sipwall confirm` from another shell).");
        std::thread::spawn(move || {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                if matches!(line.trim(), "yes" | "y") {
                    let _ = tx.send(());
                    return;
                }
                line.clear();
            }
        });
    } else {
        println!("Waiting for `sipwall confirm`.");
    }
    loop {
        if rx.try_recv().is_ok() {
            state.confirm().map_err(Failure::failed)?;
        }
        match state.settled(token).map_err(Failure::failed)? {
            Settled::Confirmed => {
                println!("confirmed: the new ruleset stays");
                return Ok(Success::Clean);
            }
            Settled::RolledBack => {
                // The watchdog restores right after claiming: give it a moment.
                std::thread::sleep(Duration::from_millis(500));
                return Err(Failure::failed(anyhow!(
                    "not confirmed in time: rolled back to the previous ruleset"
                )));
            }
            Settled::Superseded => return Err(Failure::failed(anyhow!("another apply took over"))),
            Settled::Pending => {}
        }
        // Belt and braces: if no watchdog acted shortly after the deadline, roll back here.
        if now_ms() > deadline_ms + 2_000 && state.claim_rollback(token).map_err(Failure::failed)? {
            restore(state)?;
            return Err(Failure::failed(anyhow!(
                "not confirmed in time: rolled back to the previous ruleset"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Confirms a pending apply.
pub fn confirm(a: ConfirmArgs) -> Outcome {
    let state = a.state.open()?;
    if state.confirm().map_err(Failure::failed)? {
        println!("confirmed");
        Ok(Success::Clean)
    } else {
        Err(Failure::failed(anyhow!(
            "nothing to confirm: no apply awaits confirmation"
        )))
    }
}

/// Removes sipwall's table, and cancels a pending rollback (which would
/// otherwise bring it back).
pub fn reset(a: ResetArgs) -> Outcome {
    let state = a.state.open()?;
    let _ = state.confirm();
    let fw = Firewall::new(NftCli::default());
    if fw.remove(TABLE).map_err(Failure::failed)? {
        println!("removed table inet {TABLE}");
    } else {
        println!("table inet {TABLE} was not loaded: nothing to remove");
    }
    Ok(Success::Clean)
}

/// The detached watchdog: rolls the apply `token` back at its deadline
/// unless it was confirmed (or superseded) first.
pub fn watchdog(a: WatchdogArgs) -> Outcome {
    let state = a.state.open()?;
    loop {
        let Some(p) = state.pending().map_err(Failure::failed)? else {
            return Ok(Success::Clean);
        };
        if p.token != a.token {
            return Ok(Success::Clean);
        }
        let now = now_ms();
        if now >= p.deadline_ms {
            if state.claim_rollback(&a.token).map_err(Failure::failed)? {
                restore(&state)?;
            }
            return Ok(Success::Clean);
        }
        let wait = (p.deadline_ms - now).min(200) as u64;
        std::thread::sleep(Duration::from_millis(wait));
    }
}
