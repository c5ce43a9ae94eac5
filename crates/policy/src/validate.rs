//! From [`RawPolicy`] to [`Policy`]: names resolved, defaults filled in,
//! contradictions found. Every problem is collected (not just the first)
//! and reported with its `file:line:col`.

use crate::catalog::{Kind, KINDS};
use crate::error::{Diagnostic, ErrorKind, Location, PolicyError};
use crate::policy::*;
use crate::port::{PortRange, Protocol};
use crate::raw::*;
use ipnet::IpNet;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// Reads and validates a policy. `file` names the source in messages.
pub fn parse(file: &str, source: &str) -> Result<Policy, PolicyError> {
    let decoded = crate::decode::decode(source);
    let mut cx = Context {
        file,
        source,
        diagnostics: Vec::new(),
        dropped: decoded.dropped,
    };
    for p in decoded.problems {
        cx.error(p.span, p.kind);
    }
    let Some(raw) = decoded.raw else {
        return Err(cx.finish());
    };
    // Even when decoding dropped entries, what is left is checked too, so
    // that one run shows every problem.
    let policy = cx.resolve(raw);
    if cx.diagnostics.is_empty() {
        Ok(policy)
    } else {
        Err(cx.finish())
    }
}

struct Context<'a> {
    file: &'a str,
    source: &'a str,
    diagnostics: Vec<Diagnostic>,
    /// Entries decoding dropped (see [`crate::decode::Decoded::dropped`]).
    dropped: Vec<Vec<String>>,
}

