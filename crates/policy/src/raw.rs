//! The policy file as written: TOML deserialized with spans, before any
//! meaning is checked. Unknown keys are errors here (`deny_unknown_fields`),
//! so a typo never silently weakens a firewall. `validate` turns a
//! [`RawPolicy`] into a resolved [`crate::Policy`].

use crate::port::Protocol;
use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

/// A name with the place it was written, as a map key.
pub type Name = Spanned<String>;

/// The whole policy file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Named sets of prefixes.
    #[serde(default)]
    pub zones: IndexMap<Name, Spanned<Vec<Spanned<String>>>>,
    /// The host's services, in file order (the order of the rules).
    #[serde(default)]
    pub services: IndexMap<Name, Spanned<RawService>>,
    /// How RTP gets through.
    pub media: Option<Spanned<RawMedia>>,
    /// Conntrack helper module options.
    #[serde(default)]
    pub helpers: RawHelpers,
    /// DSCP marks on outgoing traffic.
    #[serde(default)]
    pub dscp: RawDscp,
    /// Logging of denied packets.
    #[serde(default)]
    pub log: RawLog,
    /// ICMP policy.
    #[serde(default)]
    pub icmp: RawIcmp,
    /// Forwarded traffic.
    #[serde(default)]
    pub forward: RawForward,
    /// The kernel ban sets that the daemon fills.
    #[serde(default)]
    pub bans: RawBans,
    /// Options of the iptables-restore target only.
    #[serde(default)]
    pub iptables: RawIptables,
    /// The daemon's detectors.
    #[serde(default)]
    pub guard: RawGuard,
    /// The daemon's ledger of bans.
    #[serde(default)]
    pub ledger: RawLedger,
    /// CrowdSec's local API: decisions in, sipwall's bans out.
    pub crowdsec: Option<Spanned<RawCrowdSec>>,
    /// Blocklist feeds, each in sets of its own.
    #[serde(default)]
    pub feeds: Vec<Spanned<RawFeed>>,
    /// HEP export of what the guard did.
    pub hep: Option<Spanned<RawHep>>,
}

/// `[crowdsec]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCrowdSec {
    /// The local API's base URL, e.g. `"http://127.0.0.1:8080"`.
    pub lapi: Option<Spanned<String>>,
    /// The file holding the bouncer's API key.
    pub key_file: Option<Spanned<String>>,
    /// The watcher's credentials, as `cscli machines add -f` writes them.
    pub machine_file: Option<Spanned<String>>,
    /// How often decisions are pulled, e.g. `"5s"`.
    pub pull_interval: Option<Spanned<String>>,
    /// Push sipwall's own bans to the local API as alerts.
    pub push: Option<bool>,
}

/// `kind` of a `[[feeds]]` entry.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawFeedKind {
    /// APIBAN's v2 API.
    Apiban,
    /// Addresses and prefixes, one a line.
    List,
}

/// One `[[feeds]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    /// The feed's name, part of its sets' names.
    pub name: Spanned<String>,
    /// What speaks at the other end.
    pub kind: Spanned<RawFeedKind>,
    /// Where to fetch it (http or https).
    pub url: Option<Spanned<String>>,
    /// Or a local file to read.
    pub file: Option<Spanned<String>>,
    /// How often it is fetched again, e.g. `"1h"`.
    pub refresh: Option<Spanned<String>>,
    /// The file holding the API key (APIBAN).
    pub key_file: Option<Spanned<String>>,
}

/// `[hep]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHep {
    /// Where HEP packets go: `host:port` (UDP).
    pub address: Spanned<String>,
    /// The capture agent id Homer shows.
    pub id: Option<Spanned<i64>>,
}

/// `[ledger]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLedger {
    /// How long ended bans are kept, e.g. `"30d"`.
    pub retention: Option<Spanned<String>>,
}

