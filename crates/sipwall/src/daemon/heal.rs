//! Tables another tool wiped, loaded again.
//!
//! `flush ruleset` deletes every table: Debian's nftables.service runs it
//! on start, reload and stop, and so does `nft -f /etc/nftables.conf`
//! (its first line). A host would then run unfiltered and unguarded until
//! the next apply. So every [`CHECK_EVERY`] the daemon asks which tables
//! exist, and when sipwall's is gone it loads the table apply last loaded
//! (the state directory keeps its text), then the intake, then puts the
//! bans back from the ledger (as at start) and the open pinholes from the
//! engine. Verified sources are not put back: they verify again with their
//! next call or registration.

use sipwall_netfilter::{NetfilterError, NftCli, Nftables};
use std::time::Duration;

/// How often the daemon looks for its tables.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Which of the daemon's tables the kernel still has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Present {
    /// `table inet sipwall`.
    pub ruleset: bool,
    /// The intake table (only meaningful when the intake is one).
    pub intake: bool,
}

/// Asks the kernel (`nft list tables`: names only, cheap whatever the
/// sets hold).
pub fn present(nft: &NftCli, ruleset: &str, intake: &str) -> Result<Present, NetfilterError> {
    let names = nft.list_tables()?;
    let has = |name: &str| names.iter().any(|(f, n)| f == "inet" && n == name);
    Ok(Present {
        ruleset: has(ruleset),
        intake: has(intake),
    })
}

/// Loads `table_text` (as apply rendered it) into an empty kernel.
pub fn reload(nft: &NftCli, table_text: &str) -> Result<(), NetfilterError> {
    nft.load(&sipwall_ruleset::nft::replace_script(table_text, ""))
}
