//! The resolved policy: every name checked, every default filled in, ready
//! for `sipwall-ruleset` to compile. Built only by [`crate::validate`].

use crate::catalog::Kind;
use crate::error::Location;
use crate::port::{PortRange, Protocol};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where a policy entry was written, for rule comments and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The entry's path in the file, e.g. `services.sip-internal`.
    pub entry: String,
    /// The file name (or `<built-in>`).
    pub file: String,
    /// Where the entry starts.
    pub at: Location,
}

impl std::fmt::Display for Origin {
    /// `services.esl (sipwall.toml:14)`: short enough for a rule comment.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = self.file.rsplit('/').next().unwrap_or(&self.file);
        write!(f, "{} ({}:{})", self.entry, file, self.at.line)
    }
}

/// A host's firewall policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Zones, the built-in `any` and `loopback` first.
    pub zones: Vec<Zone>,
    /// Services in file order.
    pub services: Vec<Service>,
    /// How media gets through.
    pub media: Media,
    /// Conntrack helper options.
    pub helpers: Helpers,
    /// DSCP marks.
    pub dscp: Dscp,
    /// Logging of denied packets.
    pub log: Log,
    /// Answer ping.
    pub icmp_echo: bool,
    /// Accept forwarded traffic (a host firewall drops it by default).
    pub forward_accept: bool,
    /// Ban sets.
    pub bans: Bans,
    /// iptables-only options.
    pub iptables: IptablesOptions,
    /// The daemon's detectors.
    pub guard: Guard,
    /// The daemon's ledger of bans.
    pub ledger: Ledger,
    /// CrowdSec's local API, when the daemon talks to it.
    pub crowdsec: Option<CrowdSec>,
    /// Blocklist feeds, in file order (each fills sets of its own).
    pub feeds: Vec<Feed>,
    /// Where HEP copies of what the guard did go, when anywhere.
    pub hep: Option<Hep>,
}

/// `[crowdsec]`: decisions pulled from CrowdSec's local API (the bouncer)
/// and sipwall's own bans pushed to it as alerts (the watcher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrowdSec {
    /// The local API's base URL (`http://` or `https://`, no path).
    pub lapi: String,
    /// The file holding the bouncer's API key.
    pub key_file: PathBuf,
    /// The file holding the watcher's machine credentials.
    pub machine_file: PathBuf,
    /// How often the decision stream is pulled.
    pub pull_interval: Duration,
    /// Whether sipwall's own bans are pushed as alerts.
    pub push: bool,
}

/// What speaks at the other end of a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// APIBAN's v2 API (`POST /api/get`, a bearer key, paging by id).
    Apiban,
    /// Addresses and prefixes, one a line (VoIPBL and the like).
    List,
}

impl FeedKind {
    /// The word the policy uses.
    pub fn name(self) -> &'static str {
        match self {
            FeedKind::Apiban => "apiban",
            FeedKind::List => "list",
        }
    }
}

/// Where a feed's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// An `http://` or `https://` URL.
    Url(String),
    /// A local file (an absolute path).
    File(PathBuf),
}

/// One `[[feeds]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Its name: `[a-z0-9_]`, at most [`Feed::MAX_NAME`] characters; its
    /// sets are `feed_<name>_v4` and `feed_<name>_v6`.
    pub name: String,
    /// Its protocol.
    pub kind: FeedKind,
    /// Where it comes from.
    pub source: FeedSource,
    /// How often it is fetched again.
    pub refresh: Duration,
    /// The file holding its API key (APIBAN).
    pub key_file: Option<PathBuf>,
    /// Where it was written.
    pub origin: Origin,
}

impl Feed {
    /// The longest feed name.
    pub const MAX_NAME: usize = 16;
    /// The shortest refresh interval: feeds are rate limited, and a list
    /// changes by the hour.
    pub const MIN_REFRESH: Duration = Duration::from_secs(60);
}

/// `[hep]`: HEPv3 copies of dropped SIP and of the guard's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hep {
    /// The collector (Homer's heplify-server, sngrep -L), over UDP.
    pub address: SocketAddr,
    /// The capture agent id the collector shows.
    pub id: u32,
}

/// The daemon's ledger of bans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// How long the rows of ended bans are kept.
    pub retention: Duration,
}

impl Policy {
    /// The zone called `name`; validation guarantees every referenced zone exists.
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }

    /// The networks of `guard.allow`'s zones (`any` aside: it allows
    /// everyone, which callers judge apart), never banned by the guard
    /// nor by a list banned elsewhere.
    pub fn guard_allow_nets(&self) -> Vec<IpNet> {
        self.guard
            .allow
            .iter()
            .filter_map(|z| self.zone(z))
            .filter(|z| !z.is_any())
            .flat_map(|z| z.prefixes.iter().copied())
            .collect()
    }

    /// The services of one kind.
    pub fn services_of(&self, kind: Kind) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(move |s| s.kind == kind)
    }

    /// The port ranges the services of `kind` open over `protocol` (the
    /// SIP ports per transport, which the engine, replay, the daemon's
    /// intake and its cross-check all ask for).
    pub fn ports_of(&self, kind: Kind, protocol: Protocol) -> Vec<PortRange> {
        self.services_of(kind)
            .filter(|s| s.protocols.contains(&protocol))
            .flat_map(|s| s.ports.iter().copied())
            .collect()
    }

    /// Whether any service of `kind` is declared.
    pub fn has(&self, kind: Kind) -> bool {
        self.services_of(kind).next().is_some()
    }
}

