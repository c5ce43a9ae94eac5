//! The blocklist feeds' fetchers: a thread per `[[feeds]]` entry that
//! downloads the feed every `refresh` and hands the whole list to the loop
//! (`Update::Replace`), which puts it in the feed's own kernel sets.
//!
//! What a fetcher guarantees (docs/feeds.md):
//! - At start it sends the feed's last good copy from disk before any
//!   download, so a host rebooted without network drops the feed at once.
//! - A set is only ever replaced by a good list: a download that failed,
//!   was cut short, did not decode whole, or came back empty changes
//!   nothing; why is logged and counted (`sipwall_feed_refresh_failures_total`).
//! - A good list is saved as the new last good copy, then sent.
//! - APIBAN's 429 is honoured inside a refresh (see
//!   `sipwall_blocklist::apiban`); after a failed refresh the next try
//!   comes sooner than `refresh` (30 s, doubling, at most `refresh`).
//!
//! Fetchers never touch the kernel and never block the loop: the loop
//! owns the sets (`blocklists`) and takes updates from its inbox.

use super::blocklists::{ListId, Listed, Update};
use super::inbox::Input;
use crate::http::Http;
use crate::last_good::LastGood;
use anyhow::{anyhow, bail, Context as _};
use sipwall_blocklist::{apiban, list, Entry};
use sipwall_policy::{FeedKind, FeedSource};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first wait after a failed refresh (then doubling, at most `refresh`).
const RETRY_FIRST: Duration = Duration::from_secs(30);
/// The longest API key read from a key file.
const MAX_KEY: usize = 512;

/// How each feed's refreshes went, for the metrics page.
#[derive(Debug, Default, Clone)]
pub struct Health {
    /// Good refreshes (the set was replaced).
    pub refreshes: u64,
    /// Refreshes that failed (the set kept what it had).
    pub failures: u64,
    /// Entries of the last good list (copy or download).
    pub entries: u64,
    /// When the last good download arrived (seconds since the epoch).
    pub last_good: Option<u64>,
}

/// Every feed's [`Health`], by name; shared by the fetchers and the page.
pub type HealthTable = Arc<Mutex<BTreeMap<String, Health>>>;

/// The metrics of every feed, in the exposition format.
pub fn render(table: &HealthTable) -> String {
    let Ok(t) = table.lock() else {
        return String::new();
    };
    if t.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let mut metric =
        |name: &str, kind: &str, help: &str, value: &dyn Fn(&Health) -> Option<u64>| {
            let _ = writeln!(out, "# HELP sipwall_{name} {help}");
            let _ = writeln!(out, "# TYPE sipwall_{name} {kind}");
            for (feed, h) in t.iter() {
                if let Some(v) = value(h) {
                    let _ = writeln!(out, "sipwall_{name}{{feed=\"{feed}\"}} {v}");
                }
            }
        };
    metric(
        "feed_refreshes_total",
        "counter",
        "Good refreshes of a blocklist feed (its sets replaced).",
        &|h| Some(h.refreshes),
    );
    metric(
        "feed_refresh_failures_total",
        "counter",
        "Failed refreshes of a blocklist feed (its sets kept what they had).",
        &|h| Some(h.failures),
    );
    metric(
        "feed_entries",
        "gauge",
        "Entries of a feed's last good list.",
        &|h| Some(h.entries),
    );
    metric(
        "feed_last_good_seconds",
        "gauge",
        "When a feed's last good download arrived (Unix time).",
        &|h| h.last_good,
    );
    out
}

/// How long one request may take (connect, send, read the whole body).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the fetcher of `feed`.
pub fn spawn(
    feed: sipwall_policy::Feed,
    store: LastGood,
    to_loop: SyncSender<Input>,
    health: HealthTable,
) {
    let name = format!("feed-{}", feed.name);
    let fetcher = Fetcher::new(feed, store, Http::new(TIMEOUT), to_loop, health);
    let spawned = std::thread::Builder::new()
        .name(name)
        .spawn(move || fetcher.run());
    if let Err(e) = spawned {
        tracing::error!(error = %e, "a feed's fetcher thread could not start");
    }
}

