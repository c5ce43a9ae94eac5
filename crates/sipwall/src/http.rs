//! The daemon's HTTP client, for the services it asks about addresses
//! banned elsewhere (CrowdSec's local API, blocklist feeds).
//!
//! Blocking, on the fetcher's own thread, never on the loop's. Every
//! answer is hostile until decoded: a body is read up to a byte limit
//! and refused whole past it or when it ends early (a truncated list must
//! not become a short list), and status codes are values the caller
//! judges, not errors. What goes into a request from files (an API key)
//! is checked to be one printable line, so a key file cannot add headers.

use std::io::Read;
use std::time::Duration;

/// A client with its timeouts.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
}

/// What a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The whole body (at most the request's limit).
    pub body: Vec<u8>,
    /// `Retry-After` in seconds, when the server sent one (429, 503).
    pub retry_after: Option<Duration>,
}

/// Why no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No connection, a TLS failure, a timeout, a malformed answer.
    #[error("{url}: {why}")]
    Transport {
        /// The URL asked.
        url: String,
        /// What went wrong.
        why: String,
    },
    /// The body is longer than the caller takes.
    #[error("{url}: the answer is over {limit} bytes: refused")]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The body ended before its announced length, or reading it failed.
    #[error("{url}: the answer was cut short: {why}")]
    Truncated {
        /// The URL asked.
        url: String,
        /// What reading said.
        why: String,
    },
    /// A header value that is not one printable line (from a key file).
    #[error("the value of {name} is not one line of printable text")]
    BadHeader {
        /// The header's name.
        name: String,
    },
}

/// A header and its value.
pub type Header<'a> = (&'a str, &'a str);

impl Http {
    /// A client whose whole request (connect, send, read) ends within `timeout`.
    pub fn new(timeout: Duration) -> Http {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout(timeout)
            .redirects(3)
            .user_agent(concat!("sipwall/", env!("CARGO_PKG_VERSION")))
            .build();
        Http { agent }
    }

    /// `GET url`, reading at most `limit` bytes of body.
    pub fn get(&self, url: &str, headers: &[Header<'_>], limit: usize) -> Result<Reply, HttpError> {
        let req = self.request("GET", url, headers)?;
        finish(url, req.call(), limit)
    }

    /// `POST url` with a JSON body, reading at most `limit` bytes of answer.
    pub fn post_json(
        &self,
        url: &str,
        headers: &[Header<'_>],
        body: &[u8],
        limit: usize,
    ) -> Result<Reply, HttpError> {
        let req = self
            .request("POST", url, headers)?
            .set("Content-Type", "application/json");
        finish(url, req.send_bytes(body), limit)
    }

    fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[Header<'_>],
    ) -> Result<ureq::Request, HttpError> {
        let mut req = self.agent.request(method, url);
        for &(name, value) in headers {
            if !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                return Err(HttpError::BadHeader {
                    name: name.to_owned(),
                });
            }
            req = req.set(name, value);
        }
        Ok(req)
    }
}

/// The reply of a call, whatever its status, with its body bounded.
fn finish(
    url: &str,
    result: Result<ureq::Response, ureq::Error>,
    limit: usize,
) -> Result<Reply, HttpError> {
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            return Err(HttpError::Transport {
                url: url.to_owned(),
                why: t.to_string(),
            })
        }
    };
    let status = response.status();
    let retry_after = response
        .header("Retry-After")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut body = Vec::new();
    // One byte more than the limit tells "exactly the limit" from "over".
    let read = response
        .into_reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut body);
    if let Err(e) = read {
        return Err(HttpError::Truncated {
            url: url.to_owned(),
            why: e.to_string(),
        });
    }
    if body.len() > limit {
        return Err(HttpError::TooLarge {
            url: url.to_owned(),
            limit,
        });
    }
    Ok(Reply {
        status,
        body,
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// Serves one connection with `answer` (raw bytes), after `delay`.
    fn serve_once(answer: &'static [u8], delay: Duration) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            std::thread::sleep(delay);
            let _ = s.write_all(answer);
        });
        format!("http://{addr}/x")
    }

    #[test]
    fn error_statuses_are_answers_with_their_retry_after() {
        let url = serve_once(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 17\r\n\r\n{\"error\":\"slow\"}\n",
            Duration::ZERO,
        );
        let r = Http::new(Duration::from_secs(5))
            .get(&url, &[], 1024)
            .unwrap();
        assert_eq!(r.status, 429);
        assert_eq!(r.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(r.body, b"{\"error\":\"slow\"}\n");
    }

    #[test]
    fn a_body_over_the_limit_is_refused_whole() {
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n192.0.2.1\r\n",
            Duration::ZERO,
        );
        let e = Http::new(Duration::from_secs(5))
            .get(&url, &[], 10)
            .unwrap_err();
        assert!(matches!(e, HttpError::TooLarge { limit: 10, .. }), "{e}");
    }

    #[test]
    fn a_body_cut_short_is_an_error_not_a_shorter_list() {
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n192.0.2.1\n",
            Duration::ZERO,
        );
        let e = Http::new(Duration::from_secs(5))
            .get(&url, &[], 1000)
            .unwrap_err();
        assert!(matches!(e, HttpError::Truncated { .. }), "{e}");
    }

    #[test]
    fn a_slow_server_times_out() {
        let url = serve_once(b"HTTP/1.1 200 OK\r\n\r\n", Duration::from_secs(3));
        let e = Http::new(Duration::from_millis(300))
            .get(&url, &[], 1000)
            .unwrap_err();
        assert!(matches!(e, HttpError::Transport { .. }), "{e}");
    }

    #[test]
    fn a_key_file_with_a_newline_cannot_add_a_header() {
        let e = Http::new(Duration::from_secs(1))
            .get(
                "http://127.0.0.1:9/x",
                &[("X-Api-Key", "abc\r\nX-Evil: 1")],
                10,
            )
            .unwrap_err();
        assert!(matches!(e, HttpError::BadHeader { .. }), "{e}");
    }
}
