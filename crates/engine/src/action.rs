//! What the engine asks its caller to do. Actions are values; the daemon
//! turns them into netlink set updates and ledger rows, replay prints them.

use crate::time::Timestamp;
use std::fmt;
use std::net::IpAddr;

/// Why a source is banned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BanReason {
    /// A scanner's User-Agent (the pattern that matched).
    ScannerUserAgent(String),
    /// SIPVicious's From-tag fingerprint (it survives a User-Agent change).
    SipviciousTag,
    /// A Request-URI whose host is an IP address other than this host's.
    IpLiteralDomain,
    /// More requests than the flood limit allows.
    Flood,
    /// Failed authentications (per source, or against an account under attack).
    BruteForce {
        /// The account tried last.
        account: String,
    },
    /// Requests for many distinct unknown users.
    Enumeration,
    /// Malformed SIP.
    Malformed,
    /// Added by the admin.
    Manual,
}

impl BanReason {
    /// A short stable name (for metrics and the ledger).
    pub fn kind(&self) -> &'static str {
        match self {
            BanReason::ScannerUserAgent(_)
            | BanReason::SipviciousTag
            | BanReason::IpLiteralDomain => "scanner",
            BanReason::Flood => "flood",
            BanReason::BruteForce { .. } => "brute-force",
            BanReason::Enumeration => "enumeration",
            BanReason::Malformed => "malformed",
            BanReason::Manual => "manual",
        }
    }
}

impl fmt::Display for BanReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BanReason::ScannerUserAgent(ua) => write!(f, "scanner: User-Agent {ua:?}"),
            BanReason::SipviciousTag => f.write_str("scanner: SIPVicious From tag"),
            BanReason::IpLiteralDomain => f.write_str("scanner: IP-literal request domain"),
            BanReason::Flood => f.write_str("flood"),
            BanReason::BruteForce { account } => write!(f, "brute force ({account})"),
            BanReason::Enumeration => f.write_str("enumeration"),
            BanReason::Malformed => f.write_str("malformed SIP"),
            BanReason::Manual => f.write_str("manual"),
        }
    }
}

/// A pinhole: a local UDP port, optionally only for one remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PinholeKey {
    /// The local port media arrives on.
    pub port: u16,
    /// The remote address, when pinholes are keyed on it.
    pub remote: Option<IpAddr>,
}

impl fmt::Display for PinholeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.remote {
            Some(r) => write!(f, "{r} -> udp/{}", self.port),
            None => write!(f, "* -> udp/{}", self.port),
        }
    }
}

/// Why a pinhole closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The call ended (BYE, CANCEL, a final error, or hang-up).
    CallEnded,
    /// A re-INVITE moved the media elsewhere.
    Moved,
    /// Its time ran out (the kernel removes it by itself).
    Expired,
}

/// Why a detector's ban was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shield {
    /// The source is in a zone of `guard.allow` (or loopback).
    Allowlisted,
    /// The source proved return-routable within `guard.verified_for` and
    /// the evidence against it is unverified (UDP anyone could forge).
    Verified,
}

impl Shield {
    /// A short stable name (for metrics).
    pub fn kind(self) -> &'static str {
        match self {
            Shield::Allowlisted => "allowlisted",
            Shield::Verified => "verified",
        }
    }
}

impl fmt::Display for Shield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shield::Allowlisted => "allowlisted",
            Shield::Verified => "verified source, unverified evidence",
        })
    }
}

/// One thing for the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Put `addr` in the ban set until `until`.
    Ban {
        /// The source.
        addr: IpAddr,
        /// When the ban ends.
        until: Timestamp,
        /// Why.
        reason: BanReason,
        /// What was seen, for the ledger.
        evidence: String,
    },
    /// Put the whole network `prefix` in the ban set until `until` (an
    /// interval element): enough of its addresses were banned within the
    /// ban time that the sender is rotating through it.
    BanPrefix {
        /// The network.
        prefix: ipnet::IpNet,
        /// When the ban ends (the kernel removes the element by itself).
        until: Timestamp,
        /// The reason of the ban that tipped it.
        reason: BanReason,
        /// What was seen.
        evidence: String,
    },
    /// Remove the prefix ban of `prefix` (lifted by hand).
    UnbanPrefix {
        /// The network, as banned.
        prefix: ipnet::IpNet,
    },
    /// A detector fired but `addr` is shielded: nothing to change in the
    /// kernel, a line to log (at most one a minute per source; every one
    /// is counted in [`crate::Stats`]).
    BanSuppressed {
        /// The source.
        addr: IpAddr,
        /// The ban it would have got.
        reason: BanReason,
        /// What was seen.
        evidence: String,
        /// Why no ban.
        why: Shield,
    },
    /// `addr` proved return-routable (a completed registration or dialog):
    /// the first line in the kernel must not ban it for a flood until
    /// `until` (it still drops what is over the rate). Announced on the
    /// first verification and again when less than a quarter of
    /// `guard.verified_for` is left, never per packet.
    Verified {
        /// The source.
        addr: IpAddr,
        /// When its verification lapses unless renewed.
        until: Timestamp,
    },
    /// Take `addr` out of the ban set now (an admin's decision).
    Unban {
        /// The source.
        addr: IpAddr,
    },
    /// A ban ran out; the kernel removed the element by itself.
    BanExpired {
        /// The source.
        addr: IpAddr,
    },
    /// `addr` registered successfully: not banned until `until` (flood aside).
    Allow {
        /// The source.
        addr: IpAddr,
        /// Until when.
        until: Timestamp,
    },
    /// Add (or refresh) a pinhole until `until`.
    OpenPinhole {
        /// The pinhole.
        key: PinholeKey,
        /// When it closes by itself.
        until: Timestamp,
    },
    /// Remove a pinhole (for [`CloseReason::Expired`] the kernel already did).
    ClosePinhole {
        /// The pinhole.
        key: PinholeKey,
        /// Why.
        reason: CloseReason,
    },
}