/// One feed's fetcher.
struct Fetcher {
    feed: sipwall_policy::Feed,
    store: LastGood,
    http: Http,
    to_loop: SyncSender<Input>,
    health: HealthTable,
    /// The wait after the next failure.
    retry: Duration,
}

impl Fetcher {
    fn new(
        feed: sipwall_policy::Feed,
        store: LastGood,
        http: Http,
        to_loop: SyncSender<Input>,
        health: HealthTable,
    ) -> Fetcher {
        if let Ok(mut t) = health.lock() {
            t.entry(feed.name.clone()).or_default();
        }
        Fetcher {
            feed,
            store,
            http,
            to_loop,
            health,
            retry: RETRY_FIRST,
        }
    }

    fn run(mut self) {
        if !self.start() {
            return;
        }
        while let Some(wait) = self.once() {
            std::thread::sleep(wait);
        }
    }

    /// Sends the last good copy, if there is one; false when the loop is
    /// gone.
    fn start(&self) -> bool {
        let name = &self.feed.name;
        match self.store.load(name) {
            Ok(Some(entries)) => {
                tracing::info!(feed = %name, entries = entries.len(), "feed: its last good copy is loaded");
                self.note(|h| h.entries = entries.len() as u64);
                self.send(entries, "last good copy")
            }
            Ok(None) => true,
            // `{:#}`: the whole chain, with the copy's file:line:col.
            Err(e) => {
                tracing::warn!(feed = %name, error = format!("{e:#}"), "feed: its last good copy is unusable");
                true
            }
        }
    }

    /// One refresh, its list sent to the loop when it is good: how long
    /// to wait before the next, or `None` when the loop is gone.
    fn once(&mut self) -> Option<Duration> {
        let name = &self.feed.name;
        match self.refresh() {
            Ok(entries) => {
                self.retry = RETRY_FIRST;
                let n = entries.len();
                // Saved first: a copy that is older than the set would
                // undo the refresh at the next start.
                if let Err(e) = self.store.save(name, self.feed.kind.name(), &entries) {
                    tracing::warn!(feed = %name, error = format!("{e:#}"), "feed: its last good copy could not be saved");
                }
                self.note(|h| {
                    h.refreshes += 1;
                    h.entries = n as u64;
                    h.last_good = Some(unix_now());
                });
                tracing::info!(feed = %name, entries = n, "feed refreshed");
                self.send(entries, "download").then_some(self.feed.refresh)
            }
            Err(e) => {
                let why = format!("{e:#}");
                self.note(|h| h.failures += 1);
                let wait = self.retry.min(self.feed.refresh);
                self.retry = (self.retry * 2).min(self.feed.refresh);
                tracing::warn!(
                    feed = %name,
                    error = %why,
                    retry_in = %humantime::format_duration(wait),
                    "feed refresh failed: its sets keep what they had"
                );
                let health = Update::Health {
                    list: ListId::Feed(name.clone()),
                    problem: Some(why),
                };
                self.to_loop
                    .send(Input::Blocklist(health))
                    .is_ok()
                    .then_some(wait)
            }
        }
    }

    fn note(&self, f: impl FnOnce(&mut Health)) {
        if let Ok(mut t) = self.health.lock() {
            f(t.entry(self.feed.name.clone()).or_default());
        }
    }

    /// Hands a good list to the loop; false when the loop is gone.
    fn send(&self, entries: Vec<Entry>, from: &str) -> bool {
        let detail = match &self.feed.source {
            FeedSource::Url(url) => format!("feed {} ({from}): {url}", self.feed.name),
            FeedSource::File(p) => format!("feed {} ({from}): {}", self.feed.name, p.display()),
        };
        let update = Update::Replace {
            list: ListId::Feed(self.feed.name.clone()),
            entries: entries
                .into_iter()
                .map(|entry| Listed {
                    entry,
                    id: 0,
                    detail: detail.clone(),
                })
                .collect(),
        };
        self.to_loop.send(Input::Blocklist(update)).is_ok()
    }