/// The zone every address belongs to.
pub const ZONE_ANY: &str = "any";
/// The zone of the host itself (127.0.0.0/8, ::1), reached only over `lo`.
pub const ZONE_LOOPBACK: &str = "loopback";

/// A named set of prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Its name.
    pub name: String,
    /// IPv4 and IPv6 prefixes, host bits clear.
    pub prefixes: Vec<IpNet>,
}

impl Zone {
    /// Whether this is the built-in `any`.
    pub fn is_any(&self) -> bool {
        self.name == ZONE_ANY
    }
    /// Whether this is the built-in `loopback`.
    pub fn is_loopback(&self) -> bool {
        self.name == ZONE_LOOPBACK
    }
}

/// A service of the host and who may reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its name in the policy.
    pub name: String,
    /// Its catalog kind.
    pub kind: Kind,
    /// Its protocols.
    pub protocols: Vec<Protocol>,
    /// Its ports.
    pub ports: Vec<PortRange>,
    /// Names of the zones allowed to reach it.
    pub allow: Vec<String>,
    /// Where it was declared.
    pub origin: Origin,
}

/// How media (RTP/RTCP) gets through the firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaMode {
    /// The whole range is open (the classic recipe).
    Range,
    /// nf_conntrack_sip opens each call's RTP as RELATED.
    Helper,
    /// The daemon opens each call's ports as set elements.
    Pinhole,
}

impl MediaMode {
    /// The mode's name in the policy file.
    pub fn name(self) -> &'static str {
        match self {
            MediaMode::Range => "range",
            MediaMode::Helper => "helper",
            MediaMode::Pinhole => "pinhole",
        }
    }
}

/// The media range when the policy names none: FreeSWITCH's default RTP
/// range (16384-32768) and RTCP one port above its last (the `audit`
/// crate's tests hold this to `sipwall_freeswitch::rtp`).
pub const DEFAULT_MEDIA_PORTS: (u16, u16) = (16384, 32769);

/// The `[media]` section, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The mode.
    pub mode: MediaMode,
    /// The RTP range, RTCP included (FreeSWITCH's 16384-32768 is 16384-32769).
    pub ports: PortRange,
    /// Zones media may come from.
    pub allow: Vec<String>,
    /// Idle lifetime of a pinhole.
    pub pinhole_timeout: Duration,
    /// Key pinholes on the remote address too, where known.
    pub pinhole_match_remote: bool,
    /// Where it was declared.
    pub origin: Origin,
}

/// Conntrack helper options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helpers {
    /// Assign the SIP helper to the SIP ports (always in helper mode; by
    /// default in pinhole mode, where it carries plain SIP's media while the
    /// daemon is down).
    pub sip_assign: bool,
    /// `sip_direct_media`.
    pub sip_direct_media: bool,
    /// `sip_direct_signalling`.
    pub sip_direct_signalling: bool,
    /// `sip_timeout`, seconds.
    pub sip_timeout: u32,
    /// `ports` of nf_conntrack_sip (at most 8).
    pub sip_ports: Vec<u16>,
    /// `default_rrq_ttl`.
    pub h323_default_rrq_ttl: u32,
    /// `gkrouted_only`.
    pub h323_gkrouted_only: bool,
    /// `callforward_filter`.
    pub h323_callforward_filter: bool,
}

/// DSCP classes for outgoing traffic; `None` leaves packets unmarked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dscp {
    /// Outgoing SIP signalling.
    pub sip: Option<DscpClass>,
    /// Outgoing RTP.
    pub rtp: Option<DscpClass>,
}

/// A DSCP class name both nft and iptables know (`cs3`, `ef`, `af41`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DscpClass(&'static str);

/// The class names nft and `iptables --set-dscp-class` both accept.
pub const DSCP_CLASSES: &[&str] = &[
    "cs0", "cs1", "cs2", "cs3", "cs4", "cs5", "cs6", "cs7", "af11", "af12", "af13", "af21", "af22",
    "af23", "af31", "af32", "af33", "af41", "af42", "af43", "ef",
];

impl DscpClass {
    /// The class called `name` (lowercase), if it is one.
    pub fn from_name(name: &str) -> Option<DscpClass> {
        DSCP_CLASSES
            .iter()
            .find(|c| **c == name)
            .map(|c| DscpClass(c))
    }
    /// Its lowercase name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// A packet rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Packets per unit.
    pub count: u32,
    /// The unit.
    pub per: RateUnit,
}

