//! `sipwall sip ...`: SIP tools over `sipwall-sip`.
//!
//! `sip parse` exits 0 when every file holds a message that parses with no
//! flag, 1 when any is malformed, unsupported, over a bound, or flagged (a
//! server must refuse a flagged message, so it counts as invalid), and 2
//! when a file cannot be read. The JSON shape is documented in docs/sip.md.

use crate::exit::{Failure, Outcome, Success};
use clap::Subcommand;
use serde_json::{json, Value};
use sipwall_sip::{
    Auth, Connection, ConnectionAddress, Error, Host, Message, NameAddr, StartLine, Uri, Via,
};
use std::path::PathBuf;

/// `sipwall sip` subcommands.
#[derive(Subcommand, Debug)]
pub enum SipCommand {
    /// Parse SIP messages (one per file): the message, or a typed error.
    Parse {
        /// Files holding one SIP message each; `-` reads one from stdin.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = super::Format::Text)]
        format: super::Format,
    },
}

/// Runs a `sipwall sip` subcommand.
pub fn run(cmd: SipCommand) -> Outcome {
    match cmd {
        SipCommand::Parse { files, format } => parse(&files, format),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn host(h: Host<'_>) -> Value {
    match h {
        Host::Ipv4(a) => json!({"kind": "ipv4", "address": a.to_string()}),
        Host::Ipv6(a) => json!({"kind": "ipv6", "address": a.to_string()}),
        Host::Domain(d) => json!({"kind": "domain", "name": d}),
    }
}

fn uri(u: &Uri<'_>) -> Value {
    let scheme = match u.scheme() {
        sipwall_sip::Scheme::Sip => "sip",
        sipwall_sip::Scheme::Sips => "sips",
        sipwall_sip::Scheme::Tel => "tel",
        sipwall_sip::Scheme::Other(s) => s,
    };
    json!({
        "text": u.as_str(),
        "scheme": scheme,
        "user": u.user(),
        "host": u.host().map(host),
        "port": u.port(),
        "params": u.params(),
        "headers": u.headers(),
    })
}

fn name_addr(n: &NameAddr<'_>) -> Value {
    json!({
        "display_name": n.display_name().map(text),
        "uri": uri(n.uri()),
        "tag": n.tag().map(text),
        "expires": n.expires(),
    })
}

fn via(v: &Via<'_>) -> Value {
    json!({
        "transport": v.transport().as_str(),
        "host": host(v.host()),
        "port": v.port(),
        "branch": v.branch().map(text),
        "received": v.received().map(|a| a.to_string()),
        "rport": v.rport().map(|p| json!({"value": p})),
    })
}

fn auth(a: Option<Auth<'_>>) -> Value {
    match a {
        None => Value::Null,
        Some(a) => json!({
            "scheme": a.scheme(),
            "username": a.username().map(text),
            "realm": a.realm().map(text),
        }),
    }
}

fn connection(c: Option<Connection<'_>>) -> Value {
    match c {
        None => Value::Null,
        Some(c) => {
            let (family, address) = match c.address {
                ConnectionAddress::Ip(std::net::IpAddr::V4(a)) => ("IP4", a.to_string()),
                ConnectionAddress::Ip(std::net::IpAddr::V6(a)) => ("IP6", a.to_string()),
                ConnectionAddress::Fqdn { ipv6, name } => {
                    (if ipv6 { "IP6" } else { "IP4" }, name.to_owned())
                }
            };
            json!({"family": family, "address": address, "ttl": c.ttl, "count": c.count})
        }
    }
}

fn message(m: &Message<'_>) -> Value {
    let (kind, method, request_uri, status, reason) = match m.start_line() {
        StartLine::Request(r) => (
            "request",
            Some(r.method.as_str()),
            Some(uri(&r.uri)),
            None,
            None,
        ),
        StartLine::Response(s) => ("response", None, None, Some(s.code), Some(text(s.reason))),
    };
    let headers: Vec<Value> = m
        .headers()
        .iter()
        .map(|h| {
            json!({
                "name": text(h.raw_name),
                "known": (h.name != sipwall_sip::HeaderName::Other).then(|| h.name.as_str()),
                "value": text(h.value),
                "line": h.line,
            })
        })
        .collect();
    let sdp = m.sdp().map(|s| {
        json!({
            "connection": connection(s.connection()),
            "direction": s.direction().map(|d| d.as_str()),
            "media": s.media().map(|md| json!({
                "type": md.kind,
                "port": md.port,
                "port_count": md.port_count,
                "proto": md.proto,
                "formats": md.formats.split_ascii_whitespace().collect::<Vec<_>>(),
                "connection": connection(md.connection),
                "rtcp": md.rtcp.map(|r| json!({"port": r.port, "address": r.address.map(|a| a.to_string())})),
                "rtcp_mux": md.rtcp_mux,
                "crypto": md.crypto,
                "fingerprint": md.fingerprint,
                "direction": md.direction.as_str(),
            })).collect::<Vec<_>>(),
        })
    });
    let fp = m.fingerprint();
    json!({
        "kind": kind,
        "method": method,
        "request_uri": request_uri,
        "status": status,
        "reason": reason,
        "headers": headers,
        "call_id": m.call_id().map(text),
        "cseq": m.cseq().map(|c| json!({"number": c.number, "method": c.method.as_str()})),
        "from": m.from().as_ref().map(name_addr),
        "to": m.to().as_ref().map(name_addr),
        "via": m.vias().map(|v| via(&v)).collect::<Vec<_>>(),
        "contact": m.contacts().map(|c| name_addr(&c)).collect::<Vec<_>>(),
        "contact_star": m.is_contact_star(),
        "expires": m.expires(),
        "max_forwards": m.max_forwards(),
        "user_agent": m.user_agent().map(text),
        "server": m.server().map(text),
        "authorization": auth(m.authorization()),
        "proxy_authorization": auth(m.proxy_authorization()),
        "www_authenticate": auth(m.www_authenticate()),
        "proxy_authenticate": auth(m.proxy_authenticate()),
        "content_type": m.value(sipwall_sip::HeaderName::ContentType).map(text),
        "content_length": m.content_length(),
        "body_length": m.body().len(),
        "trailing_length": m.trailing().len(),
        "sdp": sdp,
        "fingerprint": {
            "scanner": fp.scanner.map(|s| s.as_str()),
            "sipvicious_tag": fp.sipvicious_tag.map(|t| json!({
                "label": text(t.label()),
                "target": t.target().map(|a| a.to_string()),
            })),
        },
    })
}

fn error(e: &Error) -> Value {
    let what = match e {
        Error::Malformed { defect, .. } => defect.to_string(),
        Error::Unsupported { what, .. } => what.to_string(),
        Error::Limit { bound, .. } => bound.to_string(),
        _ => e.to_string(),
    };
    json!({
        "class": e.class(),
        "what": what,
        "line": e.line(),
        "offset": e.offset(),
        "text": e.to_string(),
    })
}

/// One file's verdict.
struct Report {
    value: Value,
    valid: bool,
    line: String,
}

fn report(file: &str, bytes: &[u8]) -> Report {
    match Message::parse(bytes) {
        Err(e) => Report {
            value: json!({"file": file, "status": "invalid", "error": error(&e), "flags": [], "message": null}),
            valid: false,
            line: format!("{file}: invalid: {e}"),
        },
        Ok(m) => {
            let flags: Vec<Value> = m
                .flags()
                .iter()
                .map(|f| {
                    json!({"code": f.code(), "header": f.header().map(|h| h.as_str()), "text": f.to_string()})
                })
                .collect();
            let valid = flags.is_empty();
            let summary = match m.start_line() {
                StartLine::Request(r) => {
                    format!("request {} {}", r.method.as_str(), r.uri.as_str())
                }
                StartLine::Response(s) => format!("response {} {}", s.code, text(s.reason)),
            };
            let mut line = format!(
                "{file}: {}: {summary}, {} headers, {} body bytes",
                if valid { "ok" } else { "flagged" },
                m.headers().len(),
                m.body().len()
            );
            for f in m.flags().iter() {
                line.push_str(&format!("\n  flag: {f}"));
            }
            let fp = m.fingerprint();
            if let Some(s) = fp.scanner {
                line.push_str(&format!("\n  scanner user-agent: {}", s.as_str()));
            }
            if let Some(t) = fp.sipvicious_tag {
                line.push_str(&format!("\n  sipvicious from-tag: {}", text(t.label())));
            }
            Report {
                value: json!({
                    "file": file,
                    "status": if valid { "ok" } else { "flagged" },
                    "error": null,
                    "flags": flags,
                    "message": message(&m),
                }),
                valid,
                line,
            }
        }
    }
}

fn parse(files: &[PathBuf], format: super::Format) -> Outcome {
    // Read everything first: an unreadable file is bad usage (exit 2) and
    // should not leave half a report behind.
    let mut inputs = Vec::with_capacity(files.len());
    let mut stdin_read = false;
    for f in files {
        if f.as_os_str() == "-" {
            if std::mem::replace(&mut stdin_read, true) {
                return Err(Failure::bad_input(anyhow::anyhow!(
                    "-: stdin holds one message; give it once"
                )));
            }
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .map_err(|e| Failure::bad_input(anyhow::anyhow!("<stdin>: {e}")))?;
            inputs.push(("<stdin>".to_owned(), bytes));
            continue;
        }
        let bytes = std::fs::read(f)
            .map_err(|e| Failure::bad_input(anyhow::anyhow!("{}: {e}", f.display())))?;
        inputs.push((f.display().to_string(), bytes));
    }
    let reports: Vec<Report> = inputs.iter().map(|(f, b)| report(f, b)).collect();
    match format {
        super::Format::Json => {
            let all: Vec<&Value> = reports.iter().map(|r| &r.value).collect();
            let out = serde_json::to_string_pretty(&all).map_err(Failure::failed)?;
            outln!("{out}");
        }
        super::Format::Text => {
            for r in &reports {
                outln!("{}", r.line);
            }
        }
    }
    if reports.iter().all(|r| r.valid) {
        Ok(Success::Clean)
    } else {
        Ok(Success::Findings)
    }
}
