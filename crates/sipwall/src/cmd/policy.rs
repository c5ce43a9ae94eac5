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
            let dirs: Vec<&Path> = FREESWITCH_DIRS.iter().map(Path::new).collect();
            return match freeswitch_tree(&dirs)? {
                Some(dir) => discovered(&dir),
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
            .map_err(|e| Failure::bad_input(PolicyDiagnostics::new(e, text)))?;
        warn(&name, &policy);
        Ok(Loaded {
            policy,
            source: name,
        })
    }
}

/// The FreeSWITCH configuration to derive the policy from: the first of
/// `dirs` that exists, or `None` when FreeSWITCH is not installed. A tree
/// that exists but cannot be read is an error, never a reason to fall back
/// to the built-in policy: that would open vanilla's ports on a host
/// configured otherwise, and close the ones it really uses.
/// The first of `dirs` that holds a FreeSWITCH configuration.
pub fn freeswitch_tree(dirs: &[&Path]) -> Result<Option<PathBuf>, Failure> {
    let unreadable = |dir: &Path, why: String| {
        Failure::bad_input(anyhow::anyhow!(
            "{}: FreeSWITCH's configuration is here but cannot be read ({why}); fix it, or give the policy with -c",
            dir.display()
        ))
    };
    for &dir in dirs {
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(unreadable(dir, e.to_string())),
            Ok(_) => {}
        }
        // Followed, this time: a dangling link or a file is not a tree.
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(unreadable(dir, "not a directory".into())),
            Err(e) => return Err(unreadable(dir, e.to_string())),
        }
        let entry = dir.join(sipwall_freeswitch::discover::ENTRY);
        match std::fs::metadata(&entry).and_then(|m| {
            std::fs::File::open(&entry)?;
            Ok(m)
        }) {
            Ok(m) if m.is_file() => return Ok(Some(dir.to_path_buf())),
            Ok(_) => {
                return Err(unreadable(
                    dir,
                    format!("{} is not a file", entry.display()),
                ))
            }
            Err(e) => return Err(unreadable(dir, format!("{}: {e}", entry.display()))),
        }
    }
    Ok(None)
}

/// FreeSWITCH's configuration in `dir`, read whole: a policy from part of
/// it could miss a profile's port, so an unreadable include is an error.
pub fn inventory(dir: &Path) -> Result<sipwall_freeswitch::Inventory, Failure> {
    let options = sipwall_freeswitch::Options {
        vars: Vec::new(),
        env: std::env::vars().collect(),
    };
    let inventory = sipwall_freeswitch::discover(&sipwall_freeswitch::Disk, dir, &options)
        .with_context(|| format!("discovering the policy from {}", dir.display()))
        .map_err(Failure::bad_input)?;
    let unread: Vec<String> = inventory
        .warnings
        .iter()
        .filter(|w| w.kind == sipwall_freeswitch::WarningKind::UnreadableInclude)
        .map(ToString::to_string)
        .collect();
    if !unread.is_empty() {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "{}: part of FreeSWITCH's configuration cannot be read, so no policy is derived from it; fix it, or give the policy with -c\n  {}",
            dir.display(),
            unread.join("\n  ")
        )));
    }
    Ok(inventory)
}

/// The policy derived from the FreeSWITCH configuration in `dir`.
fn discovered(dir: &Path) -> Result<Loaded, Failure> {
    let inventory = inventory(dir)?;
    let source = format!("{} (discovered)", dir.display());
    let text = crate::discovered_policy::policy_toml(&inventory);
    let policy = sipwall_policy::parse(&source, &text)
        .map_err(|e| Failure::bad_input(PolicyDiagnostics::new(e, text)))?;
    warn(&source, &policy);
    Ok(Loaded { policy, source })
}

/// Says on stderr what a valid but surprising policy really does; every
/// command that loads a policy (check, compile, apply, run) says it.
fn warn(source: &str, policy: &Policy) {
    for w in sipwall_policy::warnings(policy) {
        eprintln!("{source}: warning: {w}");
    }
}

/// A policy error as the user sees it, the way rustc shows one: per
/// problem a first line `file:line:col: message` (what scripts grep), the
/// source line with carets under the span, and a help line where there is
/// one. Colour only on a terminal; the snippet always, as cargo does.
#[derive(Debug)]
struct PolicyDiagnostics {
    error: PolicyError,
    /// The policy's text, for the snippets.
    source: String,
}

