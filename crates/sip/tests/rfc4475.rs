//! RFC 4475 torture messages, read in place from the shared test data,
//! each held to the RFC's verdict.

mod torture;

use sipwall_sip::{Defect, Error, Flag, HeaderName, Message, Unsupported};
use torture::{load, VALID};

#[test]
fn valid_messages_parse_without_flags() {
    let Some(dir) = torture::dir() else { return };
    for name in VALID {
        let bytes = load(&dir, name);
        let m = Message::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let flags: Vec<Flag> = m.flags().iter().collect();
        assert!(flags.is_empty(), "{name}: unexpected flags {flags:?}");
    }
}

/// What each §3.1.2 message must be refused for.
enum Expect {
    /// Malformed, with this defect.
    Defect(Defect),
    /// Unsupported.
    Unsupported(Unsupported),
    /// Parsed, carrying this flag.
    Flag(Flag),
}

fn hdr(header: HeaderName, reason: &'static str) -> Expect {
    Expect::Defect(Defect::Header { header, reason })
}

#[test]
fn invalid_messages_are_refused_for_their_defect() {
    let Some(dir) = torture::dir() else { return };
    use HeaderName as H;
    let table: Vec<(&str, Expect)> = vec![
        ("badinv01", hdr(H::Via, "empty or invalid parameter name")),
        ("clerr", Expect::Flag(Flag::ContentLengthMismatch)),
        ("ncl", hdr(H::ContentLength, "not a number")),
        ("scalar02", hdr(H::CSeq, "sequence number exceeds 2^32-1")),
        ("scalarlg", hdr(H::CSeq, "sequence number exceeds 2^32-1")),
        ("quotbal", hdr(H::To, "unterminated quoted string")),
        (
            "ltgtruri",
            Expect::Defect(Defect::RequestUri("invalid URI scheme")),
        ),
        (
            "lwsruri",
            Expect::Defect(Defect::RequestUri("white space inside the Request-URI")),
        ),
        (
            "lwsstart",
            Expect::Defect(Defect::StartLine(
                "more than one space between request-line elements",
            )),
        ),
        (
            "trws",
            Expect::Defect(Defect::StartLine("white space after the SIP version")),
        ),
        (
            "escruri",
            Expect::Defect(Defect::RequestUri(
                "headers (?...) are not allowed in a Request-URI",
            )),
        ),
        ("baddate", hdr(H::Date, "time zone must be GMT")),
        (
            "regbadct",
            hdr(H::Contact, "a URI with headers must be enclosed in <...>"),
        ),
        (
            "badaspec",
            hdr(H::To, "white space inside <...> around the URI"),
        ),
        (
            "baddn",
            hdr(H::From, "display name must be a quoted string or tokens"),
        ),
        ("badvers", Expect::Unsupported(Unsupported::Version)),
        ("mismatch01", Expect::Flag(Flag::CSeqMethodMismatch)),
        ("mismatch02", Expect::Flag(Flag::CSeqMethodMismatch)),
        ("bigcode", Expect::Defect(Defect::StatusCode)),
    ];
    assert_eq!(table.len(), 19);
    for (name, expect) in table {
        let bytes = load(&dir, name);
        let got = Message::parse(&bytes);
        match (expect, got) {
            (
                Expect::Defect(want),
                Err(Error::Malformed {
                    defect,
                    line,
                    offset,
                }),
            ) => {
                assert_eq!(defect, want, "{name}");
                assert!(
                    line >= 1 && (offset as usize) < bytes.len(),
                    "{name}: {line} {offset}"
                );
            }
            (Expect::Unsupported(want), Err(Error::Unsupported { what, line, .. })) => {
                assert_eq!((what, line), (want, 1), "{name}");
            }
            (Expect::Flag(want), Ok(m)) => {
                assert!(m.flags().contains(want), "{name}: {:?}", m.flags());
            }
            (_, got) => panic!("{name}: unexpected outcome {got:?}"),
        }
    }
}

