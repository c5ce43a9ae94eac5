//! Warnings: a policy that is valid but probably not what the admin meant.
//! Unlike errors they stop nothing (exit 0); they say what the policy
//! really does, so that a surprise is seen before it is applied.

use crate::policy::{MediaMode, Policy};

/// Something legal in a policy that is likely a mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// No `[services]` at all: the host serves nothing from outside.
    #[error(
        "the policy has no services: it opens nothing{}; add a [services.NAME] table for each thing this host serves (SSH too)",
        if opens.is_empty() { String::new() } else { format!(" but {}", opens.join(" and ")) }
    )]
    NoServices {
        /// What it still lets in, e.g. `media (udp 16384-32769 from any)`, `ping`.
        opens: Vec<String>,
    },
}

/// The warnings for a valid policy, in a stable order.
pub fn warnings(policy: &Policy) -> Vec<Warning> {
    let mut out = Vec::new();
    if policy.services.is_empty() {
        let mut opens = Vec::new();
        // Helper and pinhole media follow SIP calls: with no SIP service
        // there are none, so only the range mode opens anything.
        if policy.media.mode == MediaMode::Range {
            opens.push(format!(
                "media (udp {} from {})",
                policy.media.ports,
                policy.media.allow.join(", ")
            ));
        }
        if policy.icmp_echo {
            opens.push("ping".to_owned());
        }
        out.push(Warning::NoServices { opens });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_policy_warns_that_it_opens_nothing_but_media() {
        let p = crate::parse("p.toml", "").unwrap();
        let w = warnings(&p);
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].to_string(),
            "the policy has no services: it opens nothing but media (udp 16384-32769 from any) and ping; add a [services.NAME] table for each thing this host serves (SSH too)"
        );
        let p = crate::parse(
            "p.toml",
            "[media]\nmode = \"pinhole\"\n[icmp]\necho = false\n",
        )
        .unwrap();
        assert!(warnings(&p)[0]
            .to_string()
            .starts_with("the policy has no services: it opens nothing;"));
        assert!(warnings(&crate::builtin()).is_empty());
    }
}