impl Context<'_> {
    /// Whether decoding dropped the entry at this dotted path, or one inside it.
    fn was_dropped(&self, path: &[&str]) -> bool {
        self.dropped
            .iter()
            .any(|d| d.len() >= path.len() && d.iter().zip(path).all(|(a, b)| a == b))
    }

    fn error(&mut self, span: Range<usize>, kind: ErrorKind) {
        self.diagnostics.push(Diagnostic {
            file: self.file.to_owned(),
            at: Location::of_offset(self.source, span.start),
            span,
            kind,
        });
    }

    fn finish(mut self) -> PolicyError {
        self.diagnostics.sort_by_key(|d| d.at);
        PolicyError {
            diagnostics: self.diagnostics,
        }
    }

    fn origin(&self, entry: String, span: &Range<usize>) -> Origin {
        Origin {
            entry,
            file: self.file.to_owned(),
            at: Location::of_offset(self.source, span.start),
        }
    }

    fn resolve(&mut self, raw: RawPolicy) -> Policy {
        let zones = self.zones(&raw);
        let services = self.services(&raw, &zones);
        let media = self.media(raw.media, &zones);
        self.contradictions(&services, &media);
        let helpers = self.helpers(raw.helpers, &services, &media);
        Policy {
            dscp: Dscp {
                sip: self.dscp(raw.dscp.sip, Some("cs3")),
                rtp: self.dscp(raw.dscp.rtp, Some("ef")),
            },
            log: self.log(raw.log),
            icmp_echo: raw.icmp.echo.unwrap_or(true),
            forward_accept: self.forward(raw.forward),
            bans: Bans {
                timeout: self.duration(raw.bans.timeout, Duration::from_secs(3600)),
                gc_interval: self.duration(raw.bans.gc_interval, Duration::from_secs(60)),
                ipv6_prefix: PrefixBans {
                    after: self.count_or_zero(raw.bans.ipv6_prefix_after, 8),
                    len: self.prefix_len(raw.bans.ipv6_prefix, PrefixBans::V6_SHORTEST, 128, 64),
                },
                ipv4_prefix: PrefixBans {
                    after: self.count_or_zero(raw.bans.ipv4_prefix_after, 0),
                    len: self.prefix_len(raw.bans.ipv4_prefix, PrefixBans::V4_SHORTEST, 32, 24),
                },
            },
            iptables: self.iptables(raw.iptables),
            guard: self.guard(raw.guard, &zones),
            ledger: Ledger {
                retention: self.duration(raw.ledger.retention, Duration::from_secs(30 * 24 * 3600)),
            },
            crowdsec: raw.crowdsec.map(|c| self.crowdsec(c)),
            feeds: self.feeds(raw.feeds),
            hep: raw.hep.and_then(|h| self.hep(h)),
            zones,
            services,
            media,
            helpers,
        }
    }

    fn zones(&mut self, raw: &RawPolicy) -> Vec<Zone> {
        let builtin = |name: &str, nets: &[&str]| Zone {
            name: name.to_owned(),
            prefixes: nets.iter().map(|n| n.parse().expect("valid")).collect(),
        };
        let mut zones = vec![
            builtin(ZONE_ANY, &["0.0.0.0/0", "::/0"]),
            builtin(ZONE_LOOPBACK, &["127.0.0.0/8", "::1/128"]),
        ];
        for (name, prefixes) in &raw.zones {
            if name.get_ref() == ZONE_ANY || name.get_ref() == ZONE_LOOPBACK {
                self.error(name.span(), ErrorKind::ReservedZone(name.get_ref().clone()));
                continue;
            }
            if self.bad_name("zone", name) {
                continue;
            }
            let mut nets = Vec::new();
            for p in prefixes.get_ref() {
                match parse_prefix(p.get_ref()) {
                    Ok(net) => nets.push(net),
                    Err(msg) => self.error(p.span(), ErrorKind::BadPrefix(msg)),
                }
            }
            zones.push(Zone {
                name: name.get_ref().clone(),
                prefixes: nets,
            });
        }
        zones
    }

    fn allow(
        &mut self,
        what: &str,
        allow: &Spanned<Vec<Spanned<String>>>,
        zones: &[Zone],
    ) -> Vec<String> {
        if allow.get_ref().is_empty() {
            self.error(allow.span(), ErrorKind::EmptyAllow(format!("{what}.allow")));
        }
        let mut names = Vec::new();
        for z in allow.get_ref() {
            if zones.iter().any(|known| &known.name == z.get_ref()) {
                if !names.contains(z.get_ref()) {
                    names.push(z.get_ref().clone());
                }
            } else if !self.was_dropped(&["zones", z.get_ref()]) {
                let known = zones.iter().map(|z| z.name.clone()).collect();
                self.error(
                    z.span(),
                    ErrorKind::UnknownZone {
                        name: z.get_ref().clone(),
                        known,
                    },
                );
            }
        }
        names
    }

    fn services(&mut self, raw: &RawPolicy, zones: &[Zone]) -> Vec<Service> {
        let mut out = Vec::new();
        for (name, svc) in &raw.services {
            if self.bad_name("service", name) {
                continue;
            }
            let entry = format!("services.{}", name.get_ref());
            let s = svc.get_ref();
            // First, so that its zones are checked even if the rest is wrong.
            let allow = self.allow(&entry, &s.allow, zones);
            let Some(kind) = Kind::from_name(s.kind.get_ref()) else {
                let known = KINDS.iter().map(|(_, n)| (*n).to_owned()).collect();
                self.error(
                    s.kind.span(),
                    ErrorKind::UnknownKind {
                        name: s.kind.get_ref().clone(),
                        known,
                    },
                );
                continue;
            };
            let defaults = kind.defaults();
            let protocols = match (&s.protocols, defaults) {
                (Some(p), _) if p.get_ref().is_empty() => {
                    self.error(
                        p.span(),
                        ErrorKind::BadValue(format!("{entry}.protocols is empty")),
                    );
                    continue;
                }
                (Some(p), _) => dedup(p.get_ref().clone()),
                (None, Some((p, _))) => p.to_vec(),
                (None, None) => {
                    if !self.was_dropped(&["services", name.get_ref(), "protocols"]) {
                        self.error(svc.span(), ErrorKind::CustomNeeds("`protocols`"));
                    }
                    continue;
                }
            };
            let ports = match (&s.ports, defaults) {
                (Some(p), _) if p.get_ref().is_empty() => {
                    self.error(
                        p.span(),
                        ErrorKind::BadValue(format!("{entry}.ports is empty")),
                    );
                    continue;
                }
                (Some(p), _) => p.get_ref().iter().filter_map(|p| self.port(p)).collect(),
                (None, Some((_, r))) => vec![r],
                (None, None) => {
                    if !self.was_dropped(&["services", name.get_ref(), "ports"]) {
                        self.error(svc.span(), ErrorKind::CustomNeeds("`ports`"));
                    }
                    continue;
                }
            };
            out.push(Service {
                name: name.get_ref().clone(),
                kind,
                protocols,
                ports: dedup(ports),
                allow,
                origin: self.origin(entry, &name.span()),
            });
        }
        out
    }

    /// Reports a name that could carry syntax into the ruleset text.
    fn bad_name(&mut self, what: &str, name: &Name) -> bool {
        match crate::name::problem(what, name.get_ref()) {
            Some(msg) => {
                self.error(name.span(), ErrorKind::BadName(msg));
                true
            }
            None => false,
        }
    }

    fn port(&mut self, p: &Spanned<RawPort>) -> Option<PortRange> {
        let parsed = match p.get_ref() {
            RawPort::Number(n) => u16::try_from(*n)
                .ok()
                .and_then(PortRange::single)
                .ok_or_else(|| format!("invalid port {n}: expected 1-65535")),
            RawPort::Text(t) => t.parse::<PortRange>().map_err(|e| e.to_string()),
        };
        parsed
            .map_err(|msg| self.error(p.span(), ErrorKind::BadPort(msg)))
            .ok()
    }

    fn media(&mut self, raw: Option<Spanned<RawMedia>>, zones: &[Zone]) -> Media {
        let default_ports =
            PortRange::new(DEFAULT_MEDIA_PORTS.0, DEFAULT_MEDIA_PORTS.1).expect("valid");
        let Some(raw) = raw else {
            return Media {
                mode: MediaMode::Range,
                ports: default_ports,
                allow: vec![ZONE_ANY.to_owned()],
                pinhole_timeout: Duration::from_secs(90),
                pinhole_match_remote: false,
                origin: Origin {
                    entry: "media (default)".to_owned(),
                    file: self.file.to_owned(),
                    at: Location::default(),
                },
            };
        };
        let span = raw.span();
        let m = raw.into_inner();
        let mode = match m.mode.into_inner() {
            RawMediaMode::Range => MediaMode::Range,
            RawMediaMode::Helper => MediaMode::Helper,
            RawMediaMode::Pinhole => MediaMode::Pinhole,
        };
        let ports = m
            .ports
            .as_ref()
            .and_then(|p| self.port(p))
            .unwrap_or(default_ports);
        let allow = match &m.allow {
            Some(a) => self.allow("media", a, zones),
            None => vec![ZONE_ANY.to_owned()],
        };
        Media {
            mode,
            ports,
            allow,
            pinhole_timeout: self.duration(m.pinhole_timeout, Duration::from_secs(90)),
            pinhole_match_remote: m.pinhole_match_remote.unwrap_or(false),
            origin: self.origin("media".to_owned(), &span),
        }
    }

    /// One port, one set of zones: two entries that open the same port to
    /// different zones are a contradiction the admin must settle.
    fn contradictions(&mut self, services: &[Service], media: &Media) {
        let mut opened: Vec<(Protocol, PortRange, Vec<String>, &Origin)> = Vec::new();
        for s in services {
            for &proto in &s.protocols {
                for &range in &s.ports {
                    opened.push((proto, range, sorted(&s.allow), &s.origin));
                }
            }
        }
        if media.mode != MediaMode::Helper {
            opened.push((
                Protocol::Udp,
                media.ports,
                sorted(&media.allow),
                &media.origin,
            ));
        }
        let mut found = Vec::new();
        for (i, (proto, range, zones, origin)) in opened.iter().enumerate() {
            let clash = opened[..i].iter().find(|(p, r, z, o)| {
                p == proto && r.overlaps(*range) && z != zones && o.entry != origin.entry
            });
            if let Some((_, r, z, o)) = clash {
                // Reported at the later entry, unless that is the default
                // media, which has no place in the file: then at the other.
                let ((here, these), (there, those)) = if origin.at.line == 0 {
                    ((*o, z), (*origin, zones))
                } else {
                    ((*origin, zones), (*o, z))
                };
                found.push((
                    here.at,
                    ErrorKind::Contradiction {
                        proto: proto.to_string(),
                        port: range.first().max(r.first()),
                        this: here.entry.clone(),
                        these: these.join(", "),
                        other: there.entry.clone(),
                        other_line: there.at.line,
                        those: those.join(", "),
                    },
                ));
            }
        }
        for (at, kind) in found {
            let span = name_span(self.source, at);
            self.diagnostics.push(Diagnostic {
                file: self.file.to_owned(),
                at,
                span,
                kind,
            });
        }
    }

    fn helpers(&mut self, raw: RawHelpers, services: &[Service], media: &Media) -> Helpers {
        let sip = raw.sip.map(Spanned::into_inner).unwrap_or_default();
        let h323 = raw.h323.map(Spanned::into_inner).unwrap_or_default();
        let mut sip_ports: Vec<u16> = services
            .iter()
            .filter(|s| s.kind == Kind::Sip)
            .flat_map(|s| s.ports.iter().map(|r| r.first()))
            .collect();
        sip_ports.dedup();
        if let Some(p) = &sip.ports {
            sip_ports = p
                .get_ref()
                .iter()
                .filter_map(|n| self.port(&Spanned::new(n.span(), RawPort::Number(*n.get_ref()))))
                .map(|r| r.first())
                .collect();
            if sip_ports.len() > 8 {
                self.error(
                    p.span(),
                    ErrorKind::BadValue("nf_conntrack_sip takes at most 8 ports".into()),
                );
            }
        }
        sip_ports.truncate(8);
        Helpers {
            // Pinhole mode: the kernel helper is the fallback that keeps
            // plain SIP's media working while the daemon is down.
            sip_assign: match media.mode {
                MediaMode::Helper => true,
                MediaMode::Pinhole => sip.assign.unwrap_or(true),
                MediaMode::Range => sip.assign.unwrap_or(false),
            },
            sip_direct_media: sip.direct_media.unwrap_or(true),
            sip_direct_signalling: sip.direct_signalling.unwrap_or(true),
            sip_timeout: self.seconds(sip.timeout, 3600),
            sip_ports,
            h323_default_rrq_ttl: self.seconds(h323.default_rrq_ttl, 300),
            h323_gkrouted_only: h323.gkrouted_only.unwrap_or(true),
            h323_callforward_filter: h323.callforward_filter.unwrap_or(true),
        }
    }

    fn guard(&mut self, raw: RawGuard, zones: &[Zone]) -> Guard {
        let allow = match &raw.allow {
            Some(a) if a.get_ref().is_empty() => Vec::new(),
            Some(a) => self.allow("guard", a, zones),
            None => Vec::new(),
        };
        let s = raw.scanner;
        let mut user_agents = Vec::new();
        for ua in s.user_agents.map(Spanned::into_inner).unwrap_or_default() {
            if ua.get_ref().trim().len() < 3 {
                self.error(
                    ua.span(),
                    ErrorKind::BadValue("a User-Agent pattern has at least 3 characters".into()),
                );
            } else {
                user_agents.push(ua.into_inner());
            }
        }
        let f = raw.flood;
        let b = raw.brute_force;
        let e = raw.enumeration;
        let m = raw.malformed;
        Guard {
            mode: match raw.mode.map(Spanned::into_inner) {
                None | Some(RawGuardMode::Enforce) => GuardMode::Enforce,
                Some(RawGuardMode::Observe) => GuardMode::Observe,
            },
            allow,
            escalation: self.count(raw.escalation, 4),
            max_ban: self.duration(raw.max_ban, Duration::from_secs(7 * 86_400)),
            registered_allow: match raw.registered_allow {
                Some(r) if r.get_ref().trim() == "0s" || r.get_ref().trim() == "0" => {
                    Duration::ZERO
                }
                other => self.duration(other, Duration::from_secs(3600)),
            },
            verified_for: match raw.verified_for {
                Some(r) if r.get_ref().trim() == "0s" || r.get_ref().trim() == "0" => {
                    Duration::ZERO
                }
                other => self.duration(other, Duration::from_secs(3600)),
            },
            scanner: ScannerDetector {
                enabled: s.enabled.unwrap_or(true),
                user_agents,
                sipvicious_tag: s.sipvicious_tag.unwrap_or(true),
                ip_literal_domains: s.ip_literal_domains.unwrap_or(false),
            },
            flood: FloodDetector {
                enabled: f.enabled.unwrap_or(true),
                rate: self.count(f.rate, 15),
                burst: self.count(f.burst, 30),
                max_sources: self.count(f.max_sources, 100_000) as usize,
            },
            brute_force: BruteForceDetector {
                enabled: b.enabled.unwrap_or(true),
                max_failures: self.count(b.max_failures, 5),
                window: self.duration(b.window, Duration::from_secs(60)),
                account_max_failures: self.count(b.account_max_failures, 10),
                account_window: self.duration(b.account_window, Duration::from_secs(600)),
            },
            enumeration: EnumerationDetector {
                enabled: e.enabled.unwrap_or(true),
                max_users: self.count(e.max_users, 10),
                window: self.duration(e.window, Duration::from_secs(60)),
            },
            malformed: MalformedDetector {
                ban: m.ban.unwrap_or(false),
                max: self.count(m.max, 10),
                window: self.duration(m.window, Duration::from_secs(60)),
            },
        }
    }

    fn crowdsec(&mut self, raw: Spanned<RawCrowdSec>) -> CrowdSec {
        let span = raw.span();
        let raw = raw.into_inner();
        let lapi = match raw.lapi {
            Some(url) => self.url("crowdsec.lapi", url, false),
            None => {
                self.error(
                    span,
                    ErrorKind::BadValue(
                        "[crowdsec] needs `lapi`, the local API's URL, e.g. \"http://127.0.0.1:8080\"".into(),
                    ),
                );
                None
            }
        };
        CrowdSec {
            lapi: lapi.unwrap_or_default(),
            key_file: self.path(raw.key_file, "/etc/sipwall/crowdsec.key"),
            machine_file: self.path(raw.machine_file, "/etc/sipwall/crowdsec-machine.yaml"),
            pull_interval: self.duration(raw.pull_interval, Duration::from_secs(5)),
            push: raw.push.unwrap_or(true),
        }
    }

    fn feeds(&mut self, raw: Vec<Spanned<RawFeed>>) -> Vec<Feed> {
        let mut feeds: Vec<Feed> = Vec::new();
        for entry in raw {
            let span = entry.span();
            let f = entry.into_inner();
            let name = f.name.get_ref();
            let name_ok = !name.is_empty()
                && name.len() <= Feed::MAX_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                self.error(
                    f.name.span(),
                    ErrorKind::BadName(format!(
                        "feed name {name:?}: 1 to {} characters of a-z, 0-9 and _ (it is part of the feed's set names)",
                        Feed::MAX_NAME
                    )),
                );
                continue;
            }
            if feeds.iter().any(|other| other.name == *name) {
                self.error(
                    f.name.span(),
                    ErrorKind::BadName(format!("feed name {name:?} is used twice")),
                );
                continue;
            }
            let kind = match f.kind.get_ref() {
                RawFeedKind::Apiban => FeedKind::Apiban,
                RawFeedKind::List => FeedKind::List,
            };
            let source = match (f.url, f.file) {
                (Some(url), None) => self.url("feeds.url", url, true).map(FeedSource::Url),
                (None, Some(file)) if kind == FeedKind::List => {
                    self.absolute(file).map(FeedSource::File)
                }
                (None, Some(file)) => {
                    self.error(
                        file.span(),
                        ErrorKind::BadValue(
                            "an apiban feed is fetched from its API: give `url`".into(),
                        ),
                    );
                    None
                }
                (Some(_), Some(file)) => {
                    self.error(
                        file.span(),
                        ErrorKind::BadValue("a feed has `url` or `file`, not both".into()),
                    );
                    None
                }
                (None, None) => {
                    self.error(
                        span.clone(),
                        ErrorKind::BadValue(format!("feed {name:?} needs `url` or `file`")),
                    );
                    None
                }
            };
            let key_file = match (kind, f.key_file) {
                (FeedKind::Apiban, None) => {
                    self.error(
                        span.clone(),
                        ErrorKind::BadValue(format!(
                            "feed {name:?}: APIBAN needs `key_file`, the file holding its API key"
                        )),
                    );
                    None
                }
                (_, Some(k)) => self.absolute(k),
                (FeedKind::List, None) => None,
            };
            let default_refresh = match kind {
                FeedKind::Apiban => Duration::from_secs(300),
                FeedKind::List => Duration::from_secs(3600),
            };
            let refresh = match f.refresh {
                Some(r) => {
                    let at = r.span();
                    let d = self.duration(Some(r), default_refresh);
                    if d < Feed::MIN_REFRESH {
                        self.error(
                            at,
                            ErrorKind::BadValue(
                                "a feed is fetched at most once a minute (refresh = \"1m\" or more)"
                                    .into(),
                            ),
                        );
                    }
                    d.max(Feed::MIN_REFRESH)
                }
                None => default_refresh,
            };
            let Some(source) = source else { continue };
            feeds.push(Feed {
                origin: self.origin(format!("feeds.{name}"), &span),
                name: name.clone(),
                kind,
                source,
                refresh,
                key_file,
            });
        }
        feeds
    }

    fn hep(&mut self, raw: Spanned<RawHep>) -> Option<Hep> {
        let raw = raw.into_inner();
        let id = match raw.id {
            Some(id) => match u32::try_from(*id.get_ref()) {
                Ok(n) => n,
                Err(_) => {
                    self.error(
                        id.span(),
                        ErrorKind::BadValue(format!(
                            "hep.id {} is not a capture id (0 to 4294967295)",
                            id.get_ref()
                        )),
                    );
                    0
                }
            },
            None => 2001,
        };
        match raw.address.get_ref().parse::<std::net::SocketAddr>() {
            Ok(address) => Some(Hep { address, id }),
            Err(_) => {
                self.error(
                    raw.address.span(),
                    ErrorKind::BadValue(format!(
                        "hep.address {:?} is not an address and port, e.g. \"192.0.2.10:9060\" or \"[2001:db8::10]:9060\"",
                        raw.address.get_ref()
                    )),
                );
                None
            }
        }
    }

    /// An `http://` or `https://` URL (a path only where `path` is
    /// allowed), printable ASCII and short: it goes into request lines
    /// and log lines.
    fn url(&mut self, key: &str, raw: Spanned<String>, path: bool) -> Option<String> {
        let url = raw.get_ref().trim();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        let problem = match rest {
            None => Some("is not an http:// or https:// URL"),
            Some(_) if url.len() > MAX_URL => Some("is too long"),
            Some(_) if !url.bytes().all(|b| b.is_ascii_graphic()) => {
                Some("has spaces or characters outside printable ASCII")
            }
            Some(r) if r.is_empty() || r.starts_with('/') => Some("has no host"),
            Some(r) if !path && r.trim_end_matches('/').contains('/') => {
                Some("has a path: give the base URL only, e.g. http://127.0.0.1:8080")
            }
            Some(r) if r.contains('@') => Some("has credentials in it: use the key file"),
            Some(_) => None,
        };
        match problem {
            Some(p) => {
                self.error(
                    raw.span(),
                    ErrorKind::BadValue(format!("{key} {url:?} {p}")),
                );
                None
            }
            None if path => Some(url.to_owned()),
            None => Some(url.trim_end_matches('/').to_owned()),
        }
    }

    /// An absolute path.
    fn absolute(&mut self, raw: Spanned<String>) -> Option<PathBuf> {
        let p = std::path::Path::new(raw.get_ref());
        if p.is_absolute() && !raw.get_ref().contains('\0') {
            Some(p.to_path_buf())
        } else {
            self.error(
                raw.span(),
                ErrorKind::BadValue(format!("{:?} is not an absolute path", raw.get_ref())),
            );
            None
        }
    }

    /// An absolute path, or `default`.
    fn path(&mut self, raw: Option<Spanned<String>>, default: &str) -> PathBuf {
        raw.and_then(|r| self.absolute(r))
            .unwrap_or_else(|| PathBuf::from(default))
    }

    /// A positive count.
    fn count(&mut self, raw: Option<Spanned<i64>>, default: u32) -> u32 {
        let Some(raw) = raw else { return default };
        match u32::try_from(*raw.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                self.error(
                    raw.span(),
                    ErrorKind::BadValue(format!("{} is not a positive count", raw.get_ref())),
                );
                default
            }
        }
    }

    /// A count where 0 means off.
    fn count_or_zero(&mut self, raw: Option<Spanned<i64>>, default: u32) -> u32 {
        let Some(raw) = raw else { return default };
        u32::try_from(*raw.get_ref()).unwrap_or_else(|_| {
            self.error(
                raw.span(),
                ErrorKind::BadValue(format!("{} is not a count (0 turns it off)", raw.get_ref())),
            );
            default
        })
    }

    /// A prefix length in `shortest..=longest`.
    fn prefix_len(
        &mut self,
        raw: Option<Spanned<i64>>,
        shortest: u8,
        longest: u8,
        default: u8,
    ) -> u8 {
        let Some(raw) = raw else { return default };
        match u8::try_from(*raw.get_ref()) {
            Ok(n) if (shortest..=longest).contains(&n) => n,
            _ => {
                self.error(
                    raw.span(),
                    ErrorKind::BadValue(format!(
                        "prefix length {} is out of range: {shortest} to {longest}",
                        raw.get_ref()
                    )),
                );
                default
            }
        }
    }

    fn seconds(&mut self, raw: Option<Spanned<i64>>, default: u32) -> u32 {
        let Some(raw) = raw else { return default };
        u32::try_from(*raw.get_ref())
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or_else(|| {
                self.error(
                    raw.span(),
                    ErrorKind::BadValue(format!(
                        "{} is not a positive number of seconds",
                        raw.get_ref()
                    )),
                );
                default
            })
    }

    fn duration(&mut self, raw: Option<Spanned<String>>, default: Duration) -> Duration {
        let Some(raw) = raw else { return default };
        match humantime::parse_duration(raw.get_ref()) {
            Ok(d) if d >= Duration::from_secs(1) => d,
            Ok(_) => {
                self.error(
                    raw.span(),
                    ErrorKind::BadValue("a duration must be at least 1s".into()),
                );
                default
            }
            Err(e) => {
                self.error(
                    raw.span(),
                    ErrorKind::BadValue(format!(
                        "invalid duration {:?} ({e}); write e.g. \"90s\", \"10m\", \"1h\"",
                        raw.get_ref()
                    )),
                );
                default
            }
        }
    }

    fn dscp(&mut self, raw: Option<Spanned<String>>, default: Option<&str>) -> Option<DscpClass> {
        let Some(raw) = raw else {
            return default.and_then(DscpClass::from_name);
        };
        let name = raw.get_ref().to_ascii_lowercase();
        if name == "none" {
            return None;
        }
        let class = DscpClass::from_name(&name);
        if class.is_none() {
            self.error(
                raw.span(),
                ErrorKind::BadValue(format!(
                    "unknown DSCP class {:?}; use one of {} or \"none\"",
                    raw.get_ref(),
                    DSCP_CLASSES.join(", ")
                )),
            );
        }
        class
    }

    fn log(&mut self, raw: RawLog) -> Log {
        let mut rate = Some(Rate {
            count: 5,
            per: RateUnit::Minute,
        });
        if let Some(r) = &raw.rate {
            match parse_rate(r.get_ref()) {
                Some(parsed) => rate = Some(parsed),
                None => self.error(
                    r.span(),
                    ErrorKind::BadValue(format!(
                        "invalid rate {:?}: write N/second, N/minute, N/hour or N/day with N > 0",
                        r.get_ref()
                    )),
                ),
            }
        }
        if raw.enabled == Some(false) {
            rate = None;
        }
        let mut prefix = "sipwall denied: ".to_owned();
        if let Some(p) = raw.prefix {
            if p.get_ref().len() <= 29 && is_plain_text(p.get_ref()) {
                prefix = p.into_inner();
            } else {
                self.error(
                    p.span(),
                    ErrorKind::BadValue(format!(
                        "a log prefix is at most 29 printable ASCII characters, {PLAIN_TEXT_BUT}"
                    )),
                );
            }
        }
        const LEVELS: &[&str] = &[
            "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
        ];
        let mut level = "info".to_owned();
        if let Some(l) = raw.level {
            if LEVELS.contains(&l.get_ref().as_str()) {
                level = l.into_inner();
            } else {
                self.error(
                    l.span(),
                    ErrorKind::BadValue(format!(
                        "unknown log level {:?}; use one of {}",
                        l.get_ref(),
                        LEVELS.join(", ")
                    )),
                );
            }
        }
        Log {
            rate,
            prefix,
            level,
        }
    }

    fn forward(&mut self, raw: RawForward) -> bool {
        match raw.policy {
            None => false,
            Some(p) => match p.get_ref().as_str() {
                "drop" => false,
                "accept" => true,
                other => {
                    self.error(
                        p.span(),
                        ErrorKind::BadValue(format!(
                            "forward.policy is \"drop\" or \"accept\", not {other:?}"
                        )),
                    );
                    false
                }
            },
        }
    }

    fn iptables(&mut self, raw: RawIptables) -> IptablesOptions {
        let mut strings: Vec<String> = ["VaxSIPUserAgent", "friendly-scanner", "sipcli"]
            .map(String::from)
            .to_vec();
        if let Some(s) = raw.scanner_strings {
            strings.clear();
            for item in s.into_inner() {
                let bad = item.get_ref().is_empty()
                    || item.get_ref().len() > 128
                    || !is_plain_text(item.get_ref());
                if bad {
                    self.error(
                        item.span(),
                        ErrorKind::BadValue(format!(
                            "a scanner string is 1-128 printable ASCII characters, {PLAIN_TEXT_BUT}"
                        )),
                    );
                } else {
                    strings.push(item.into_inner());
                }
            }
        }
        IptablesOptions {
            scanner_string_match: raw.scanner_string_match.unwrap_or(false),
            scanner_strings: strings,
        }
    }
}

