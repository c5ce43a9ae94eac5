//! IPv6 everywhere an address can appear, following the cases RFC 5118
//! describes (messages written here, not copied from the RFC). Only the
//! unbracketed IPv6 Request-URI (`ipv6-bad`) is invalid.

use sipwall_sip::{ConnectionAddress, Defect, Error, Host, Message};
use std::net::{IpAddr, Ipv6Addr};

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// A REGISTER around a Request-URI, a Via value and a Contact value.
fn register(ruri: &str, via: &str, contact: &str) -> Vec<u8> {
    format!(
        "REGISTER {ruri} SIP/2.0\r\n\
         To: <sip:alice@example.org>\r\n\
         From: <sip:alice@example.org>;tag=r51\r\n\
         Via: {via}\r\n\
         Call-ID: rfc5118-{}\r\n\
         CSeq: 7 REGISTER\r\n\
         Max-Forwards: 70\r\n\
         Contact: {contact}\r\n\
         Content-Length: 0\r\n\r\n",
        ruri.len()
    )
    .into_bytes()
}

#[test]
fn bracketed_reference_in_request_uri_via_and_contact() {
    let b = register(
        "sip:[2001:db8::10]",
        "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKa1",
        "\"Alice\" <sip:alice@[2001:db8::1]:5062>",
    );
    let m = Message::parse(&b).unwrap();
    assert_eq!(
        m.request_uri().unwrap().host(),
        Some(Host::Ipv6(v6("2001:db8::10")))
    );
    assert_eq!(m.request_uri().unwrap().port(), None);
    assert_eq!(m.top_via().unwrap().host(), Host::Ipv6(v6("2001:db8::9:1")));
    let c = m.contacts().next().unwrap();
    assert_eq!(c.uri().host(), Some(Host::Ipv6(v6("2001:db8::1"))));
    assert_eq!(c.uri().port(), Some(5062));
}

