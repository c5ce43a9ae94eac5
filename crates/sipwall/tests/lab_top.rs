//! `sipwall top` on a real terminal: tmux runs it against a daemon in the
//! lab, and the test reads the screen as an admin would see it.

mod lab;

use lab::Lab;
use std::process::{Command, Output};
use std::time::Duration;

/// A tmux server of the test's own (its own socket), killed when dropped,
/// so that neither a failed test nor another tmux user is disturbed.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    /// A 140x40 session running `sh`.
    fn start(dir: &std::path::Path) -> Tmux {
        let t = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let out = t.run(&[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "140",
            "-y",
            "40",
            "sh",
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        // -u: UTF-8 whatever the locale (the sparklines and borders are).
        Command::new("tmux")
            .arg("-u")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env("PS1", "$ ")
            .output()
            .expect("tmux")
    }

    /// Types `line` and Enter.
    fn type_line(&self, line: &str) {
        assert!(self
            .run(&["send-keys", "-t", "top", "-l", line])
            .status
            .success());
        assert!(self
            .run(&["send-keys", "-t", "top", "Enter"])
            .status
            .success());
    }

    /// What the pane shows now.
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    /// The pid of the pane's shell.
    fn pane_pid(&self) -> Option<u32> {
        let out = self.run(&["display-message", "-p", "-t", "top", "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// Whether the pane is on the alternate screen (a full-screen program runs).
    fn alternate(&self) -> bool {
        let out = self.run(&["display-message", "-p", "-t", "top", "#{alternate_on}"]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn top_shows_the_guard_live_and_quits_back_to_the_shell() {
    let Some(lab) = Lab::up("top", &["tmux", "sipvicious_svmap"]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    let mut daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    let tmux = Tmux::start(lab.state.path());
    // tmux's server does not pass the test's environment on: the command
    // line carries the lab's control socket.
    tmux.type_line(&format!(
        "ip netns exec {} env SIPWALL_CONTROL={} {} top --interval 500ms; echo top-exited-$?",
        lab.ns("fw"),
        lab.state.path().join("control.sock").display(),
        lab::sipwall(),
    ));
    let panes = [
        "Traffic",
        "packets/s",
        "SIP msg/s",
        "Bans by detector",
        "Newest bans",
        "Pinholes / calls",
        "Guard",
        "ESL",
    ];
    let mut screen = String::new();
    let drawn = lab.wait_for(Duration::from_secs(10), || {
        screen = tmux.screen();
        panes.iter().all(|p| screen.contains(p)) && screen.contains("up ")
    });
    assert!(drawn, "the panes did not appear:\n{screen}");
    assert!(!screen.contains("not reachable"), "{screen}");

    // A scan: SIP messages per second and the scanner detector's bans
    // show as bars in their series, the attacker among the newest bans.
    let bars = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let has_bars = |screen: &str, label: &str| {
        screen
            .lines()
            .find(|l| l.trim_start_matches('│').starts_with(label))
            .is_some_and(|l| l.chars().any(|c| bars.contains(&c)))
    };
    let _scan = lab.spawn("attacker", &["sipvicious_svmap", "192.0.2.1"]);
    let scanned = lab.wait_for(Duration::from_secs(15), || {
        screen = tmux.screen();
        has_bars(&screen, "SIP msg/s")
            && has_bars(&screen, "scanner")
            && screen
                .lines()
                .any(|l| l.contains("192.0.2.66") && l.contains("scanner"))
    });
    assert!(scanned, "the scan did not show:\n{screen}");
    eprintln!("{screen}");

    let out = lab.sipwall(
        "fw",
        &["bans", "add", "192.0.2.77", "--reason", "seen in tmux"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = lab.wait_for(Duration::from_secs(5), || {
        screen = tmux.screen();
        screen
            .lines()
            .any(|l| l.contains("192.0.2.77") && l.contains("seen in tmux") && l.contains("manual"))
    });
    assert!(shown, "the ban and its reason did not appear:\n{screen}");

    // The daemon goes away: top says so and keeps asking; back, it shows
    // the restored ban again.
    drop(daemon);
    let said = lab.wait_for(Duration::from_secs(5), || {
        screen = tmux.screen();
        screen.contains("daemon not reachable")
    });
    assert!(said, "no word of the vanished daemon:\n{screen}");
    daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    let back = lab.wait_for(Duration::from_secs(10), || {
        screen = tmux.screen();
        !screen.contains("not reachable") && screen.contains("seen in tmux")
    });
    assert!(back, "top did not reconnect:\n{screen}");

    assert!(tmux.alternate(), "top runs on the alternate screen");
    assert!(tmux.run(&["send-keys", "-t", "top", "q"]).status.success());
    let exited = lab.wait_for(Duration::from_secs(5), || {
        screen = tmux.screen();
        screen.contains("top-exited-0")
    });
    assert!(exited, "q did not end top with 0:\n{screen}");
    assert!(!tmux.alternate(), "the terminal is restored");
    assert!(
        !screen.contains("Newest bans"),
        "the shell's screen is back, not top's:\n{screen}"
    );

    // Killed (TERM), it gives the terminal back too.
    tmux.type_line("clear");
    tmux.type_line(&format!(
        "ip netns exec {} env SIPWALL_CONTROL={} {} top; echo killed-exited-$?",
        lab.ns("fw"),
        lab.state.path().join("control.sock").display(),
        lab::sipwall(),
    ));
    let mut top = None;
    let running = lab.wait_for(Duration::from_secs(10), || {
        top = tmux.pane_pid().and_then(|sh| descendant(sh, "sipwall"));
        top.is_some() && tmux.screen().contains("Newest bans")
    });
    assert!(running, "top did not start again:\n{}", tmux.screen());
    let top = top.unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &top.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exited = lab.wait_for(Duration::from_secs(5), || {
        screen = tmux.screen();
        screen.contains("killed-exited-0")
    });
    assert!(exited, "TERM did not end top cleanly:\n{screen}");
    assert!(!tmux.alternate(), "the terminal is restored after TERM");
    drop(daemon);
}

/// The first process below `pid` (depth first) whose name is `comm`.
fn descendant(pid: u32, comm: &str) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .find_map(|child| {
            let name = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            if name.trim() == comm {
                Some(child)
            } else {
                descendant(child, comm)
            }
        })
}

#[test]
fn top_into_a_pipe_says_it_needs_a_terminal_instead_of_drawing_escapes() {
    let out = Command::new(lab::sipwall())
        .args(["top", "--control", "/nonexistent/control.sock"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(out.stdout.is_empty(), "nothing drawn into the pipe");
}
