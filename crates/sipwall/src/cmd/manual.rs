//! The command line's own manual: man pages and shell completions, both
//! generated from the clap definition so they cannot drift from it.
//!
//! `sipwall completions SHELL` prints a completion script (packagers and
//! users alike call it); the hidden `__man-pages DIR` writes `sipwall.8`
//! and one `sipwall-COMMAND.8` per subcommand for the Debian package.

use crate::exit::{Failure, Outcome, Success};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `sipwall completions`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of the hidden `sipwall __man-pages`.
#[derive(clap::Args, Debug)]
pub struct ManPagesArgs {
    /// The folder to write the pages into (created if missing).
    pub dir: PathBuf,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: CompletionsArgs, cli: clap::Command) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut visible(&cli), "sipwall", &mut script);
    std::io::stdout()
        .write_all(&script)
        .context("writing the completion script")
        .map_err(Failure::failed)?;
    Ok(Success::Clean)
}

/// `cmd` without its hidden subcommands: the generators offer those too,
/// and clap has no way to remove a subcommand, so the tree is rebuilt.
fn visible(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_owned())
        .args(cmd.get_arguments().cloned())
        .groups(cmd.get_groups().cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible),
        );
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_owned());
    }
    out
}

/// Writes the man pages of `cli` and of each visible subcommand into `args.dir`.
pub fn man_pages(args: ManPagesArgs, cli: clap::Command) -> Outcome {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))
        .map_err(Failure::failed)?;
    write_pages(&args.dir, &cli, "sipwall").map_err(Failure::failed)?;
    Ok(Success::Clean)
}

/// One page for `cmd`, named `name`, then one per visible subcommand
/// (`sipwall-bans-add.8`), the way git and cargo name theirs.
fn write_pages(dir: &Path, cmd: &clap::Command, name: &str) -> anyhow::Result<()> {
    // The page's usage line shows the whole command (`sipwall bans add`).
    let shown = cmd.clone().bin_name(name.replace('-', " "));
    let mut page = Vec::new();
    clap_mangen::Man::new(shown)
        .title(name)
        .section("8")
        .render(&mut page)
        .with_context(|| format!("rendering {name}.8"))?;
    let path = dir.join(format!("{name}.8"));
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_pages(dir, sub, &sub_name)?;
    }
    Ok(())
}