impl PolicyDiagnostics {
    fn new(error: PolicyError, source: String) -> Self {
        PolicyDiagnostics { error, source }
    }
}

impl std::fmt::Display for PolicyDiagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::io::IsTerminal as _;
        let colour = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        for (i, d) in self.error.diagnostics.iter().enumerate() {
            if i > 0 {
                // A blank line between problems, as rustc leaves.
                write!(f, "\n\n")?;
            }
            write!(f, "{d}")?;
            let snippet = snippet(d, &self.source, colour);
            if !snippet.is_empty() {
                write!(f, "\n{snippet}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for PolicyDiagnostics {}

/// The source line of `d` with carets under its span and its help line,
/// rendered by miette (ASCII, as rustc: it survives any terminal and the
/// journal). Empty for a problem with no place in the file.
fn snippet(d: &sipwall_policy::Diagnostic, source: &str, colour: bool) -> String {
    if d.at.line == 0 {
        return String::new();
    }
    let theme = miette::GraphicalTheme {
        characters: miette::ThemeCharacters::ascii(),
        styles: if colour {
            miette::ThemeStyles::ansi()
        } else {
            miette::ThemeStyles::none()
        },
    };
    let report = Snippet {
        help: d.help(),
        span: d.span.start.min(source.len())..d.span.end.min(source.len()),
        source: miette::NamedSource::new(&d.file, source.to_owned()),
    };
    let mut out = String::new();
    if miette::GraphicalReportHandler::new_themed(theme)
        .with_width(usize::MAX / 2)
        .render_report(&mut out, &report)
        .is_err()
    {
        return String::new();
    }
    // miette's first line repeats the message, which our own first line
    // already gives in the greppable `file:line:col: message` form.
    match out.split_once('\n') {
        Some((_, rest)) => rest.trim_end().to_owned(),
        None => String::new(),
    }
}

/// One problem as miette sees it: a place in a named source and a help.
#[derive(Debug)]
struct Snippet {
    help: Option<String>,
    span: std::ops::Range<usize>,
    source: miette::NamedSource<String>,
}

impl std::fmt::Display for Snippet {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl std::error::Error for Snippet {}

impl miette::Diagnostic for Snippet {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_primary_with_span(None, self.span.clone()),
        )))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
}

/// Arguments of `sipwall check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Accept what `apply` would refuse without --force (an event socket
    /// reachable from beyond loopback and admin zones).
    #[arg(long)]
    force: bool,
}

/// What `apply` would refuse for a loaded policy (see `safety`).
fn refusals(l: &Loaded) -> Vec<String> {
    let rs = sipwall_ruleset::compile(&l.policy, &l.source);
    super::safety::refusals(&rs, &sipwall_ruleset::nft::render(&rs), false)
}

