//! Reading a setting's text the way FreeSWITCH's modules do: booleans,
//! ports and bind addresses, with the module's default when it is absent
//! or empty.

use crate::inventory::{Address, Family};
use crate::provenance::{Provenance, Unknown};
use crate::vars::symbol;
use crate::warning::{Warning, WarningKind};
use crate::xml::Param;
use std::net::IpAddr;

/// FreeSWITCH's `switch_true`: yes, on, true, t, enabled, active, allow, or a non-zero number.
pub fn is_true(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    matches!(
        v.as_str(),
        "yes" | "on" | "true" | "t" | "enabled" | "active" | "allow"
    ) || v.parse::<i64>().is_ok_and(|n| n != 0)
}

/// A port setting: its value, or the default when absent or empty, or
/// `None` (with a warning) when it cannot be known or is not a port.
pub fn port(
    param: Option<&Param>,
    default: Option<u16>,
    warnings: &mut Vec<Warning>,
) -> Option<u16> {
    let Some(param) = param else { return default };
    let text = param.value.trim();
    if text.is_empty() {
        if let Some(why) = blocking_unknown(&param.provenance) {
            warnings.push(unknown_warning(&param.provenance, why));
            return None;
        }
        return default;
    }
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Some(p),
        _ => {
            warnings.push(Warning {
                kind: WarningKind::BadValue,
                at: param.provenance.at.clone(),
                message: format!("{} \"{text}\" is not a port", param.provenance.setting),
            });
            None
        }
    }
}

/// A port that a module reads as `(switch_port_t)atoi(val)` and replaces
/// by `default` when that gives 0 (mod_sofia's `sip-port`, `tls-sip-port`):
/// `"abc"` is the default and `"5080x"` is 5080, as FreeSWITCH binds them,
/// each with a warning since the text is not what it seems. `None` (with a
/// warning) when it depends on a value unknown at discovery, or is `auto`
/// (a port the kernel picks).
pub fn atoi_port(param: Option<&Param>, default: u16, warnings: &mut Vec<Warning>) -> Option<u16> {
    let Some(param) = param else {
        return Some(default);
    };
    let text = param.value.trim();
    if text.is_empty() {
        if let Some(why) = blocking_unknown(&param.provenance) {
            warnings.push(unknown_warning(&param.provenance, why));
            return None;
        }
        return Some(default);
    }
    let setting = &param.provenance.setting;
    if text.eq_ignore_ascii_case("auto") {
        warnings.push(Warning {
            kind: WarningKind::Dynamic,
            at: param.provenance.at.clone(),
            message: format!("{setting} \"auto\" binds a port the kernel picks at start-up"),
        });
        return None;
    }
    // The cast keeps the low 16 bits, as C's conversion to an unsigned short does.
    let port = match atoi(&param.value) as u16 {
        0 => default,
        p => p,
    };
    if text.parse::<u16>().ok() != Some(port) {
        warnings.push(Warning {
            kind: WarningKind::BadValue,
            at: param.provenance.at.clone(),
            message: format!("{setting} \"{text}\" is not a port; FreeSWITCH reads it as {port}"),
        });
    }
    Some(port)
}

/// A bind address setting; empty means `default`, unless it is empty
/// because of a value unknown at discovery.
pub fn address(param: Option<&Param>, default: Address, warnings: &mut Vec<Warning>) -> Address {
    let Some(param) = param else { return default };
    let text = param.value.trim();
    if text.is_empty() {
        if let Some(why) = blocking_unknown(&param.provenance) {
            warnings.push(unknown_warning(&param.provenance, why));
            return Address::Unknown { because: why };
        }
        return default;
    }
    parse_address(text)
}

/// An address as written after preprocessing (brackets allowed around IPv6).
pub fn parse_address(text: &str) -> Address {
    let text = text.trim();
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if bare == symbol("local_ip_v4") {
        return Address::Host {
            family: Family::Ipv4,
        };
    }
    if bare == symbol("local_ip_v6") {
        return Address::Host {
            family: Family::Ipv6,
        };
    }
    match bare.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => Address::Any {
            family: Some(if ip.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            }),
        },
        Ok(ip) => Address::Ip { ip },
        Err(_) => Address::Name {
            name: bare.to_string(),
        },
    }
}

/// The host part of a `host:port` setting; an empty host that is empty
/// only because of a value unknown at discovery is unknown, not "any".
pub fn host_address(host: &str, provenance: &Provenance, empty: Address) -> Address {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    if !bare.is_empty() {
        return parse_address(host);
    }
    match blocking_unknown(provenance) {
        Some(because) => Address::Unknown { because },
        None => empty,
    }
}

/// Splits `host:port` at the last colon (so `[::1]:8081` works); a text
/// without a colon is all host.
pub fn split_host_port(text: &str) -> (&str, Option<&str>) {
    let text = text.trim();
    if text.starts_with('[') {
        if let Some(end) = text.find(']') {
            let host = &text[..=end];
            let rest = &text[end + 1..];
            return (host, rest.strip_prefix(':'));
        }
    }
    match text.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((host, _)) if host.contains(':') => (text, None),
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    }
}

/// C's `atoi`: leading blanks, a sign, then digits, wrapping like the int
/// it returns.
pub fn atoi(text: &str) -> i32 {
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i32, |n, b| {
            n.wrapping_mul(10).wrapping_add(i32::from(b - b'0'))
        });
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

/// The reason an empty value is empty only because discovery cannot know it.
pub fn blocking_unknown(p: &Provenance) -> Option<Unknown> {
    p.variables
        .iter()
        .filter_map(|v| v.unknown_because)
        .find(|u| *u != Unknown::Undefined)
}

fn unknown_warning(p: &Provenance, why: Unknown) -> Warning {
    let var = p
        .variables
        .iter()
        .find(|v| v.unknown_because == Some(why))
        .map(|v| v.name.as_str())
        .unwrap_or("?");
    Warning {
        kind: WarningKind::UnknownValue,
        at: p.at.clone(),
        message: format!(
            "{} depends on $${{{var}}}, unknown at discovery ({why:?}); give it with --var {var}=VALUE",
            p.setting
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_switch_true() {
        for t in ["true", "TRUE", "yes", "on", "1", "enabled", "t"] {
            assert!(is_true(t), "{t}");
        }
        for f in ["false", "no", "0", "", "$${x}"] {
            assert!(!is_true(f), "{f}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("::"),
            Address::Any {
                family: Some(Family::Ipv6)
            }
        );
        assert_eq!(
            parse_address("0.0.0.0"),
            Address::Any {
                family: Some(Family::Ipv4)
            }
        );
        assert_eq!(
            parse_address("[$${local_ip_v6}]"),
            Address::Host {
                family: Family::Ipv6
            }
        );
        assert_eq!(
            parse_address("192.0.2.1"),
            Address::Ip {
                ip: "192.0.2.1".parse().unwrap()
            }
        );
        assert_eq!(
            parse_address("pbx.example"),
            Address::Name {
                name: "pbx.example".into()
            }
        );
    }

    #[test]
    fn host_port_splitting() {
        assert_eq!(split_host_port(":5066"), ("", Some("5066")));
        assert_eq!(split_host_port("[::1]:8081"), ("[::1]", Some("8081")));
        assert_eq!(
            split_host_port("$${local_ip_v4}:8082"),
            ("$${local_ip_v4}", Some("8082"))
        );
        assert_eq!(split_host_port("2001:db8::1"), ("2001:db8::1", None));
        assert_eq!(split_host_port("0.0.0.0"), ("0.0.0.0", None));
    }
}