#[test]
fn unbracketed_request_uri_is_invalid() {
    let b = register(
        "sip:2001:db8::10",
        "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKa2",
        "<sip:a@[2001:db8::1]>",
    );
    match Message::parse(&b) {
        Err(Error::Malformed {
            defect: Defect::RequestUri(reason),
            line: 1,
            ..
        }) => {
            assert_eq!(reason, "IPv6 address must be enclosed in brackets")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn port_inside_or_outside_the_brackets() {
    // Inside: all of it is the address, there is no port.
    let b = register(
        "sip:[2001:db8::10:5070]",
        "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKa3",
        "<sip:a@[2001:db8::1]>",
    );
    let m = Message::parse(&b).unwrap();
    let u = m.request_uri().unwrap();
    assert_eq!(
        (u.host(), u.port()),
        (Some(Host::Ipv6(v6("2001:db8::10:5070"))), None)
    );
    // Outside: an address and a port.
    let b = register(
        "sip:[2001:db8::10]:5070",
        "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKa4",
        "<sip:a@[2001:db8::1]>",
    );
    let m = Message::parse(&b).unwrap();
    let u = m.request_uri().unwrap();
    assert_eq!(
        (u.host(), u.port()),
        (Some(Host::Ipv6(v6("2001:db8::10"))), Some(5070))
    );
}

#[test]
fn received_with_and_without_brackets() {
    for received in ["[2001:db8::9:255]", "2001:db8::9:255"] {
        let via = format!("SIP/2.0/UDP [2001:db8::9:1];received={received};branch=z9hG4bKa5");
        let b = register("sip:[2001:db8::10]", &via, "<sip:a@[2001:db8::1]>");
        let m = Message::parse(&b).unwrap_or_else(|e| panic!("{received}: {e}"));
        assert_eq!(
            m.top_via().unwrap().received(),
            Some(IpAddr::V6(v6("2001:db8::9:255")))
        );
    }
}

#[test]
fn ipv4_and_ipv6_in_the_same_headers() {
    let b = b"BYE sip:user@host.example.net SIP/2.0\r\n\
        Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111\r\n\
        Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144\r\n\
        Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200\r\n\
        Call-ID: 997077@lau\r\nMax-Forwards: 70\r\nCSeq: 89187 BYE\r\n\
        To: sip:user@example.net;tag=9817--94\r\nFrom: sip:user@example.com;tag=81x2\r\n\
        Content-Length: 0\r\n\r\n";
    let m = Message::parse(b).unwrap();
    let hosts: Vec<String> = m.vias().map(|v| v.host().to_string()).collect();
    assert_eq!(hosts, ["[2001:db8::9:1]", "192.0.2.1", "[2001:db8::9:255]"]);
    assert_eq!(m.vias().next().unwrap().port(), Some(6050));
    assert_eq!(
        m.vias().nth(2).unwrap().received(),
        Some("192.0.2.200".parse().unwrap())
    );
}

fn invite_with_sdp(ruri: &str, via: &str, sdp: &str) -> Vec<u8> {
    format!(
        "INVITE {ruri} SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=a1\r\n\
         Via: {via}\r\nCall-ID: sdp6\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         Contact: <sip:caller@[2001:db8::5]>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

#[test]
fn sdp_with_ipv6_and_mixed_families() {
    let sdp = "v=0\r\no=bob 280744730 28977631 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n\
               m=audio 22334 RTP/AVP 0\r\nm=video 6024 RTP/AVP 107\r\nc=IN IP4 192.0.2.1\r\n";
    let b = invite_with_sdp(
        "sip:user@[2001:db8::10]",
        "SIP/2.0/UDP [2001:db8::20];branch=z9hG4bK-s6",
        sdp,
    );
    let m = Message::parse(&b).unwrap();
    let s = m.sdp().unwrap();
    assert_eq!(
        s.connection().unwrap().address,
        ConnectionAddress::Ip(IpAddr::V6(v6("2001:db8::1")))
    );
    let media: Vec<_> = s.media().collect();
    assert_eq!(
        media[0].connection.unwrap().address,
        ConnectionAddress::Ip(IpAddr::V6(v6("2001:db8::1")))
    );
    assert_eq!(
        media[1].connection.unwrap().address,
        ConnectionAddress::Ip("192.0.2.1".parse().unwrap())
    );
}

#[test]
fn ipv4_mapped_addresses() {
    let sdp = "v=0\r\no=a 1 0 IN IP6 ::ffff:192.0.2.2\r\ns=-\r\nc=IN IP6 ::ffff:192.0.2.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 2\r\n";
    let b = invite_with_sdp(
        "sip:user@[::ffff:abcd:abcd]",
        "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19",
        sdp,
    );
    let m = Message::parse(&b).unwrap();
    assert_eq!(
        m.request_uri().unwrap().host(),
        Some(Host::Ipv6(v6("::ffff:abcd:abcd")))
    );
    let via = m.top_via().unwrap();
    assert_eq!(via.host(), Host::Ipv6(v6("::ffff:192.0.2.10")));
    assert_eq!(via.port(), Some(19823));
    assert_eq!(
        m.sdp().unwrap().connection().unwrap().address,
        ConnectionAddress::Ip(IpAddr::V6(v6("::ffff:192.0.2.2")))
    );
}

#[test]
fn the_three_colon_abnf_form_is_tolerated_as_the_same_address() {
    // RFC 5118 §4.10: both forms must be tolerated; they name one address.
    let want = Some(Host::Ipv6(v6("2001:db8::192.0.2.1")));
    for ruri in [
        "sip:user@[2001:db8::192.0.2.1]",
        "sip:user@[2001:db8:::192.0.2.1]",
    ] {
        let b = format!(
            "OPTIONS {ruri} SIP/2.0\r\nTo: {ruri}\r\nFrom: sip:user@example.com;tag=810x2\r\n\
             Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111\r\nCall-ID: abnf\r\n\
             CSeq: 689 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        let m = Message::parse(b.as_bytes()).unwrap_or_else(|e| panic!("{ruri}: {e}"));
        assert_eq!(m.request_uri().unwrap().host(), want, "{ruri}");
        assert_eq!(m.to().unwrap().uri().host(), want, "{ruri}");
    }
}
