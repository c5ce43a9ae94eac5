//! FreeSWITCH's live SIP listeners (from `sofia xmlstatus`) against the
//! policy's SIP ports: a profile the policy does not open is unreachable,
//! a port the policy opens that nothing listens on is a hole.
//!
//! Profile names come from FreeSWITCH's answer and reach the log and
//! `sipwall status`: they are escaped and their list is bounded.

use sipwall_engine::remote_text::printable;
use sipwall_freeswitch::esl::Listening;
use sipwall_policy::{Kind, Policy};

/// The last comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Crosscheck {
    /// Whether FreeSWITCH answered at least once.
    pub checked: bool,
    /// `profile port` that FreeSWITCH listens on and the policy does not open.
    pub live_not_in_policy: Vec<String>,
    /// SIP ports the policy opens that no profile listens on.
    pub policy_not_live: Vec<u16>,
}

impl Crosscheck {
    /// True when both sides name the same ports (or nothing was checked).
    pub fn agrees(&self) -> bool {
        self.live_not_in_policy.is_empty() && self.policy_not_live.is_empty()
    }
}

/// The most bytes of a profile name kept.
const PROFILE_BYTES: usize = 128;
/// The most listeners listed.
const MAX_LISTED: usize = 64;

/// Compares the live listeners with the policy.
pub fn compare(policy: &Policy, live: &[Listening]) -> Crosscheck {
    // sofia lists its WebSocket bindings (ws-binding, wss-binding) among
    // a profile's listeners, and which flag it gives them varies: a ws or
    // wss service of the policy opens them either way.
    let opened = |port: u16, tls: bool| {
        let kinds: &[Kind] = if tls {
            &[Kind::SipTls, Kind::Ws, Kind::Wss]
        } else {
            &[Kind::Sip, Kind::Ws, Kind::Wss]
        };
        kinds.iter().any(|k| {
            policy
                .services_of(*k)
                .any(|s| s.ports.iter().any(|r| r.contains(port)))
        })
    };
    let mut live_not_in_policy: Vec<String> = live
        .iter()
        .filter(|l| !opened(l.port, l.tls))
        .map(|l| {
            format!(
                "{} {}",
                printable(l.profile.as_bytes(), PROFILE_BYTES),
                l.port
            )
        })
        .take(MAX_LISTED)
        .collect();
    live_not_in_policy.dedup();
    let mut policy_not_live: Vec<u16> = policy
        .services_of(Kind::Sip)
        .flat_map(|s| s.ports.iter().map(|r| r.first()))
        .filter(|p| !live.iter().any(|l| !l.tls && l.port == *p))
        .collect();
    policy_not_live.sort_unstable();
    policy_not_live.dedup();
    Crosscheck {
        checked: true,
        live_not_in_policy,
        policy_not_live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(profile: &str, port: u16, tls: bool) -> Listening {
        Listening {
            profile: profile.into(),
            host: "192.0.2.1".into(),
            port,
            tls,
        }
    }

    #[test]
    fn ws_and_wss_listeners_the_policy_opens_are_not_reported_as_drift() {
        // What the real FreeSWITCH reports for vanilla's internal profile.
        let p = sipwall_policy::builtin();
        for tls in [false, true] {
            let c = compare(
                &p,
                &[
                    l("internal", 5060, false),
                    l("internal", 5066, tls),
                    l("internal", 7443, tls),
                    l("external", 5080, false),
                ],
            );
            assert!(c.live_not_in_policy.is_empty(), "tls {tls}: {c:?}");
        }
        // A WebSocket port the policy does not open still is drift.
        let c = compare(
            &p,
            &[l("internal", 5067, false), l("internal", 5060, false)],
        );
        assert_eq!(c.live_not_in_policy, ["internal 5067"]);
    }

    #[test]
    fn the_vanilla_policy_against_what_freeswitch_reports() {
        let p = sipwall_policy::builtin();
        let same = compare(
            &p,
            &[
                l("internal", 5060, false),
                l("external", 5080, false),
                l("external-ipv6", 5080, false),
            ],
        );
        assert!(same.agrees() && same.checked, "{same:?}");
        let drift = compare(
            &p,
            &[
                l("internal", 5060, false),
                l("signalwire", 6050, false),
                l("external", 5081, true),
            ],
        );
        assert_eq!(
            drift.live_not_in_policy,
            ["signalwire 6050", "external 5081"]
        );
        assert_eq!(drift.policy_not_live, [5080]);
    }

    #[test]
    fn a_profile_name_with_an_escape_sequence_is_listed_escaped_and_bounded() {
        let p = sipwall_policy::builtin();
        let many: Vec<Listening> = (0..1000)
            .map(|i| l("evil\x1b[2J\u{202e}", 10_000 + i, false))
            .collect();
        let c = compare(&p, &many);
        assert_eq!(c.live_not_in_policy.len(), MAX_LISTED);
        assert_eq!(c.live_not_in_policy[0], "evil\\x1b[2J\\u{202e} 10000");
    }
}
