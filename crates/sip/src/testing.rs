//! Checks for fuzzing and tests, not part of the API: each fast path
//! reads what the general path it stands in for reads.
//!
//! The fast paths (`usual` readers) take the shapes nearly every message
//! has and leave any other to the general path; where a fast path
//! accepts bytes, the general path must read them to the same value.
//! [`usual_paths_agree`] holds each fast path to that on one input; the
//! `usual` fuzz target and the tests run it over many.

use crate::head::{split_any_head, split_usual_head};
use crate::header::HeaderName;
use crate::message::{
    call_id_defect, check_call_id, parse_start_line, parse_start_line_slowly, Limits, Message,
};
use crate::{auth, cseq, host, name_addr, sdp, via};
use std::fmt::Debug;

/// Runs `data` through every fast path and the general path it stands in
/// for; says where they disagree.
pub fn usual_paths_agree(data: &[u8]) -> Result<(), String> {
    let limits = Limits::default();
    let (fast, general) = (
        Message::parse(data),
        Message::parse_generally(data, &limits),
    );
    if fast != general {
        return differ("message", &fast, &general);
    }
    let Ok(head) = split_any_head(data, &limits, true) else {
        return Ok(());
    };
    if let Some(usual) = split_usual_head(data, &limits, |_| ()) {
        let fast = (usual.start_line, usual.body_start, &usual.headers);
        if fast != (head.start_line, head.body_start, &head.headers) {
            return differ("head", &fast, &head.headers);
        }
    }
    if let Ok(fast) = parse_start_line(head.start_line) {
        let general = parse_start_line_slowly(head.start_line);
        if Ok(fast) != general {
            return differ("start line", &fast, &general);
        }
    }
    for h in &head.headers {
        values_agree(h.name, h.value)
            .map_err(|e| format!("{e} (value {:?})", String::from_utf8_lossy(h.value)))?;
    }
    let body = data.get(head.body_start..).unwrap_or_default();
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(v) = line.strip_prefix(b"m=") {
            if let Some(fast) = sdp::usual_m(v) {
                if Ok(fast) != sdp::parse_m_slowly(v) {
                    return differ("m= line", &fast, &sdp::parse_m_slowly(v));
                }
            }
        }
        if let Some(v) = line.strip_prefix(b"c=") {
            let (fast, general) = (sdp::parse_connection(v), sdp::parse_connection_slowly(v));
            if fast.is_ok() && fast != general {
                return differ("c= line", &fast, &general);
            }
        }
    }
    Ok(())
}

/// One header value through its fast path and its general path.
fn values_agree(name: HeaderName, v: &[u8]) -> Result<(), String> {
    match name {
        HeaderName::From | HeaderName::To => {
            if let Some(fast) = name_addr::usual(v) {
                let general = name_addr::parse_single_slowly(v);
                if Ok(fast) != general {
                    return differ("name-addr", &fast, &general);
                }
            }
        }
        HeaderName::Contact => {
            if let Some(fast) = name_addr::usual(v) {
                let general: Vec<_> = name_addr::NameAddrList::new(v).collect();
                if general != [Ok(fast)] {
                    return differ("contact", &fast, &general);
                }
            }
        }
        HeaderName::Via => {
            if let Some(fast) = via::usual(v) {
                let general: Vec<_> = via::ViaList::new(v).collect();
                if general != [Ok(fast)] {
                    return differ("via", &fast, &general);
                }
            }
        }
        HeaderName::CSeq => {
            if let Ok(fast) = cseq::parse(v) {
                let general = cseq::parse_slowly(v);
                if Ok(fast) != general {
                    return differ("cseq", &fast, &general);
                }
            }
        }
        HeaderName::CallId if check_call_id(v).is_ok() && call_id_defect(v).is_err() => {
            return differ("call-id", &Ok::<(), ()>(()), &call_id_defect(v));
        }
        HeaderName::Authorization
        | HeaderName::ProxyAuthorization
        | HeaderName::WwwAuthenticate
        | HeaderName::ProxyAuthenticate => {
            let (fast, general) = (auth::parse(v), auth::parse_generally(v));
            if fast != general {
                return differ("credentials", &fast, &general);
            }
        }
        _ => {}
    }
    // Every host:port at the start of a value, as a URI or a Via reads it.
    for at in 0..v.len().min(64) {
        let s = &v[at..];
        if let Some((addr, port, used)) = host::usual_ipv4_hostport(s) {
            let general = host::any_hostport(s);
            if general != Ok((crate::Host::Ipv4(addr), port, used)) {
                return differ("host", &(addr, port, used), &general);
            }
        }
    }
    Ok(())
}

/// The report of a disagreement on `what`.
fn differ(what: &str, fast: &dyn Debug, general: &dyn Debug) -> Result<(), String> {
    Err(format!(
        "{what}: fast path {fast:?}, general path {general:?}"
    ))
}
