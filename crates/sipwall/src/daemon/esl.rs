//! The FreeSWITCH event-socket client: connects, authenticates with the
//! password read from a file (never from the command line, where `ps`
//! would show it), subscribes to the channel and sofia events the engine
//! uses, and forwards them to the main loop. It reconnects with backoff
//! (1 s doubling to 30 s) for as long as the daemon runs.

use super::Input;
use sipwall_freeswitch::esl::{self, Decoded, Frame};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

/// Where FreeSWITCH's event socket is, and how to log in.
#[derive(Debug, Clone)]
pub struct EslConfig {
    /// `host:port`.
    pub addr: String,
    /// A file holding the password.
    pub password_file: PathBuf,
}

/// How often the listening ports are cross-checked.
const XMLSTATUS_EVERY: Duration = Duration::from_secs(60);

/// Starts the client on a thread of its own.
pub fn spawn(cfg: EslConfig, to_loop: SyncSender<Input>) {
    std::thread::spawn(move || {
        let mut backoff = Duration::from_secs(1);
        loop {
            match session(&cfg, &to_loop) {
                Ok(()) => backoff = Duration::from_secs(1),
                Err(e) => tracing::warn!(error = %e, addr = %cfg.addr, "event socket"),
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
    fn next(&mut self) -> anyhow::Result<Frame> {
        loop {
            if let Some(f) = self.next_or_idle()? {
                return Ok(f);
            }
        }
    }

    /// The next frame, or `None` when the socket stayed quiet for its read timeout.
    fn next_or_idle(&mut self) -> anyhow::Result<Option<Frame>> {
        loop {
            match esl::decode(&self.buf) {
                Decoded::Frame(f, used) => {
                    self.buf.drain(..used);
                    return Ok(Some(f));
                }
                Decoded::Malformed(why) => anyhow::bail!("not the event socket protocol: {why}"),
                Decoded::Incomplete => {}
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

    fn reply(&mut self) -> anyhow::Result<Frame> {
        loop {
            let f = self.next()?;
            match f.content_type() {
                Some("command/reply") | Some("api/response") => return Ok(f),
                Some("text/rude-rejection") => anyhow::bail!("refused by the event socket's ACL"),
                Some("text/disconnect-notice") => anyhow::bail!("disconnected"),
                _ => {}
            }
        }
    }
}

fn session(cfg: &EslConfig, to_loop: &SyncSender<Input>) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let password = std::fs::read_to_string(&cfg.password_file).with_context(|| {
        format!(
            "reading the event socket password from {}",
            cfg.password_file.display()
        )
    })?;
    let stream =
        TcpStream::connect(&cfg.addr).with_context(|| format!("connecting to {}", cfg.addr))?;
    let mut writer = stream.try_clone()?;
    let mut r = Reader {
        stream,
        buf: Vec::new(),
    };
    let hello = r.next()?;
    match hello.content_type() {
        Some("auth/request") => {}
        Some("text/rude-rejection") => anyhow::bail!("refused by the event socket's ACL"),
        other => anyhow::bail!("unexpected greeting {other:?}"),
    }
    writer.write_all(&esl::auth(&password))?;
    let answer = r.reply()?;
    if !answer.is_ok() {
        anyhow::bail!(
            "authentication refused: {}",
            answer.reply_text().unwrap_or("?")
        );
    }
    writer.write_all(&esl::subscribe(esl::EVENTS))?;
    let answer = r.reply()?;
    if !answer.is_ok() {
        anyhow::bail!(
            "subscription refused: {}",
            answer.reply_text().unwrap_or("?")
        );
    }
    tracing::info!(addr = %cfg.addr, "event socket connected");
    to_loop.send(Input::EslState(true))?;
    // What FreeSWITCH really listens on, now and every minute (dynamic
    // profiles, e.g. mod_signalwire's, are in no configuration file).
    writer.write_all(&esl::api("sofia xmlstatus"))?;
    r.stream.set_read_timeout(Some(XMLSTATUS_EVERY))?;
    loop {
        let Some(f) = r.next_or_idle()? else {
            writer.write_all(&esl::api("sofia xmlstatus"))?;
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