    /// One whole refresh: the feed's full list, or why not.
    fn refresh(&self) -> anyhow::Result<Vec<Entry>> {
        match (&self.feed.kind, &self.feed.source) {
            (FeedKind::List, FeedSource::Url(url)) => {
                let limits = list::Limits::default();
                let reply = self.http.get(url, &[], limits.max_bytes)?;
                if reply.status != 200 {
                    bail!("{url} answered HTTP {}", reply.status);
                }
                list::decode_download(&reply.body, &limits).map_err(|e| anyhow!("{url}:{e}"))
            }
            (FeedKind::List, FeedSource::File(path)) => read_list_file(path),
            (FeedKind::Apiban, FeedSource::Url(url)) => {
                let key = read_key(self.feed.key_file.as_deref())?;
                apiban_refresh(&self.http, url, &key)
            }
            (FeedKind::Apiban, FeedSource::File(path)) => {
                bail!(
                    "an apiban feed is fetched from a URL, not {}",
                    path.display()
                )
            }
        }
    }
}

/// Walks APIBAN's pages from the start (see `sipwall_blocklist::apiban`).
fn apiban_refresh(http: &Http, url: &str, key: &str) -> anyhow::Result<Vec<Entry>> {
    let limits = apiban::Limits::default();
    let mut r = apiban::Refresh::new(limits);
    let auth = format!("Bearer {key}");
    loop {
        let reply = http
            .post_json(
                url,
                &[("Authorization", &auth)],
                &r.body(),
                limits.page_bytes,
            )
            .with_context(|| format!("APIBAN page {} (ID {})", r.pages() + 1, r.id()))?;
        let step = r
            .answer(reply.status, &reply.body, reply.retry_after)
            .with_context(|| format!("APIBAN page {} (ID {})", r.pages() + 1, r.id()))?;
        match step {
            apiban::Step::Ask => {}
            apiban::Step::Wait(d) => {
                tracing::info!(wait = %humantime::format_duration(d), id = r.id(), "APIBAN: rate limited, waiting as told");
                std::thread::sleep(d);
            }
            apiban::Step::Done(entries) => return Ok(entries),
        }
    }
}

/// An operator's list file, bounded and decoded (`file:line:col` errors).
fn read_list_file(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let limits = list::Limits::default();
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limits.max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    list::decode(&bytes, &limits).map_err(|e| anyhow!("{}:{e}", path.display()))
}

