//! The FreeSWITCH event-socket client: connects, authenticates with the
//! password read from a file (never from the command line, where `ps`
//! would show it), subscribes to the channel and sofia events the engine
//! uses, and forwards them to the main loop. It reconnects with backoff
//! (1 s doubling to 30 s) for as long as the daemon runs.
//!
//! A server that accepts and never greets, or drips bytes, must not hold
//! the client: connecting has a timeout, and the whole login (greeting,
//! authentication, subscription) a deadline, however the bytes arrive.

use super::inbox::Input;
use sipwall_freeswitch::esl::{self, Decoded, Frame};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

/// Where FreeSWITCH's event socket is, and how to log in.
#[derive(Debug, Clone)]
pub struct EslConfig {
    /// `host:port`.
    pub addr: String,
    /// A file holding the password.
    pub password_file: PathBuf,
    /// How often FreeSWITCH's listening ports are asked for (`sofia xmlstatus`).
    pub crosscheck_every: Duration,
}

/// Time limits of one connection.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// For the TCP connection to each address.
    connect: Duration,
    /// From connected to subscribed.
    login: Duration,
}

const LIMITS: Limits = Limits {
    connect: Duration::from_secs(5),
    login: Duration::from_secs(10),
};

/// Starts the client on a thread of its own.
pub fn spawn(cfg: EslConfig, to_loop: SyncSender<Input>) {
    std::thread::spawn(move || {
        let mut backoff = Duration::from_secs(1);
        loop {
            match session(&cfg, &to_loop, LIMITS) {
                Ok(()) => backoff = Duration::from_secs(1),
                // `{:#}`: the whole chain (what failed, and why), not only its top.
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), addr = %cfg.addr, "event socket")
                }
            }
            if to_loop.send(Input::EslState(false)).is_err() {
                return;
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    });
}

/// Reads frames from a stream.
struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    /// The next frame, before `deadline`.
    fn next(&mut self, deadline: Instant) -> anyhow::Result<Frame> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                anyhow::bail!("no complete answer in time (the server accepted but did not speak the event socket protocol)");
            }
            self.stream.set_read_timeout(Some(left))?;
            if let Some(f) = self.next_or_idle(Some(deadline))? {
                return Ok(f);
            }
        }
    }

    /// The next frame, or `None` when the socket stayed quiet for its read
    /// timeout or `deadline` passed while bytes trickled in.
    fn next_or_idle(&mut self, deadline: Option<Instant>) -> anyhow::Result<Option<Frame>> {
        loop {
            match esl::decode(&self.buf) {
                Decoded::Frame(f, used) => {
                    self.buf.drain(..used);
                    return Ok(Some(f));
                }
                Decoded::Malformed(why) => anyhow::bail!("not the event socket protocol: {why}"),
                Decoded::Incomplete => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                anyhow::bail!("connection closed");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn reply(&mut self, deadline: Instant) -> anyhow::Result<Frame> {
        loop {
            let f = self.next(deadline)?;
            match f.content_type() {
                Some("command/reply") | Some("api/response") => return Ok(f),
                Some("text/rude-rejection") => anyhow::bail!("refused by the event socket's ACL"),
                Some("text/disconnect-notice") => anyhow::bail!("disconnected"),
                _ => {}
            }
        }
    }
}

/// Connects to the first address of `addr` that answers within `limit`.
fn connect(addr: &str, limit: Duration) -> anyhow::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, limit) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(|| anyhow::anyhow!("no address"), Into::into))
}

