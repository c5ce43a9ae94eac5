//! Checks for fuzzing and tests, not part of the API: each usual reader
//! reads what the general reader it stands in for reads.
//!
//! A usual reader (`X_usual`) takes the shape nearly every message has
//! and returns `None` for any other, which its general reader
//! (`X_general`) reads; where the usual reader accepts bytes, the general
//! reader must read them to the same value. [`usual_paths_agree`] holds
//! each pair to that on one input; the `usual` fuzz target and the tests
//! run it over many.

use crate::head::{split_head_general, split_head_usual};
use crate::header::HeaderName;
use crate::message::{check_call_id_general, check_call_id_usual, Limits, Message};
use crate::start_line::{parse_start_line_general, parse_start_line_usual};
use crate::{auth, cseq, host, name_addr, sdp, via};
use std::fmt::Debug;

/// Runs `data` through every usual reader and the general reader it
/// stands in for; says where they disagree.
pub fn usual_paths_agree(data: &[u8]) -> Result<(), String> {
    let limits = Limits::default();
    let (fast, general) = (Message::parse(data), Message::parse_general(data, &limits));
    if fast != general {
        return differ("message", &fast, &general);
    }
    let Ok(head) = split_head_general(data, &limits, true) else {
        return Ok(());
    };
    if let Some(usual) = split_head_usual(data, &limits, |_| ()) {
        let fast = (usual.start_line, usual.body_start, &usual.headers);
        if fast != (head.start_line, head.body_start, &head.headers) {
            return differ("head", &fast, &head.headers);
        }
    }
    agree(
        "start line",
        parse_start_line_usual(head.start_line),
        || parse_start_line_general(head.start_line),
    )?;
    for h in &head.headers {
        values_agree(h.name, h.value)
            .map_err(|e| format!("{e} (value {:?})", String::from_utf8_lossy(h.value)))?;
    }
    let body = data.get(head.body_start..).unwrap_or_default();
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(v) = line.strip_prefix(b"m=") {
            agree("m= line", sdp::parse_m_usual(v), || sdp::parse_m_general(v))?;
        }
        if let Some(v) = line.strip_prefix(b"c=") {
            agree("c= line", sdp::parse_connection_usual(v), || {
                sdp::parse_connection_general(v)
            })?;
        }
    }
    Ok(())
}

/// One header value through its usual reader and its general reader.
fn values_agree(name: HeaderName, v: &[u8]) -> Result<(), String> {
    match name {
        HeaderName::From | HeaderName::To => {
            agree("name-addr", name_addr::parse_single_usual(v), || {
                name_addr::parse_single_general(v)
            })?
        }
        // A list header's usual reader reads a value of one element; its
        // general reader is the list's.
        HeaderName::Contact => {
            if let Some(fast) = name_addr::parse_single_usual(v) {
                let general: Vec<_> = name_addr::NameAddrList::new(v).collect();
                if general != [Ok(fast)] {
                    return differ("contact", &fast, &general);
                }
            }
        }
        HeaderName::Via => {
            if let Some(fast) = via::parse_single_usual(v) {
                let general: Vec<_> = via::ViaList::new(v).collect();
                if general != [Ok(fast)] {
                    return differ("via", &fast, &general);
                }
            }
        }
        HeaderName::CSeq => agree("cseq", cseq::parse_usual(v), || cseq::parse_general(v))?,
        HeaderName::CallId => agree("call-id", check_call_id_usual(v), || {
            check_call_id_general(v)
        })?,
        HeaderName::Authorization
        | HeaderName::ProxyAuthorization
        | HeaderName::WwwAuthenticate
        | HeaderName::ProxyAuthenticate => agree("credentials", auth::parse_usual(v), || {
            auth::parse_general(v)
        })?,
        _ => {}
    }
    // Every host:port at the start of a value, as a URI or a Via reads it.
    for at in 0..v.len().min(64) {
        let s = &v[at..];
        let usual = host::parse_hostport_usual(s)
            .map(|(addr, port, used)| (crate::Host::Ipv4(addr), port, used));
        agree("host", usual, || host::parse_hostport_general(s))?;
    }
    Ok(())
}

/// Where a usual reader read `usual`, the general reader reads the same.
fn agree<T: PartialEq + Debug, E: PartialEq + Debug>(
    what: &str,
    usual: Option<T>,
    general: impl FnOnce() -> Result<T, E>,
) -> Result<(), String> {
    match usual {
        Some(fast) => {
            let general = general();
            if general.as_ref() == Ok(&fast) {
                Ok(())
            } else {
                differ(what, &fast, &general)
            }
        }
        None => Ok(()),
    }
}

/// The report of a disagreement on `what`.
fn differ(what: &str, fast: &dyn Debug, general: &dyn Debug) -> Result<(), String> {
    Err(format!(
        "{what}: fast path {fast:?}, general path {general:?}"
    ))
}
