//! A finding: a stable id, a severity, a message and where to look.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// How bad a finding is; ordered, `info` lowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// Untidy: something opened for nothing, a fragile rule.
    Low,
    /// Something breaks, or a risk under conditions.
    Medium,
    /// A service breaks, or the host is exposed.
    High,
    /// Anyone can take over the switch.
    Critical,
}

impl Severity {
    /// Its name in text and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("unknown severity {s:?} (info, low, medium, high, critical)"))
    }
}

/// The stable identity of a kind of finding (docs/audit.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Id {
    /// The event socket is reachable beyond loopback or an admin zone.
    EslExposed,
    /// The event socket keeps FreeSWITCH's well-known password.
    EslDefaultPassword,
    /// The event socket's password is short or common.
    EslWeakPassword,
    /// The event socket listens beyond loopback.
    EslListenWide,
    /// RTP relies on RELATED, but no SIP helper is assigned.
    SipHelperUnassigned,
    /// The RTP ports the firewall opens differ from switch.conf's.
    RtpRangeMismatch,
    /// A live SIP, WebSocket or Verto port is rejected.
    ProfilePortClosed,
    /// A port is opened but nothing in the configuration listens on it.
    PortOpenUnused,
    /// IPv4 is filtered, IPv6 is not.
    Ipv6Unfiltered,
    /// The input says nothing about IPv6.
    Ipv6Unknown,
    /// New connections to unused ports are accepted.
    NoDefaultDeny,
    /// A log rule without a rate limit.
    LogUnlimited,
    /// A substring match drops packets.
    ScannerStringMatch,
    /// Loading the ruleset may cut off SSH.
    SshLockoutRisk,
}

impl Id {
    /// Its stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Id::EslExposed => "esl-exposed",
            Id::EslDefaultPassword => "esl-default-password",
            Id::EslWeakPassword => "esl-weak-password",
            Id::EslListenWide => "esl-listen-wide",
            Id::SipHelperUnassigned => "sip-helper-unassigned",
            Id::RtpRangeMismatch => "rtp-range-mismatch",
            Id::ProfilePortClosed => "profile-port-closed",
            Id::PortOpenUnused => "port-open-unused",
            Id::Ipv6Unfiltered => "ipv6-unfiltered",
            Id::Ipv6Unknown => "ipv6-unknown",
            Id::NoDefaultDeny => "no-default-deny",
            Id::LogUnlimited => "log-unlimited",
            Id::ScannerStringMatch => "scanner-string-match",
            Id::SshLockoutRisk => "ssh-lockout-risk",
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind.
    pub id: Id,
    /// How bad.
    pub severity: Severity,
    /// What is wrong and what to do, for people.
    pub message: String,
    /// `file:line` of the rule or configuration line, or the nft chain and
    /// handle; `None` when the finding is about something absent.
    pub location: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.location {
            write!(f, "{at}: ")?;
        }
        write!(f, "{} [{}]: {}", self.severity, self.id, self.message)
    }
}