/// The name written at `at` (a bare key, or a quoted one with its quotes),
/// for the caret under an entry known only by its [`Location`].
fn name_span(source: &str, at: Location) -> Range<usize> {
    let start = at.offset_in(source);
    let rest = &source[start..];
    let len = match rest.strip_prefix('"') {
        Some(quoted) => quoted.find('"').map_or(1, |end| end + 2),
        None => rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len())
            .max(1),
    };
    start..(start + len).min(source.len())
}

/// The longest URL a policy may give (request lines are bounded too).
const MAX_URL: usize = 2048;

/// What [`is_plain_text`] refuses, for messages.
const PLAIN_TEXT_BUT: &str = "without quotes, backslashes, '#', braces or control characters";

/// Text the renderers put between quotes verbatim (a log prefix, an
/// iptables string match): nothing in it can end the quoted string, the
/// line or a block, in nft or in iptables-restore, and it reads back the same.
fn is_plain_text(s: &str) -> bool {
    s.chars().all(|c| {
        (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\'' | '\\' | '#' | '{' | '}')
    })
}

/// A prefix (`192.0.2.0/24`) or a single address (`192.0.2.7`), host bits clear.
fn parse_prefix(s: &str) -> Result<IpNet, String> {
    let net = if s.contains('/') {
        s.parse::<IpNet>().map_err(|_| {
            format!("invalid prefix {s:?}: expected e.g. 192.0.2.0/24 or 2001:db8::/32")
        })?
    } else {
        let addr: IpAddr = s.parse().map_err(|_| {
            format!("invalid address {s:?}: expected an IPv4 or IPv6 address or prefix")
        })?;
        IpNet::from(addr)
    };
    if net.trunc() != net {
        return Err(format!(
            "prefix {s:?} has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

fn parse_rate(s: &str) -> Option<Rate> {
    let (n, unit) = s.split_once('/')?;
    let count = n.trim().parse::<u32>().ok().filter(|n| *n > 0)?;
    let per = match unit.trim() {
        "second" | "s" => RateUnit::Second,
        "minute" | "min" | "m" => RateUnit::Minute,
        "hour" | "h" => RateUnit::Hour,
        "day" | "d" => RateUnit::Day,
        _ => return None,
    };
    Some(Rate { count, per })
}

fn dedup<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}
