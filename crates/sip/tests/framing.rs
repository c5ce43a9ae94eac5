//! Stream framing over a TCP-like byte stream: messages back to back with
//! keep-alives between them, delivered in chunks of every size.

mod torture;

use sipwall_sip::framing::{frame, Frame};
use sipwall_sip::Message;

/// RFC 4475 messages that can travel on a stream as they are: they parse
/// with no flag, carry Content-Length, and have nothing after the body.
fn streamable(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let out: Vec<Vec<u8>> = torture::VALID
        .iter()
        .map(|n| torture::load(dir, n))
        .filter(|b| {
            let m = Message::parse(b).unwrap();
            m.flags().is_empty() && m.content_length().is_some() && m.trailing().is_empty()
        })
        .collect();
    assert!(out.len() >= 15, "only {} streamable messages", out.len());
    out
}

/// Feeds `stream` in chunks of `chunk` bytes, like reads from a socket, and
/// returns the messages and keep-alives framed, in order.
fn reassemble(stream: &[u8], chunk: usize) -> (Vec<Vec<u8>>, usize) {
    let mut pending: Vec<u8> = Vec::new();
    let mut messages = Vec::new();
    let mut keepalives = 0;
    for piece in stream.chunks(chunk) {
        pending.extend_from_slice(piece);
        loop {
            match frame(&pending) {
                Frame::Complete(n) => {
                    messages.push(pending.drain(..n).collect());
                }
                Frame::KeepAlive(n) => {
                    pending.drain(..n);
                    keepalives += 1;
                }
                Frame::Incomplete => break,
                Frame::Malformed(e) => panic!("chunk {chunk}: {e}"),
            }
            if pending.is_empty() {
                break;
            }
        }
    }
    assert!(
        pending.is_empty(),
        "chunk {chunk}: {} bytes left",
        pending.len()
    );
    (messages, keepalives)
}

#[test]
fn messages_and_keepalives_come_back_whole_at_any_read_size() {
    let Some(dir) = torture::dir() else { return };
    let msgs = streamable(&dir);
    let mut stream = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        stream.extend_from_slice(m);
        if i % 3 == 0 {
            // RFC 5626 double-CRLF ping between messages.
            stream.extend_from_slice(b"\r\n\r\n");
        }
    }
    for chunk in [1, 2, 3, 7, 64, 500, 1400, stream.len()] {
        let (got, _) = reassemble(&stream, chunk);
        assert_eq!(got.len(), msgs.len(), "chunk {chunk}");
        for (g, want) in got.iter().zip(&msgs) {
            assert_eq!(g, want, "chunk {chunk}");
            Message::parse(g).unwrap();
        }
    }
}

#[test]
fn a_bad_content_length_stops_the_stream() {
    let Some(dir) = torture::dir() else { return };
    let ok = torture::load(&dir, "sdp01");
    let mut stream = ok.clone();
    stream.extend_from_slice(&torture::load(&dir, "ncl")); // Content-Length: -999
    assert_eq!(frame(&stream), Frame::Complete(ok.len()));
    match frame(&stream[ok.len()..]) {
        Frame::Malformed(e) => assert!(e.to_string().contains("Content-Length"), "{e}"),
        other => panic!("{other:?}"),
    }
    // mcl01 has two different Content-Length values: cannot be framed.
    assert!(matches!(
        frame(&torture::load(&dir, "mcl01")),
        Frame::Malformed(_)
    ));
    // inv2543 has none: on a stream that is fatal too.
    assert!(matches!(
        frame(&torture::load(&dir, "inv2543")),
        Frame::Malformed(_)
    ));
}