/// `[guard]`: what the daemon bans, and whom it never bans.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    /// enforce (bans reach the kernel) or observe (they are only logged).
    pub mode: Option<Spanned<RawGuardMode>>,
    /// Zones never banned (loopback never is).
    pub allow: Option<Spanned<Vec<Spanned<String>>>>,
    /// Each repeat offence multiplies the ban time by this.
    pub escalation: Option<Spanned<i64>>,
    /// The longest ban.
    pub max_ban: Option<Spanned<String>>,
    /// How long a source that registered successfully stays allowed ("0s": never).
    pub registered_allow: Option<Spanned<String>>,
    /// How long return-routable evidence (a registration or dialog a blind
    /// spoofer could not complete) shields a source from bans on unverified evidence.
    pub verified_for: Option<Spanned<String>>,
    /// Scanner fingerprints.
    #[serde(default)]
    pub scanner: RawScanner,
    /// Per-source request rate.
    #[serde(default)]
    pub flood: RawFlood,
    /// Failed authentications.
    #[serde(default)]
    pub brute_force: RawBruteForce,
    /// Many distinct unknown users.
    #[serde(default)]
    pub enumeration: RawEnumeration,
    /// Unparseable SIP.
    #[serde(default)]
    pub malformed: RawMalformed,
}

/// What the daemon does with the bans its detectors decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawGuardMode {
    /// Put them in the kernel.
    Enforce,
    /// Log, count and record them; put nothing in the kernel.
    Observe,
}

/// `[guard.scanner]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScanner {
    /// On or off.
    pub enabled: Option<bool>,
    /// More User-Agent substrings (case-insensitive) beside the built-in list.
    pub user_agents: Option<Spanned<Vec<Spanned<String>>>>,
    /// SIPVicious's From-tag fingerprint.
    pub sipvicious_tag: Option<bool>,
    /// Request-URIs whose host is an IP address other than this host's.
    pub ip_literal_domains: Option<bool>,
}

/// `[guard.flood]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFlood {
    /// On or off.
    pub enabled: Option<bool>,
    /// Sustained requests per second per source.
    pub rate: Option<Spanned<i64>>,
    /// Requests a source may send at once.
    pub burst: Option<Spanned<i64>>,
    /// Sources tracked at most (least recently seen evicted).
    pub max_sources: Option<Spanned<i64>>,
}

/// `[guard.brute_force]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBruteForce {
    /// On or off.
    pub enabled: Option<bool>,
    /// Failures per source within `window` that ban it.
    pub max_failures: Option<Spanned<i64>>,
    /// The window.
    pub window: Option<Spanned<String>>,
    /// Failures for one account (from any sources) within `account_window`
    /// after which every further failing source for it is banned at once.
    pub account_max_failures: Option<Spanned<i64>>,
    /// The account window.
    pub account_window: Option<Spanned<String>>,
}

/// `[guard.enumeration]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawEnumeration {
    /// On or off.
    pub enabled: Option<bool>,
    /// Distinct users answered 404/403 within `window` that ban a source.
    pub max_users: Option<Spanned<i64>>,
    /// The window.
    pub window: Option<Spanned<String>>,
}

/// `[guard.malformed]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMalformed {
    /// Ban sources of malformed SIP (they are always counted).
    pub ban: Option<bool>,
    /// Malformed messages within `window` that ban a source.
    pub max: Option<Spanned<i64>>,
    /// The window.
    pub window: Option<Spanned<String>>,
}

/// One `[services.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// A catalog kind (`sip`, `esl`, ...) or `custom`.
    pub kind: Spanned<String>,
    /// Ports or ranges; the catalog's when absent.
    pub ports: Option<Spanned<Vec<Spanned<RawPort>>>>,
    /// Protocols; the catalog's when absent.
    pub protocols: Option<Spanned<Vec<Protocol>>>,
    /// Zones allowed to reach the service.
    pub allow: Spanned<Vec<Spanned<String>>>,
}

/// A port as written: `5060` or `"16384-32769"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPort {
    /// A number.
    Number(i64),
    /// A port or range as a string.
    Text(String),
}

