//! `sipwall check` and `sipwall compile`, and where a policy comes from.

use super::Format;
use crate::exit::{Failure, Outcome, Success};
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use sipwall_policy::{Policy, PolicyError};
use sipwall_ruleset::Family;
use std::path::{Path, PathBuf};

/// The system-wide policy file.
pub const SYSTEM_POLICY: &str = "/etc/sipwall/sipwall.toml";

/// Where FreeSWITCH keeps its configuration: Debian packages, source builds.
pub const FREESWITCH_DIRS: &[&str] = &["/etc/freeswitch", "/usr/local/freeswitch/conf"];

/// Where the policy comes from.
#[derive(Args, Debug, Clone)]
pub struct PolicyArgs {
    /// The policy file. Without it: /etc/sipwall/sipwall.toml if present,
    /// else the policy discovered from /etc/freeswitch (or
    /// /usr/local/freeswitch/conf), else the built-in default for a vanilla
    /// FreeSWITCH.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// A policy and the name of its source, for messages and rule comments.
pub struct Loaded {
    /// The policy.
    pub policy: Policy,
    /// Its file name, or `<built-in>`.
    pub source: String,
}

impl PolicyArgs {
    /// Reads and validates the policy; an invalid one is bad input (exit 2).
    pub fn load(&self) -> Result<Loaded, Failure> {
        let path = match &self.config {
            Some(p) => Some(p.clone()),
            None => Path::new(SYSTEM_POLICY)
                .exists()
                .then(|| PathBuf::from(SYSTEM_POLICY)),
        };
        let Some(path) = path else {
            return match FREESWITCH_DIRS
                .iter()
                .map(Path::new)
                .find(|d| d.join("freeswitch.xml").is_file())
            {
                Some(dir) => discovered(dir),
                None => Ok(Loaded {
                    policy: sipwall_policy::builtin(),
                    source: sipwall_policy::builtin::BUILTIN_NAME.to_owned(),
                }),
            };
        };
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{name}: cannot read the policy"))
            .map_err(Failure::bad_input)?;
        let policy = sipwall_policy::parse(&name, &text)
            .map_err(|e| Failure::bad_input(PolicyDiagnostics(e)))?;
        Ok(Loaded {
            policy,
            source: name,
        })
    }
}

/// The policy derived from the FreeSWITCH configuration in `dir`.
fn discovered(dir: &Path) -> Result<Loaded, Failure> {
    let options = sipwall_freeswitch::Options {
        vars: Vec::new(),
        env: std::env::vars().collect(),
    };
    let inventory = sipwall_freeswitch::discover(&sipwall_freeswitch::Disk, dir, &options)
        .with_context(|| format!("discovering the policy from {}", dir.display()))
        .map_err(Failure::bad_input)?;
    let source = format!("{} (discovered)", dir.display());
    let text = crate::discovered_policy::policy_toml(&inventory);
    let policy = sipwall_policy::parse(&source, &text)
        .map_err(|e| Failure::bad_input(PolicyDiagnostics(e)))?;
    Ok(Loaded { policy, source })
}

/// A policy error as the user sees it: one `file:line:col: message` per problem.
#[derive(Debug)]
struct PolicyDiagnostics(PolicyError);

impl std::fmt::Display for PolicyDiagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for PolicyDiagnostics {}

/// Arguments of `sipwall check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Validates a policy: exit 0 and a summary, or exit 2 and every problem.
pub fn check(a: CheckArgs) -> Outcome {
    match (a.policy.load(), a.format) {
        (Ok(l), Format::Text) => {
            println!(
                "{}: ok ({} services, media = {})",
                l.source,
                l.policy.services.len(),
                l.policy.media.mode.name()
            );
            Ok(Success::Clean)
        }
        (Ok(l), Format::Json) => {
            let v = serde_json::json!({
                "ok": true,
                "source": l.source,
                "services": l.policy.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
                "media": l.policy.media.mode.name(),
                "errors": [],
            });
            println!("{v}");
            Ok(Success::Clean)
        }
        (Err(Failure::BadInput(e)), Format::Json) => {
            let errors: Vec<serde_json::Value> = match e.downcast_ref::<PolicyDiagnostics>() {
                Some(d) => d
                    .0
                    .diagnostics
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "file": d.file, "line": d.at.line, "col": d.at.col, "message": d.kind.to_string(),
                        })
                    })
                    .collect(),
                None => vec![serde_json::json!({ "message": format!("{e:#}") })],
            };
            println!("{}", serde_json::json!({ "ok": false, "errors": errors }));
            Err(Failure::BadInput(anyhow::anyhow!("policy rejected")))
        }
        (Err(e), _) => Err(e),
    }
}

/// What `compile` prints.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// An nft script creating `table inet sipwall` (IPv4 and IPv6).
    Nft,
    /// An iptables-restore file (IPv4).
    Iptables,
    /// An ip6tables-restore file (IPv6).
    Ip6tables,
    /// A modprobe.d file with the conntrack helpers' options.
    Modprobe,
}

/// Arguments of `sipwall compile`.
#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Target::Nft)]
    target: Target,
}

/// Prints the ruleset for a target.
pub fn compile(a: CompileArgs) -> Outcome {
    let l = a.policy.load()?;
    let text = render(&l, a.target)?;
    print!("{text}");
    Ok(Success::Clean)
}

/// Renders a loaded policy for one target.
pub fn render(l: &Loaded, target: Target) -> Result<String, Failure> {
    let rs = sipwall_ruleset::compile(&l.policy, &l.source);
    Ok(match target {
        Target::Nft => sipwall_ruleset::nft::render(&rs),
        Target::Iptables => {
            sipwall_ruleset::iptables::render(&rs, Family::V4).map_err(Failure::bad_input)?
        }
        Target::Ip6tables => {
            sipwall_ruleset::iptables::render(&rs, Family::V6).map_err(Failure::bad_input)?
        }
        Target::Modprobe => sipwall_ruleset::modprobe::render(&l.policy, &l.source),
    })
}