fn session(cfg: &EslConfig, to_loop: &SyncSender<Input>, limits: Limits) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let password = std::fs::read_to_string(&cfg.password_file).with_context(|| {
        format!(
            "reading the event socket password from {}",
            cfg.password_file.display()
        )
    })?;
    let stream = connect(&cfg.addr, limits.connect)
        .with_context(|| format!("connecting to {}", cfg.addr))?;
    let login_by = Instant::now() + limits.login;
    let mut writer = stream.try_clone()?;
    writer.set_write_timeout(Some(limits.login))?;
    let mut r = Reader {
        stream,
        buf: Vec::new(),
    };
    let hello = r.next(login_by)?;
    match hello.content_type() {
        Some("auth/request") => {}
        Some("text/rude-rejection") => anyhow::bail!("refused by the event socket's ACL"),
        other => anyhow::bail!("unexpected greeting {other:?}"),
    }
    writer.write_all(&esl::auth(&password))?;
    let answer = r.reply(login_by)?;
    if !answer.is_ok() {
        anyhow::bail!(
            "authentication refused: {}",
            answer.reply_text().unwrap_or("?")
        );
    }
    writer.write_all(&esl::subscribe(esl::EVENTS))?;
    let answer = r.reply(login_by)?;
    if !answer.is_ok() {
        anyhow::bail!(
            "subscription refused: {}",
            answer.reply_text().unwrap_or("?")
        );
    }
    tracing::info!(addr = %cfg.addr, "event socket connected");
    to_loop.send(Input::EslState(true))?;
    // What FreeSWITCH really listens on, now and at every interval (dynamic
    // profiles, e.g. mod_signalwire's, are in no configuration file). The
    // interval is a deadline, not an idle timeout: a server with calls
    // sends events more often than any interval, and would otherwise
    // never be checked again.
    writer.write_all(&esl::api("sofia xmlstatus"))?;
    let mut check_at = Instant::now() + cfg.crosscheck_every;
    loop {
        let left = check_at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            writer.write_all(&esl::api("sofia xmlstatus"))?;
            check_at = Instant::now() + cfg.crosscheck_every;
            continue;
        }
        r.stream.set_read_timeout(Some(left))?;
        let Some(f) = r.next_or_idle(Some(check_at))? else {
            continue;
        };
        if f.content_type() == Some("api/response") {
            match esl::listening(&String::from_utf8_lossy(&f.body)) {
                Ok(l) => to_loop.send(Input::EslListening(l))?,
                Err(e) => tracing::warn!(error = %e, "sofia xmlstatus: unreadable answer"),
            }
            continue;
        }
        if f.content_type() == Some("text/disconnect-notice") {
            tracing::info!("event socket: disconnect notice");
            return Ok(());
        }
        if let Some(headers) = f.event() {
            to_loop.send(Input::Event(headers))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn config(addr: std::net::SocketAddr) -> (tempfile::TempDir, EslConfig) {
        let d = tempfile::tempdir().unwrap();
        let password_file = d.path().join("pw");
        std::fs::write(&password_file, "ClueCon\n").unwrap();
        let cfg = EslConfig {
            addr: addr.to_string(),
            password_file,
            crosscheck_every: Duration::from_secs(60),
        };
        (d, cfg)
    }

    const SHORT: Limits = Limits {
        connect: Duration::from_millis(500),
        login: Duration::from_millis(800),
    };

    #[test]
    fn a_server_that_accepts_and_never_greets_does_not_hang_the_client() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (_d, cfg) = config(listener.local_addr().unwrap());
        let silent = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(conn);
        });
        let (tx, _rx) = std::sync::mpsc::sync_channel(16);
        let started = Instant::now();
        let e = session(&cfg, &tx, SHORT).unwrap_err().to_string();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "gave up after {took:?}");
        assert!(e.contains("in time"), "{e}");
        silent.join().unwrap();
    }

    #[test]
    fn a_server_that_drips_its_greeting_does_not_hang_the_client() {
        use std::io::Write as _;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (_d, cfg) = config(listener.local_addr().unwrap());
        let dripping = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Each byte comes before any read timeout would fire.
            for b in b"Content-Type: auth/requ".iter().cycle().take(30) {
                if conn.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let (tx, _rx) = std::sync::mpsc::sync_channel(16);
        let started = Instant::now();
        let e = session(&cfg, &tx, SHORT).unwrap_err().to_string();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "gave up after {took:?}");
        assert!(e.contains("in time"), "{e}");
        dripping.join().unwrap();
    }

    #[test]
    fn a_busy_event_socket_does_not_starve_the_cross_check() {
        use std::io::{BufRead as _, BufReader, Write as _};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (_d, mut cfg) = config(listener.local_addr().unwrap());
        cfg.crosscheck_every = Duration::from_millis(300);
        let server = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut w = conn.try_clone().unwrap();
            let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counted = std::sync::Arc::clone(&asked);
            std::thread::spawn(move || {
                let mut lines = BufReader::new(conn);
                let mut line = String::new();
                while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line.starts_with("api sofia xmlstatus") {
                        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    line.clear();
                }
            });
            w.write_all(b"Content-Type: auth/request\n\n").unwrap();
            for _ in 0..2 {
                w.write_all(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
                    .unwrap();
            }
            // An event every 100 ms for 2 s, as on a server with calls.
            let body = "Event-Name: HEARTBEAT\n\n";
            let event = format!(
                "Content-Length: {}\nContent-Type: text/event-plain\n\n{body}",
                body.len()
            );
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(100));
                w.write_all(event.as_bytes()).unwrap();
            }
            let _ = w.shutdown(std::net::Shutdown::Both);
            asked.load(std::sync::atomic::Ordering::Relaxed)
        });
        let (tx, rx) = std::sync::mpsc::sync_channel(1024);
        let _ = session(&cfg, &tx, SHORT);
        let asked = server.join().unwrap();
        drop(rx);
        // One at login, then one per 300 ms over 2 s despite the events.
        assert!(asked >= 4, "sofia xmlstatus asked {asked} times in 2 s");
    }
}