#[test]
fn flagged_application_layer_messages() {
    let Some(dir) = torture::dir() else { return };
    let insuf = load(&dir, "insuf");
    let m = Message::parse(&insuf).unwrap();
    for h in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        assert!(m.flags().contains(Flag::MissingMandatory(h)), "insuf {h}");
    }
    assert!(!m.flags().contains(Flag::MissingMandatory(HeaderName::Via)));

    let multi = load(&dir, "multi01");
    let m = Message::parse(&multi).unwrap();
    for h in [
        HeaderName::CSeq,
        HeaderName::CallId,
        HeaderName::From,
        HeaderName::To,
        HeaderName::MaxForwards,
    ] {
        assert!(m.flags().contains(Flag::MultipleValues(h)), "multi01 {h}");
    }

    let mcl = load(&dir, "mcl01");
    let m = Message::parse(&mcl).unwrap();
    assert!(m.flags().contains(Flag::MultipleContentLength));
}

#[test]
fn what_the_valid_ones_say() {
    let Some(dir) = torture::dir() else { return };
    let wsinv = load(&dir, "wsinv");
    let m = Message::parse(&wsinv).unwrap();
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some(&b"390skdjuw"[..]));
    assert_eq!(vias[2].branch(), Some(&b"z9hG4bK30239"[..]));
    assert_eq!(m.cseq().unwrap().number, 9);
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.to().unwrap().tag(), Some(&b"1918181833n"[..]));
    assert_eq!(m.from().unwrap().tag(), Some(&b"98asjd8"[..]));
    let contact = m.contacts().next().unwrap();
    assert_eq!(contact.params().get("q"), Some(Some(&b"0.33"[..])));
    assert_eq!(m.routes().count(), 1);
    assert_eq!(
        m.value_by_name("newfangledheader").map(|v| v.len()),
        Some(45)
    );

    // dblreq: only the first message of the datagram is read.
    let dbl = load(&dir, "dblreq");
    let m = Message::parse(&dbl).unwrap();
    assert_eq!(m.method(), Some(sipwall_sip::Method::Register));
    assert!(m.trailing().starts_with(b"\r\nINVITE"));

    // longreq: 34 Via values across headers of every spelling.
    let long = load(&dir, "longreq");
    let m = Message::parse(&long).unwrap();
    assert_eq!(m.vias().count(), 34);

    // mpart01: the SDP part of a multipart body is found... when there is one.
    let mp = load(&dir, "mpart01");
    let m = Message::parse(&mp).unwrap();
    assert!(m.content_type().unwrap().is_multipart());
    assert!(m.sdp().is_none());

    // transports: five transports, in order.
    let t = load(&dir, "transports");
    let m = Message::parse(&t).unwrap();
    let names: Vec<_> = m
        .vias()
        .map(|v| v.transport().as_str().to_owned())
        .collect();
    assert_eq!(names, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    // esc02: C%6Fntact is not Contact.
    let e = load(&dir, "esc02");
    let m = Message::parse(&e).unwrap();
    assert_eq!(m.contacts().count(), 2);

    // sdp01 and unreason carry SDP.
    for name in ["sdp01", "unreason", "bcast"] {
        let b = load(&dir, name);
        let m = Message::parse(&b).unwrap();
        let sdp = m.sdp().unwrap_or_else(|| panic!("{name}"));
        assert_eq!(sdp.media().count(), 2, "{name}");
    }

    // bcast: a broadcast Via is syntax, not the parser's business.
    let b = load(&dir, "bcast");
    let m = Message::parse(&b).unwrap();
    assert_eq!(
        m.vias().nth(1).unwrap().host().to_string(),
        "255.255.255.255"
    );
}

#[test]
fn the_summary_reads_what_the_checked_parse_reads() {
    let Some(dir) = torture::dir() else { return };
    for name in VALID {
        let bytes = load(&dir, name);
        let m = Message::parse(&bytes).unwrap();
        // The summary the engine reads of a message the parse refuses
        // reads the same start line, tag, UA and body where both read.
        let g = sipwall_sip::Summary::read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(g.fingerprint(), m.fingerprint(), "{name}");
        assert_eq!(g.method(), m.method(), "{name}");
        assert_eq!(g.status(), m.status(), "{name}");
        assert_eq!(g.from_tag(), m.from_tag(), "{name}");
        assert_eq!(g.user_agent, m.user_agent(), "{name}");
        assert_eq!(g.call_id, m.call_id(), "{name}");
        assert_eq!(g.body, m.body(), "{name}");
        assert_eq!(g.header_count, m.headers().len(), "{name}");
        assert_eq!(
            g.sdp().is_some(),
            m.sdp().is_some() && !m.content_type().unwrap().is_multipart(),
            "{name}"
        );
    }
}
