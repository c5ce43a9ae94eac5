//! The conntrack helpers' module options as a modprobe.d file.

use sipwall_policy::{Kind, Policy};
use std::fmt::Write;

/// Renders `options nf_conntrack_sip ...` (and `nf_conntrack_h323` when an
/// H.323 service is declared) for `/etc/modprobe.d/`.
pub fn render(policy: &Policy, source: &str) -> String {
    let h = &policy.helpers;
    let flag = |b: bool| u8::from(b);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# sipwall: conntrack helper options, compiled from {}",
        // A newline here would start a modprobe.d line of the writer's
        // choosing (`install nf_conntrack_sip <command>`), run as root.
        crate::text::escape(source, 512)
    );
    let _ = writeln!(
        out,
        "# (module options apply when the module loads: reload it to change them)"
    );
    let ports = h
        .sip_ports
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let ports = if ports.is_empty() {
        String::new()
    } else {
        format!(" ports={ports}")
    };
    let _ = writeln!(
        out,
        "options nf_conntrack_sip{ports} sip_direct_media={} sip_direct_signalling={} sip_timeout={}",
        flag(h.sip_direct_media),
        flag(h.sip_direct_signalling),
        h.sip_timeout
    );
    if policy.has(Kind::H323Ras) || policy.has(Kind::H323Q931) {
        let _ = writeln!(
            out,
            "options nf_conntrack_h323 default_rrq_ttl={} gkrouted_only={} callforward_filter={}",
            h.h323_default_rrq_ttl,
            flag(h.h323_gkrouted_only),
            flag(h.h323_callforward_filter)
        );
    }
    out
}