/// Validates a policy: exit 0 and a summary, or exit 2 and every problem;
/// exit 1 when it is valid but `apply` would refuse it (unless --force).
pub fn check(a: CheckArgs) -> Outcome {
    let refused = |l: &Loaded| if a.force { Vec::new() } else { refusals(l) };
    match (a.policy.load(), a.format) {
        (Ok(l), Format::Text) => {
            let refused = refused(&l);
            if !refused.is_empty() {
                outln!(
                    "{}: valid, but apply refuses it (--force to accept):\n  {}",
                    l.source,
                    refused.join("\n  ")
                );
                return Ok(Success::Findings);
            }
            outln!(
                "{}: ok ({} services, media = {})",
                l.source,
                l.policy.services.len(),
                l.policy.media.mode.name()
            );
            Ok(Success::Clean)
        }
        (Ok(l), Format::Json) => {
            let refused = refused(&l);
            let v = serde_json::json!({
                "ok": refused.is_empty(),
                "refused": refused,
                "source": l.source,
                "services": l.policy.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
                "media": l.policy.media.mode.name(),
                "errors": [],
                "warnings": sipwall_policy::warnings(&l.policy).iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
            outln!("{v}");
            Ok(if v["ok"] == true {
                Success::Clean
            } else {
                Success::Findings
            })
        }
        (Err(Failure::BadInput(e)), Format::Json) => {
            let errors: Vec<serde_json::Value> = match e.downcast_ref::<PolicyDiagnostics>() {
                Some(d) => d
                    .error
                    .diagnostics
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "file": d.file, "line": d.at.line, "col": d.at.col, "message": d.kind.to_string(),
                            "help": d.help(),
                        })
                    })
                    .collect(),
                None => vec![serde_json::json!({ "message": format!("{e:#}") })],
            };
            outln!("{}", serde_json::json!({ "ok": false, "errors": errors }));
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
    /// Output format (json: `{"target", "source", "text"}`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Prints the ruleset for a target.
pub fn compile(a: CompileArgs) -> Outcome {
    let l = a.policy.load()?;
    let text = render(&l, a.target)?;
    match a.format {
        Format::Text => out!("{text}"),
        Format::Json => outln!(
            "{}",
            serde_json::json!({
                "target": a.target.to_possible_value().map(|v| v.get_name().to_owned()),
                "source": l.source,
                "text": text,
            })
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "<document type=\"freeswitch/xml\">\n<X-PRE-PROCESS cmd=\"include\" data=\"sip_profiles/*.xml\"/>\n</document>\n";

    fn message(r: Result<Option<PathBuf>, Failure>) -> String {
        match r {
            Err(Failure::BadInput(e)) => format!("{e:#}"),
            Err(e) => panic!("not bad input: {e:?}"),
            Ok(found) => panic!("accepted: {found:?}"),
        }
    }

    #[test]
    fn no_freeswitch_tree_means_the_builtin_policy() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("etc-freeswitch");
        assert!(matches!(freeswitch_tree(&[&absent]), Ok(None)));
    }

    #[test]
    fn the_first_tree_that_exists_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("freeswitch.xml"), ENTRY).unwrap();
        assert_eq!(freeswitch_tree(&[&a, &b]).ok().flatten(), Some(b));
    }

    #[test]
    fn an_unreadable_freeswitch_tree_is_an_error_not_the_builtin_policy() {
        let dir = tempfile::tempdir().unwrap();
        // A dangling symlink where the tree should be.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("gone"), &dangling).unwrap();
        let m = message(freeswitch_tree(&[&dangling]));
        assert!(
            m.contains("FreeSWITCH's configuration is here but cannot be read"),
            "{m}"
        );
        // A file where the tree should be.
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(message(freeswitch_tree(&[&file])).contains("not a directory"));
        // A tree whose entry file is missing or a dangling link: an error,
        // even when a later place holds a good tree.
        let (empty, good) = (dir.path().join("empty"), dir.path().join("good"));
        std::fs::create_dir(&empty).unwrap();
        std::fs::create_dir(&good).unwrap();
        std::fs::write(good.join("freeswitch.xml"), ENTRY).unwrap();
        let m = message(freeswitch_tree(&[&empty, &good]));
        assert!(m.contains("freeswitch.xml"), "{m}");
        std::os::unix::fs::symlink(dir.path().join("gone"), empty.join("freeswitch.xml")).unwrap();
        assert!(message(freeswitch_tree(&[&empty])).contains("cannot be read"));
    }

    #[test]
    fn an_unreadable_file_in_the_tree_is_an_error_not_a_partial_policy() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path();
        std::fs::write(tree.join("freeswitch.xml"), ENTRY).unwrap();
        std::fs::create_dir(tree.join("sip_profiles")).unwrap();
        std::os::unix::fs::symlink(
            tree.join("gone.xml"),
            tree.join("sip_profiles/internal.xml"),
        )
        .unwrap();
        let e = match discovered(tree) {
            Err(Failure::BadInput(e)) => format!("{e:#}"),
            other => panic!("{:?}", other.map(|l| l.source)),
        };
        assert!(
            e.contains("part of FreeSWITCH's configuration cannot be read"),
            "{e}"
        );
        assert!(e.contains("sip_profiles/internal.xml"), "{e}");
        // An XML error is an error too, as it always was.
        std::fs::remove_file(tree.join("sip_profiles/internal.xml")).unwrap();
        std::fs::write(
            tree.join("sip_profiles/internal.xml"),
            "<profile name=\"internal\">\n",
        )
        .unwrap();
        assert!(matches!(discovered(tree), Err(Failure::BadInput(_))));
    }
}
