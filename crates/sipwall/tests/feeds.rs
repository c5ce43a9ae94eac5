//! The feed test server speaks APIBAN's documented API and serves lists
//! the way the blocklist decoders expect, misbehaviours included: the
//! daemon's fetchers are tested against it (src/daemon/feeds.rs), so it
//! must be right first.

mod feed_server;

use feed_server::{Fault, FeedServer, KEY};
use sipwall_blocklist::{apiban, list};
use std::io::Read;

/// POSTs `body` to the server's `/api/get` with `key`: status, body,
/// Retry-After.
fn ask(s: &FeedServer, key: &str, body: &[u8]) -> (u16, Vec<u8>, Option<String>) {
    let r = ureq::post(&s.url("/api/get"))
        .set("Authorization", &format!("Bearer {key}"))
        .send_bytes(body);
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = r.status();
    let after = r.header("Retry-After").map(str::to_owned);
    let mut out = Vec::new();
    let _ = r.into_reader().read_to_end(&mut out);
    (status, out, after)
}

#[test]
fn the_server_pages_apiban_and_the_decoder_walks_it_from_the_start() {
    let s = FeedServer::start();
    s.set_pages(&[&["192.0.2.66", "198.51.100.7"], &["203.0.113.9"]]);
    s.fault(Fault::RateLimited(Some(2)));
    let mut r = apiban::Refresh::new(apiban::Limits::default());
    let mut waits = Vec::new();
    let entries = loop {
        let (status, body, after) = ask(&s, KEY, &r.body());
        match r
            .answer(
                status,
                &body,
                after.as_deref().and_then(apiban::retry_after),
            )
            .unwrap()
        {
            apiban::Step::Ask => {}
            apiban::Step::Wait(d) => waits.push(d),
            apiban::Step::Done(e) => break e,
        }
    };
    let got: Vec<String> = entries.iter().map(|e| e.net.to_string()).collect();
    assert_eq!(got, ["192.0.2.66/32", "198.51.100.7/32", "203.0.113.9/32"]);
    assert_eq!(waits, [std::time::Duration::from_secs(2)]);
    let ids: Vec<String> = s
        .seen()
        .iter()
        .map(|q| serde_json::from_str::<serde_json::Value>(&q.body).unwrap()["id"].to_string())
        .collect();
    // The 429 is asked again with the same ID.
    assert_eq!(
        ids,
        [r#""100""#, r#""100""#, r#""1607462500""#, r#""1607462501""#]
    );
}

#[test]
fn the_server_refuses_a_bad_key_as_apiban_documents() {
    let s = FeedServer::start();
    s.set_pages(&[&["192.0.2.66"]]);
    let (status, body, _) = ask(&s, "wrong", &apiban::request_body("100"));
    assert_eq!(status, 403);
    let e = apiban::Refresh::new(apiban::Limits::default())
        .answer(status, &body, None)
        .unwrap_err();
    assert!(
        matches!(e, apiban::ApibanError::Unauthorized { status: 403, .. }),
        "{e}"
    );
}

#[test]
fn the_server_serves_lists_and_their_misbehaviours() {
    let s = FeedServer::start();
    s.set_list(
        "/voipbl.txt",
        "# VoIPBL\n192.0.2.66\n198.51.100.0/24\n203.0.113.9\n",
    );
    let get = |path: &str| -> Result<Vec<u8>, String> {
        let r = ureq::get(&s.url(path)).call().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        r.into_reader()
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    };
    let l = list::Limits::default();
    assert_eq!(
        list::decode_download(&get("/voipbl.txt").unwrap(), &l)
            .unwrap()
            .len(),
        3
    );
    s.fault(Fault::Html);
    assert!(matches!(
        list::decode_download(&get("/voipbl.txt").unwrap(), &l),
        Err(list::ListError::NotAnAddress {
            line: 1,
            col: 1,
            ..
        })
    ));
    // A cut the HTTP layer sees: fewer bytes than Content-Length.
    s.fault(Fault::Truncated);
    assert!(get("/voipbl.txt").is_err());
    // A cut only the list decoder sees: inside a line, no length (what is
    // left of the line, `192.0.2.6`, is an address).
    s.fault(Fault::CutNoLength(18));
    let cut = get("/voipbl.txt").unwrap();
    assert_eq!(cut, b"# VoIPBL\n192.0.2.6");
    assert_eq!(
        list::decode_download(&cut, &l).unwrap_err(),
        list::ListError::Unterminated { line: 2, col: 10 }
    );
    s.fault(Fault::Slow(std::time::Duration::from_millis(300)));
    let t = std::time::Instant::now();
    assert!(get("/voipbl.txt").is_ok());
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    assert!(get("/missing.txt").is_err());
}
