//! A local HTTP server for the blocklist feed tests (there is no internet
//! here): it speaks APIBAN's documented v2 API (`POST /api/get`, bearer
//! key, paging by ID, its 403/429 answers) and serves plain lists by path,
//! and can be told to misbehave on the next requests: an error status, a
//! 429 with or without `Retry-After`, a body cut short (with or without a
//! `Content-Length` that gives it away), a slow answer, an HTML page.
//!
//! It is a std `TcpListener` in a thread, one thread per connection, one
//! request per connection (`Connection: close`). It can listen inside a
//! lab namespace ([`FeedServer::start_in`]) so a daemon there reaches it.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The API key the server accepts.
pub const KEY: &str = "test-key-0123456789";

/// The ID the server gives after page `k` (0-based); page 0 is asked for
/// with APIBAN's start ID "100".
pub fn page_id(k: usize) -> String {
    (1_607_462_500 + k).to_string()
}

/// A misbehaviour for the next request (any path).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status and body instead.
    Status(u16, String),
    /// APIBAN's 429, with this `Retry-After` (seconds) if any.
    RateLimited(Option<u32>),
    /// The real answer, announced with its `Content-Length` but cut after
    /// half its bytes.
    Truncated,
    /// The real answer without a `Content-Length`, cut after its first
    /// `n` bytes (the connection close is the only end there is).
    CutNoLength(usize),
    /// Wait this long before answering.
    Slow(Duration),
    /// A `200 OK` HTML error page, as captive portals and proxies send.
    Html,
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The body.
    pub body: String,
}

/// What the server serves; change it between requests through
/// [`FeedServer::state`].
#[derive(Debug, Default)]
pub struct State {
    /// APIBAN's list, page by page.
    pub pages: Vec<Vec<String>>,
    /// Plain lists by path (`/voipbl.txt`).
    pub lists: HashMap<String, Vec<u8>>,
    /// Misbehaviours for the next requests, in order.
    pub faults: VecDeque<Fault>,
    /// Every request, in order.
    pub seen: Vec<Seen>,
}

/// The server; dropped, it stops listening.
pub struct FeedServer {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FeedServer {
    /// Listens on 127.0.0.1 (an ephemeral port).
    pub fn start() -> FeedServer {
        Self::serve(TcpListener::bind("127.0.0.1:0").expect("bind"))
    }

    /// Listens on `ip` (an ephemeral port) inside the network namespace
    /// `netns` (a name under /var/run/netns).
    pub fn start_in(netns: &str, ip: &str) -> FeedServer {
        let path = format!("/var/run/netns/{netns}");
        let ip = ip.to_owned();
        // setns changes the calling thread only: bind in a thread of its own.
        let listener = std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).expect("the lab namespace");
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            TcpListener::bind((ip.as_str(), 0)).expect("bind in the namespace")
        })
        .join()
        .expect("bind thread");
        Self::serve(listener)
    }

    fn serve(listener: TcpListener) -> FeedServer {
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        // Polled, not blocking: a listener in another namespace cannot be
        // woken by a connection from this one.
        listener.set_nonblocking(true).expect("nonblocking");
        let thread = std::thread::spawn(move || {
            while !sp.load(Ordering::SeqCst) {
                let conn = match listener.accept() {
                    Ok((conn, _)) => conn,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    Err(_) => continue,
                };
                let _ = conn.set_nonblocking(false);
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = answer(conn, &st);
                });
            }
        });
        FeedServer {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The base URL APIBAN's `/api/get` hangs from (`http://ADDR/api/`).
    pub fn apiban_base(&self) -> String {
        self.url("/api/")
    }

    /// What it serves and what it saw, locked.
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets APIBAN's pages.
    pub fn set_pages(&self, pages: &[&[&str]]) {
        self.state().pages = pages
            .iter()
            .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
            .collect();
    }

    /// Serves `body` at `path`.
    pub fn set_list(&self, path: &str, body: &str) {
        self.state()
            .lists
            .insert(path.to_owned(), body.as_bytes().to_vec());
    }

    /// Queues a misbehaviour for the next request.
    pub fn fault(&self, f: Fault) {
        self.state().faults.push_back(f);
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Reply {
    status: u16,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn json(status: u16, body: &str) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn answer(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let (reply, fault) = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            authorization: authorization.clone(),
            body: body.clone(),
        });
        let fault = st.faults.pop_front();
        (
            route(&st, &method, &path, authorization.as_deref(), &body),
            fault,
        )
    };
    send(conn, reply, fault)
}

fn route(st: &State, method: &str, path: &str, auth: Option<&str>, body: &str) -> Reply {
    if path == "/api/get" {
        if method != "POST" {
            return json(405, r#"{"error":"method not allowed"}"#);
        }
        if auth != Some(&format!("Bearer {KEY}")) {
            return json(403, r#"{"ipaddress":"none", "ID":"unauthorized"}"#);
        }
        let asked: serde_json::Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(_) => return json(400, r#"{"error":"bad request"}"#),
        };
        if asked["set"] != "sip" {
            return json(400, r#"{"error":"unknown set"}"#);
        }
        let id = asked["id"].as_str().unwrap_or_default();
        let k = if id == "100" {
            Some(0)
        } else {
            (0..st.pages.len())
                .find(|&k| page_id(k) == id)
                .map(|k| k + 1)
        };
        return match k {
            Some(k) if k < st.pages.len() => json(
                200,
                &serde_json::json!({"ipaddress": st.pages[k], "ID": page_id(k)}).to_string(),
            ),
            _ => json(400, r#"{"ipaddress":["no new bans"], "ID":"none"}"#),
        };
    }
    match st.lists.get(path) {
        Some(b) if method == "GET" => Reply {
            status: 200,
            content_type: "text/plain",
            headers: Vec::new(),
            body: b.clone(),
        },
        _ => Reply {
            status: 404,
            content_type: "text/html",
            headers: Vec::new(),
            body: b"<html><body>404 Not Found</body></html>\n".to_vec(),
        },
    }
}

fn send(mut conn: TcpStream, mut reply: Reply, fault: Option<Fault>) -> std::io::Result<()> {
    let mut length = true;
    let mut cut = None;
    match fault {
        None => {}
        Some(Fault::Status(status, body)) => reply = json(status, &body),
        Some(Fault::RateLimited(after)) => {
            reply = json(
                429,
                r#"{"ipaddress":"rate limit exceeded", "ID":"unauthorized"}"#,
            );
            if let Some(s) = after {
                reply.headers.push(("Retry-After".into(), s.to_string()));
            }
        }
        Some(Fault::Truncated) => cut = Some(reply.body.len() / 2),
        Some(Fault::CutNoLength(n)) => {
            length = false;
            cut = Some(n);
        }
        Some(Fault::Slow(d)) => std::thread::sleep(d),
        Some(Fault::Html) => {
            reply = Reply {
                status: 200,
                content_type: "text/html",
                headers: Vec::new(),
                body: b"<!DOCTYPE html>\n<html><body>Please log in to the network</body></html>\n"
                    .to_vec(),
            }
        }
    }
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nConnection: close\r\n",
        reply.status, reply.content_type
    );
    if length {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    let body = &reply.body[..cut.unwrap_or(reply.body.len()).min(reply.body.len())];
    conn.write_all(body)?;
    conn.flush()?;
    let _ = conn.shutdown(std::net::Shutdown::Both);
    Ok(())
}
