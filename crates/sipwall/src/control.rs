//! The client end of the control protocol ([`sipwall_control`]): which
//! socket, and one request and its answer.

pub use sipwall_control::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the daemon listens by default.
pub const DEFAULT_SOCKET: &str = "/run/sipwall/control.sock";

/// Which socket to talk to.
#[derive(clap::Args, Debug, Clone)]
pub struct SocketArgs {
    /// The daemon's control socket.
    #[arg(long = "control", env = "SIPWALL_CONTROL", default_value = DEFAULT_SOCKET, value_name = "PATH")]
    pub path: PathBuf,
}

/// The wall clock in Unix seconds, the unit of the daemon's answers'
/// times (`until`, `since`): what remaining times are counted from.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sends one request and reads the answer.
pub fn call(socket: &Path, req: &Request) -> anyhow::Result<Response> {
    use anyhow::Context as _;
    let mut s = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot reach the daemon at {} (is `sipwall run` running?)",
            socket.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer)?;
    serde_json::from_str(&answer)
        .with_context(|| format!("unreadable answer from the daemon: {answer:?}"))
}