/// The API key from its file: one line of visible ASCII (it goes into a
/// header; a CR or LF in it could add headers of its own). Never logged.
fn read_key(path: Option<&Path>) -> anyhow::Result<String> {
    let path = path.ok_or_else(|| anyhow!("an apiban feed needs key_file"))?;
    let file = std::fs::File::open(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_KEY as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    let key = bytes.trim_ascii();
    if key.is_empty() || key.len() > MAX_KEY || !key.iter().all(|b| (0x21..0x7f).contains(b)) {
        bail!(
            "the key file {} must hold one key of at most {MAX_KEY} visible ASCII characters",
            path.display()
        );
    }
    Ok(String::from_utf8_lossy(key).into_owned())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "../../tests/feed_server/mod.rs"]
mod feed_server;

#[cfg(test)]
mod tests {
    use super::feed_server::{Fault, FeedServer, KEY};
    use super::*;
    use std::sync::mpsc::{sync_channel, Receiver};

    /// A fetcher of the feed `toml` (one `[[feeds]]` entry's keys) with
    /// its copies in `dir`, and the loop's end of its channel.
    fn fetcher(toml: &str, dir: &Path, timeout: Duration) -> (Fetcher, Receiver<Input>) {
        let policy =
            sipwall_policy::parse("p.toml", &format!("[[feeds]]\n{toml}")).expect("a valid policy");
        let (tx, rx) = sync_channel(16);
        let f = Fetcher::new(
            policy.feeds[0].clone(),
            LastGood::new(dir),
            Http::new(timeout),
            tx,
            HealthTable::default(),
        );
        (f, rx)
    }

    fn list_feed(s: &FeedServer, dir: &Path) -> (Fetcher, Receiver<Input>) {
        let url = s.url("/voipbl.txt");
        fetcher(
            &format!("name = \"voipbl\"\nkind = \"list\"\nurl = \"{url}\"\nrefresh = \"1h\"\n"),
            dir,
            Duration::from_secs(5),
        )
    }

    fn apiban_feed(s: &FeedServer, dir: &Path, key: &str) -> (Fetcher, Receiver<Input>) {
        let key_file = dir.join("apiban.key");
        std::fs::write(&key_file, format!("{key}\n")).unwrap();
        let url = s.url("/api/get");
        fetcher(
            &format!(
                "name = \"apiban\"\nkind = \"apiban\"\nurl = \"{url}\"\nkey_file = \"{}\"\n",
                key_file.display()
            ),
            dir,
            Duration::from_secs(5),
        )
    }

    /// What the fetcher sent: the nets of a `Replace` (with the first
    /// entry's detail), or the problem of a `Health`.
    enum Sent {
        Replace(Vec<String>, String),
        Problem(String),
    }

    fn sent(rx: &Receiver<Input>) -> Sent {
        match rx.try_recv().expect("the fetcher sent something") {
            Input::Blocklist(Update::Replace { list, entries }) => {
                assert!(matches!(list, ListId::Feed(_)));
                let detail = entries
                    .first()
                    .map(|l| l.detail.clone())
                    .unwrap_or_default();
                let mut nets: Vec<String> =
                    entries.iter().map(|l| l.entry.net.to_string()).collect();
                nets.sort();
                Sent::Replace(nets, detail)
            }
            Input::Blocklist(Update::Health {
                problem: Some(p), ..
            }) => Sent::Problem(p),
            _ => panic!("an unexpected input"),
        }
    }

    fn replaced(rx: &Receiver<Input>) -> Vec<String> {
        match sent(rx) {
            Sent::Replace(nets, _) => nets,
            Sent::Problem(p) => panic!("a failure where a list was expected: {p}"),
        }
    }

    fn problem(rx: &Receiver<Input>) -> String {
        match sent(rx) {
            Sent::Problem(p) => p,
            Sent::Replace(nets, _) => panic!("a list was sent: {nets:?}"),
        }
    }

    const VOIPBL: &str = "# VoIPBL\n192.0.2.66\n198.51.100.0/24\n";

    #[test]
    fn a_list_feed_is_sent_whole_and_saved_as_the_last_good_copy() {
        let s = FeedServer::start();
        s.set_list("/voipbl.txt", VOIPBL);
        let d = tempfile::tempdir().unwrap();
        let (mut f, rx) = list_feed(&s, &d.path().join("feeds"));
        assert!(f.start(), "nothing on disk yet");
        assert!(rx.try_recv().is_err());
        assert_eq!(f.once(), Some(Duration::from_secs(3600)));
        match sent(&rx) {
            Sent::Replace(nets, detail) => {
                assert_eq!(nets, ["192.0.2.66/32", "198.51.100.0/24"]);
                assert!(
                    detail.starts_with("feed voipbl (download): http://"),
                    "{detail}"
                );
            }
            Sent::Problem(p) => panic!("{p}"),
        }
        let copy = LastGood::new(d.path().join("feeds"))
            .load("voipbl")
            .unwrap()
            .unwrap();
        assert_eq!(copy.len(), 2);
        let h = f.health.lock().unwrap()["voipbl"].clone();
        assert_eq!((h.refreshes, h.failures, h.entries), (1, 0, 2));
        assert!(h.last_good.is_some());
        let page = render(&f.health);
        assert!(
            page.contains("sipwall_feed_entries{feed=\"voipbl\"} 2\n"),
            "{page}"
        );
        assert!(
            page.contains("sipwall_feed_refresh_failures_total{feed=\"voipbl\"} 0\n"),
            "{page}"
        );
    }

    #[test]
    fn a_failed_cut_html_or_empty_download_never_replaces_a_good_list() {
        let s = FeedServer::start();
        s.set_list("/voipbl.txt", VOIPBL);
        let d = tempfile::tempdir().unwrap();
        let (mut f, rx) = list_feed(&s, d.path());
        f.once();
        assert_eq!(replaced(&rx).len(), 2);
        let copy = std::fs::read(d.path().join("voipbl.list")).unwrap();
        let faults = [
            (Fault::Truncated, "cut short"),
            (Fault::CutNoLength(18), "no newline"),
            (Fault::Html, "`<!DOCTYPE html>` is not an address"),
            (Fault::Status(503, "busy".into()), "answered HTTP 503"),
        ];
        let mut waits = Vec::new();
        for (fault, why) in faults {
            s.fault(fault);
            waits.push(f.once().unwrap());
            let p = problem(&rx);
            assert!(p.contains(why), "{p}");
        }
        s.set_list("/voipbl.txt", "# nothing today\n");
        waits.push(f.once().unwrap());
        assert!(problem(&rx).contains("holds no address"));
        s.state().lists.clear();
        waits.push(f.once().unwrap());
        assert!(problem(&rx).contains("answered HTTP 404"));
        // Sooner than `refresh` after a failure, doubling up to it.
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960]);
        assert_eq!(
            std::fs::read(d.path().join("voipbl.list")).unwrap(),
            copy,
            "the copy is untouched"
        );
        assert_eq!(f.health.lock().unwrap()["voipbl"].failures, 6);
        s.set_list("/voipbl.txt", "203.0.113.9\n");
        assert_eq!(f.once(), Some(Duration::from_secs(3600)));
        assert_eq!(replaced(&rx), ["203.0.113.9/32"]);
        assert_eq!(f.retry, RETRY_FIRST, "a good refresh resets the backoff");
    }

    #[test]
    fn a_slow_server_is_a_failed_refresh_not_a_stuck_fetcher() {
        let s = FeedServer::start();
        s.set_list("/voipbl.txt", VOIPBL);
        let d = tempfile::tempdir().unwrap();
        let url = s.url("/voipbl.txt");
        let (mut f, rx) = fetcher(
            &format!("name = \"voipbl\"\nkind = \"list\"\nurl = \"{url}\"\n"),
            d.path(),
            Duration::from_millis(500),
        );
        s.fault(Fault::Slow(Duration::from_secs(3)));
        let t = std::time::Instant::now();
        f.once();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let p = problem(&rx);
        assert!(p.contains(&url), "{p}");
        // The same for APIBAN, on its second page.
        s.set_pages(&[&["192.0.2.66"], &["203.0.113.9"]]);
        let key_file = d.path().join("apiban.key");
        std::fs::write(&key_file, KEY).unwrap();
        let url = s.url("/api/get");
        let (mut f, rx) = fetcher(
            &format!(
                "name = \"apiban\"\nkind = \"apiban\"\nurl = \"{url}\"\nkey_file = \"{}\"\n",
                key_file.display()
            ),
            d.path(),
            Duration::from_millis(500),
        );
        s.fault(Fault::Status(
            200,
            r#"{"ipaddress":["192.0.2.66"],"ID":"1607462500"}"#.into(),
        ));
        s.fault(Fault::Slow(Duration::from_secs(3)));
        let t = std::time::Instant::now();
        f.once();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let p = problem(&rx);
        assert!(p.contains("APIBAN page 2"), "{p}");
    }

    #[test]
    fn at_start_the_last_good_copy_is_sent_before_any_download() {
        let d = tempfile::tempdir().unwrap();
        let s = FeedServer::start();
        let (mut f, rx) = list_feed(&s, d.path());
        s.set_list("/voipbl.txt", VOIPBL);
        f.once();
        replaced(&rx);
        let url = s.url("/voipbl.txt");
        drop(s);
        // A new start, the network gone.
        let (mut f, rx) = fetcher(
            &format!("name = \"voipbl\"\nkind = \"list\"\nurl = \"{url}\"\n"),
            d.path(),
            Duration::from_secs(2),
        );
        assert!(f.start());
        match sent(&rx) {
            Sent::Replace(nets, detail) => {
                assert_eq!(nets, ["192.0.2.66/32", "198.51.100.0/24"]);
                assert!(detail.contains("(last good copy)"), "{detail}");
            }
            Sent::Problem(p) => panic!("{p}"),
        }
        f.once();
        problem(&rx);
        assert_eq!(f.health.lock().unwrap()["voipbl"].entries, 2);
    }

    #[test]
    fn a_list_file_is_read_with_its_errors_at_file_line_col() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("mine.txt");
        std::fs::write(&file, "192.0.2.66\n198.51.100.0/24 # the farm").unwrap();
        let (mut f, rx) = fetcher(
            &format!(
                "name = \"mine\"\nkind = \"list\"\nfile = \"{}\"\n",
                file.display()
            ),
            &d.path().join("feeds"),
            Duration::from_secs(1),
        );
        f.once();
        assert_eq!(replaced(&rx), ["192.0.2.66/32", "198.51.100.0/24"]);
        std::fs::write(&file, "192.0.2.66\n  bogus\n").unwrap();
        f.once();
        let p = problem(&rx);
        assert!(
            p.ends_with("mine.txt:2:3: `bogus` is not an address or network"),
            "{p}"
        );
    }

    #[test]
    fn apiban_is_walked_from_the_start_at_every_refresh_so_removals_leave() {
        let s = FeedServer::start();
        s.set_pages(&[&["192.0.2.66", "198.51.100.7"], &["203.0.113.9"]]);
        let d = tempfile::tempdir().unwrap();
        let (mut f, rx) = apiban_feed(&s, d.path(), KEY);
        assert_eq!(f.once(), Some(Duration::from_secs(300)));
        assert_eq!(
            replaced(&rx),
            ["192.0.2.66/32", "198.51.100.7/32", "203.0.113.9/32"]
        );
        s.set_pages(&[&["192.0.2.66"]]);
        f.once();
        assert_eq!(replaced(&rx), ["192.0.2.66/32"]);
        let seen = s.seen();
        let ids: Vec<String> = seen
            .iter()
            .map(|q| serde_json::from_str::<serde_json::Value>(&q.body).unwrap()["id"].to_string())
            .collect();
        assert_eq!(
            ids,
            [
                r#""100""#,
                r#""1607462500""#,
                r#""1607462501""#,
                r#""100""#,
                r#""1607462500""#
            ]
        );
        assert!(seen
            .iter()
            .all(|q| q.method == "POST"
                && q.authorization.as_deref() == Some(&format!("Bearer {KEY}"))));
    }

    #[test]
    fn apiban_429_is_waited_out_and_the_refresh_goes_on_from_the_same_id() {
        let s = FeedServer::start();
        s.set_pages(&[&["192.0.2.66"], &["203.0.113.9"]]);
        let d = tempfile::tempdir().unwrap();
        let (mut f, rx) = apiban_feed(&s, d.path(), KEY);
        s.fault(Fault::Status(
            200,
            r#"{"ipaddress":["192.0.2.66"],"ID":"1607462500"}"#.into(),
        ));
        s.fault(Fault::RateLimited(Some(1)));
        let t = std::time::Instant::now();
        f.once();
        assert!(
            t.elapsed() >= Duration::from_secs(1),
            "Retry-After is honoured"
        );
        assert_eq!(replaced(&rx), ["192.0.2.66/32", "203.0.113.9/32"]);
        let ids: Vec<String> = s
            .seen()
            .iter()
            .map(|q| serde_json::from_str::<serde_json::Value>(&q.body).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids[1], ids[2], "asked again with the same ID: {ids:?}");
    }

    #[test]
    fn apiban_refusing_the_key_is_a_clear_failure_that_never_logs_the_key() {
        let s = FeedServer::start();
        s.set_pages(&[&["192.0.2.66"]]);
        let d = tempfile::tempdir().unwrap();
        let (mut f, rx) = apiban_feed(&s, d.path(), "wrong-key-42");
        f.once();
        let p = problem(&rx);
        assert!(p.contains("APIBAN refused the key (HTTP 403)"), "{p}");
        assert!(!p.contains("wrong-key-42"), "{p}");
    }

    #[test]
    fn apiban_truncated_html_or_garbage_pages_fail_the_whole_refresh() {
        let s = FeedServer::start();
        s.set_pages(&[&["192.0.2.66"], &["203.0.113.9"]]);
        let d = tempfile::tempdir().unwrap();
        let (mut f, rx) = apiban_feed(&s, d.path(), KEY);
        f.once();
        replaced(&rx);
        for (faults, why) in [
            (vec![Fault::Truncated], "cut short"),
            (vec![Fault::Html], "not an APIBAN answer"),
            (
                vec![Fault::Status(
                    200,
                    r#"{"ipaddress":["192.0.2.1","x"],"ID":"5"}"#.into(),
                )],
                "`x` is not an address",
            ),
            // A good first page, then a cut one: nothing of the first is sent.
            (
                vec![
                    Fault::Status(
                        200,
                        r#"{"ipaddress":["198.51.100.1"],"ID":"1607462500"}"#.into(),
                    ),
                    Fault::Truncated,
                ],
                "page 2",
            ),
            (vec![Fault::Status(500, "{}".into())], "HTTP 500"),
        ] {
            for fault in faults {
                s.fault(fault);
            }
            f.once();
            let p = problem(&rx);
            assert!(p.contains(why), "{why}: {p}");
        }
        let copy = LastGood::new(d.path()).load("apiban").unwrap().unwrap();
        assert_eq!(copy.len(), 2, "the copy is the last good list");
    }

    #[test]
    fn a_key_file_with_a_newline_cannot_add_a_header() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("k");
        std::fs::write(&k, "abc\r\nX-Evil: 1\n").unwrap();
        let e = read_key(Some(&k)).unwrap_err().to_string();
        assert!(e.contains("one key of at most"), "{e}");
        std::fs::write(&k, "  abc123\n").unwrap();
        assert_eq!(read_key(Some(&k)).unwrap(), "abc123");
    }

    /// The ```toml blocks of `doc` that hold a `[[feeds]]` table (not
    /// only a commented one).
    fn feed_blocks(doc: &str) -> Vec<String> {
        doc.split("```toml\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .filter(|b| b.lines().any(|l| l == "[[feeds]]"))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_feeds_documented_in_policy_md_and_feeds_md_are_valid_policies() {
        for (name, doc) in [
            ("docs/policy.md", include_str!("../../../../docs/policy.md")),
            ("docs/feeds.md", include_str!("../../../../docs/feeds.md")),
        ] {
            let blocks = feed_blocks(doc);
            assert!(!blocks.is_empty(), "{name} documents [[feeds]]");
            for b in blocks {
                let p = sipwall_policy::parse(name, &b).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(p.feeds.iter().any(|f| f.kind == FeedKind::Apiban));
                assert!(p.feeds.iter().any(|f| f.kind == FeedKind::List));
            }
        }
    }
}