/// The unit of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// Per second.
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
    /// Per day.
    Day,
}

impl RateUnit {
    /// The unit's name as nft spells it.
    pub fn name(self) -> &'static str {
        match self {
            RateUnit::Second => "second",
            RateUnit::Minute => "minute",
            RateUnit::Hour => "hour",
            RateUnit::Day => "day",
        }
    }
}

/// Logging of denied packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// Rate limit; `None` disables logging.
    pub rate: Option<Rate>,
    /// The prefix of each line (at most 29 characters, iptables' limit).
    pub prefix: String,
    /// Syslog level name.
    pub level: String,
}

/// The ban sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bans {
    /// Default element timeout.
    pub timeout: Duration,
    /// Kernel garbage-collection interval of the sets.
    pub gc_interval: Duration,
    /// Source rotation inside an IPv6 prefix.
    pub ipv6_prefix: PrefixBans,
    /// Source rotation inside an IPv4 prefix (off by default: a /24 is
    /// often many unrelated hosts behind one provider).
    pub ipv4_prefix: PrefixBans,
}

/// When bans inside one prefix become one ban of the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixBans {
    /// Bans inside one prefix within the ban time that ban it (0: never).
    pub after: u32,
    /// The prefix length.
    pub len: u8,
}

impl PrefixBans {
    /// The shortest IPv6 prefix a policy may ban whole (an ISP's allocation).
    pub const V6_SHORTEST: u8 = 32;
    /// The shortest IPv4 prefix a policy may ban whole.
    pub const V4_SHORTEST: u8 = 16;
}

/// Options that only the iptables target uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptablesOptions {
    /// Emit the classic string-match scanner drops.
    pub scanner_string_match: bool,
    /// The strings they match.
    pub scanner_strings: Vec<String>,
}

/// What the daemon bans, and whom it never bans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// Whether the bans decided reach the kernel.
    pub mode: GuardMode,
    /// Zones never banned (loopback is never banned either).
    pub allow: Vec<String>,
    /// Each repeat offence multiplies the ban time by this (1: no escalation).
    pub escalation: u32,
    /// The longest ban.
    pub max_ban: Duration,
    /// How long a source that registered successfully is allowed (zero: never).
    pub registered_allow: Duration,
    /// How long a source that proved it receives what the host sends it (a
    /// registration or dialog completed with return-routable evidence) is
    /// never banned on unverified evidence (zero: never shielded).
    pub verified_for: Duration,
    /// Scanner fingerprints.
    pub scanner: ScannerDetector,
    /// Per-source request rate.
    pub flood: FloodDetector,
    /// Failed authentications.
    pub brute_force: BruteForceDetector,
    /// Many distinct unknown users from one source.
    pub enumeration: EnumerationDetector,
    /// Unparseable SIP.
    pub malformed: MalformedDetector,
}

/// What the daemon does with the bans its detectors decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuardMode {
    /// Bans reach the kernel (the default).
    #[default]
    Enforce,
    /// Shadow mode: bans are logged, counted and kept in the ledger as
    /// observed, and nothing reaches the kernel, so thresholds can be tuned
    /// on live traffic before they cost a customer a call.
    Observe,
}

impl GuardMode {
    /// The mode's name in the policy file.
    pub fn name(self) -> &'static str {
        match self {
            GuardMode::Enforce => "enforce",
            GuardMode::Observe => "observe",
        }
    }
}

/// Scanner detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerDetector {
    /// On or off.
    pub enabled: bool,
    /// User-Agent substrings (case-insensitive) beside the built-in list.
    pub user_agents: Vec<String>,
    /// SIPVicious's From-tag fingerprint.
    pub sipvicious_tag: bool,
    /// Request-URIs whose host is an IP address other than this host's.
    pub ip_literal_domains: bool,
}

/// Flood detection: a token bucket per source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodDetector {
    /// On or off.
    pub enabled: bool,
    /// Sustained requests per second.
    pub rate: u32,
    /// Bucket size.
    pub burst: u32,
    /// Sources tracked at most.
    pub max_sources: usize,
}

/// Brute-force detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BruteForceDetector {
    /// On or off.
    pub enabled: bool,
    /// Failures per source within `window` that ban it.
    pub max_failures: u32,
    /// The per-source window.
    pub window: Duration,
    /// Failures per account within `account_window` after which any failing source is banned.
    pub account_max_failures: u32,
    /// The per-account window.
    pub account_window: Duration,
}

/// Enumeration detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumerationDetector {
    /// On or off.
    pub enabled: bool,
    /// Distinct users answered 404/403 within `window` that ban a source.
    pub max_users: u32,
    /// The window.
    pub window: Duration,
}

/// Malformed-SIP handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedDetector {
    /// Ban (they are always counted).
    pub ban: bool,
    /// Malformed messages within `window` that ban a source.
    pub max: u32,
    /// The window.
    pub window: Duration,
}