/// How media (RTP/RTCP) is let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawMediaMode {
    /// Open the whole RTP range.
    Range,
    /// Let the kernel's SIP helper open RTP as RELATED.
    Helper,
    /// Let the daemon open per-call pinholes.
    Pinhole,
}

/// The `[media]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMedia {
    /// range, helper or pinhole.
    pub mode: Spanned<RawMediaMode>,
    /// The RTP range, RTCP included.
    pub ports: Option<Spanned<RawPort>>,
    /// Zones media may come from (range and pinhole modes).
    pub allow: Option<Spanned<Vec<Spanned<String>>>>,
    /// How long an idle pinhole lives (pinhole mode).
    pub pinhole_timeout: Option<Spanned<String>>,
    /// Key pinholes on the remote address too, where the SDP names it.
    pub pinhole_match_remote: Option<bool>,
}

/// The `[helpers]` table.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawHelpers {
    /// nf_conntrack_sip options.
    pub sip: Option<Spanned<RawSipHelper>>,
    /// nf_conntrack_h323 options.
    pub h323: Option<Spanned<RawH323Helper>>,
}

/// `[helpers.sip]`: nf_conntrack_sip's module options.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSipHelper {
    /// Assign the helper even when media is not `helper`.
    pub assign: Option<bool>,
    /// `sip_direct_media`.
    pub direct_media: Option<bool>,
    /// `sip_direct_signalling`.
    pub direct_signalling: Option<bool>,
    /// `sip_timeout`, seconds.
    pub timeout: Option<Spanned<i64>>,
    /// `ports` (only for automatic assignment; max 8).
    pub ports: Option<Spanned<Vec<Spanned<i64>>>>,
}

/// `[helpers.h323]`: nf_conntrack_h323's module options.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawH323Helper {
    /// `default_rrq_ttl`, seconds.
    pub default_rrq_ttl: Option<Spanned<i64>>,
    /// `gkrouted_only`.
    pub gkrouted_only: Option<bool>,
    /// `callforward_filter`.
    pub callforward_filter: Option<bool>,
}

/// `[dscp]`: class names, or `"none"`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDscp {
    /// Outgoing SIP signalling.
    pub sip: Option<Spanned<String>>,
    /// Outgoing RTP.
    pub rtp: Option<Spanned<String>>,
}

/// `[log]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// Log denied packets at all.
    pub enabled: Option<bool>,
    /// `N/second|minute|hour|day`.
    pub rate: Option<Spanned<String>>,
    /// The log line's prefix.
    pub prefix: Option<Spanned<String>>,
    /// A syslog level name.
    pub level: Option<Spanned<String>>,
}

/// `[icmp]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawIcmp {
    /// Answer ping (ICMP and ICMPv6 echo requests).
    pub echo: Option<bool>,
}

/// `[forward]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawForward {
    /// `drop` or `accept`.
    pub policy: Option<Spanned<String>>,
}

/// `[bans]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBans {
    /// Default ban time, e.g. `"1h"`.
    pub timeout: Option<Spanned<String>>,
    /// How often the kernel sweeps expired elements.
    pub gc_interval: Option<Spanned<String>>,
    /// Bans inside one IPv6 prefix within the ban time that ban the prefix (0: never).
    pub ipv6_prefix_after: Option<Spanned<i64>>,
    /// The length of that IPv6 prefix.
    pub ipv6_prefix: Option<Spanned<i64>>,
    /// The same for IPv4 (0, the default: never).
    pub ipv4_prefix_after: Option<Spanned<i64>>,
    /// The length of that IPv4 prefix.
    pub ipv4_prefix: Option<Spanned<i64>>,
}

/// `[iptables]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawIptables {
    /// Add the classic string-match drops for scanner User-Agents.
    pub scanner_string_match: Option<bool>,
    /// The strings those rules drop on.
    pub scanner_strings: Option<Spanned<Vec<Spanned<String>>>>,
}
