//! Debian's CrowdSec 1.4.6 (installed by `.ci/setup`) running its local
//! API (LAPI) in the lab's `lapi` node: `crowdsec -no-cs` (LAPI only, no
//! log processing) on a configuration of its own in a temporary folder
//! (a copy of `/etc/crowdsec`, its own SQLite database, logs on stdout),
//! listening on the lab network, with no central API (no `online_client`)
//! and no hub update. `cscli` runs against the same configuration.

#![allow(dead_code)] // each test uses a different part

use crate::lab::Lab;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The lab node LAPI runs in.
pub const NODE: &str = "lapi";
/// Where LAPI listens (the `lapi` node's address).
pub const LISTEN: &str = "192.0.2.8:8080";
/// LAPI's base URL, as sipwall's policy names it.
pub const URL: &str = "http://192.0.2.8:8080";

/// Whether crowdsec and cscli are installed; explains on stderr when they
/// are not. Under `CI=true` a missing CrowdSec fails the test.
pub fn require(test: &str) -> bool {
    let have = Command::new("sh")
        .args([
            "-c",
            "command -v crowdsec && command -v cscli && test -f /etc/crowdsec/config.yaml",
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if have {
        return true;
    }
    let why = "no crowdsec (run .ci/setup)";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}; under CI=true lab tests must run");
    }
    eprintln!("{test}: skipped: {why}");
    false
}

/// CrowdSec's LAPI running in the lab's `lapi` node (added to the lab).
pub struct Lapi<'l> {
    lab: &'l Lab,
    child: Option<Child>,
    dir: tempfile::TempDir,
    starts: u32,
}

impl<'l> Lapi<'l> {
    /// Adds the `lapi` node to `lab`, writes LAPI's configuration,
    /// registers a machine for cscli, starts LAPI and waits until it
    /// answers.
    pub fn start(lab: &'l Lab) -> Lapi<'l> {
        lab.add_node(NODE);
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let conf = d.join("conf");
        let out = Command::new("cp")
            .args(["-r", "/etc/crowdsec"])
            .arg(&conf)
            .output()
            .unwrap();
        assert!(out.status.success(), "cp /etc/crowdsec");
        // The package's config.yaml and its .local (read beside whichever
        // config.yaml is named) are replaced by ours.
        for f in ["config.yaml", "config.yaml.local"] {
            let _ = std::fs::remove_file(conf.join(f));
        }
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::create_dir_all(conf.join("notifications")).unwrap();
        // Nothing is shared with the central API even if one were set up.
        std::fs::write(
            conf.join("console.yaml"),
            "share_manual_decisions: false\nshare_custom: false\nshare_tainted: false\n",
        )
        .unwrap();
        std::fs::write(d.join("config.yaml"), config(d)).unwrap();
        let mut lapi = Lapi {
            lab,
            child: None,
            dir,
            starts: 0,
        };
        lapi.cscli_ok(&[
            "machines",
            "add",
            "cscli",
            "--password",
            "cscli-lab-password",
            "-f",
            lapi.conf()
                .join("local_api_credentials.yaml")
                .to_str()
                .unwrap(),
            "--force",
        ]);
        lapi.restart();
        lapi
    }

    /// Starts LAPI (again) and waits until it answers on [`LISTEN`].
    pub fn restart(&mut self) {
        self.kill();
        self.starts += 1;
        let out = self.dir.path().join(format!("lapi.{}.log", self.starts));
        let child = self
            .lab
            .cmd(NODE, "crowdsec")
            .arg("-c")
            .arg(self.config())
            .arg("-no-cs")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
            .spawn()
            .expect("crowdsec");
        self.child = Some(child);
        let up = self
            .lab
            .wait_for(Duration::from_secs(30), || self.answers());
        assert!(up, "LAPI did not start:\n{}", self.log());
    }

    /// Stops LAPI (SIGKILL: a crash, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether LAPI answers HTTP on [`LISTEN`] (any status: 401 without a
    /// key means it runs).
    pub fn answers(&self) -> bool {
        let out = self
            .lab
            .cmd(NODE, "curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2"])
            .arg(format!("{URL}/v1/decisions"))
            .output();
        out.is_ok_and(|o| {
            let code = String::from_utf8_lossy(&o.stdout);
            !code.is_empty() && code != "000"
        })
    }

    /// `cscli -c CONFIG ARGS` in the `lapi` node; its output.
    pub fn cscli(&self, args: &[&str]) -> std::process::Output {
        self.lab
            .cmd(NODE, "cscli")
            .arg("-c")
            .arg(self.config())
            .args(args)
            .output()
            .expect("cscli")
    }

    /// `cscli ARGS`, failing the test unless it works; its stdout.
    pub fn cscli_ok(&self, args: &[&str]) -> String {
        let out = self.cscli(args);
        assert!(
            out.status.success(),
            "cscli {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Registers bouncer `name` and returns its API key.
    pub fn add_bouncer(&self, name: &str) -> String {
        let key = self.cscli_ok(&["bouncers", "add", name, "-o", "raw"]);
        let key = key.trim().to_owned();
        assert!(
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric()),
            "cscli bouncers add printed {key:?}"
        );
        key
    }

    /// Registers machine `name` with `password` and writes its credentials
    /// (login, password, url, as cscli writes them) to `file`.
    pub fn add_machine(&self, name: &str, password: &str, file: &Path) {
        self.cscli_ok(&[
            "machines",
            "add",
            name,
            "--password",
            password,
            "-f",
            file.to_str().unwrap(),
            "--force",
        ]);
        let creds = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            creds.contains("login:") && creds.contains(URL),
            "cscli wrote {creds:?} to {}",
            file.display()
        );
    }

    /// `cscli decisions add --ip ADDR` (or `--range` for a CIDR) for `duration`
    /// (Go's text: `1h`, `90s`).
    pub fn add_decision(&self, target: &str, duration: &str) {
        let flag = if target.contains('/') {
            "--range"
        } else {
            "--ip"
        };
        self.cscli_ok(&[
            "decisions",
            "add",
            flag,
            target,
            "--duration",
            duration,
            "--reason",
            "lab",
        ]);
    }

    /// `cscli decisions delete --ip ADDR` (or `--range`).
    pub fn delete_decision(&self, target: &str) {
        let flag = if target.contains('/') {
            "--range"
        } else {
            "--ip"
        };
        self.cscli_ok(&["decisions", "delete", flag, target]);
    }

    /// The decisions LAPI holds, as `cscli decisions list -o json` prints
    /// them (a list of alerts, each with its decisions).
    pub fn decisions(&self) -> serde_json::Value {
        let out = self.cscli_ok(&["decisions", "list", "-a", "-o", "json"]);
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
    }

    /// The values (addresses, ranges) of LAPI's live decisions with `origin`.
    pub fn decided(&self, origin: &str) -> Vec<String> {
        self.decisions()
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["decisions"].as_array().cloned().unwrap_or_default())
            .filter(|d| d["origin"] == origin)
            .filter_map(|d| d["value"].as_str().map(str::to_owned))
            .collect()
    }

    /// The alerts LAPI holds (`cscli alerts list -o json`).
    pub fn alerts(&self) -> serde_json::Value {
        let out = self.cscli_ok(&["alerts", "list", "-a", "-o", "json"]);
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
    }

    /// The configuration file LAPI and cscli run on.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    /// The configuration folder (a copy of `/etc/crowdsec`).
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// LAPI's output, of every start.
    pub fn log(&self) -> String {
        let mut text = String::new();
        for n in 1..=self.starts {
            for ext in ["log", "err"] {
                let f = self.dir.path().join(format!("lapi.{n}.{ext}"));
                text.push_str(&format!(
                    "--- {}\n{}\n",
                    f.display(),
                    std::fs::read_to_string(&f).unwrap_or_default()
                ));
            }
        }
        text
    }
}

impl Drop for Lapi<'_> {
    fn drop(&mut self) {
        self.kill();
    }
}

/// LAPI's config.yaml: the package's, with every path in `dir`, logs on
/// stdout, the API on the lab network, no central API, no metrics port.
fn config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: .
config_paths:
  config_dir: {d}/conf/
  data_dir: {d}/data/
  simulation_path: {d}/conf/simulation.yaml
  hub_dir: {d}/hub/
  index_path: {d}/hub/.index.json
  notification_dir: {d}/conf/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: {d}/conf/acquis.yaml
  parser_routines: 1
cscli:
  output: human
  color: no
db_config:
  log_level: info
  type: sqlite
  db_path: {d}/data/crowdsec.db
  use_wal: true
  flush:
    max_items: 5000
    max_age: 7d
plugin_config:
  user: nobody
  group: nogroup
api:
  client:
    insecure_skip_verify: false
    credentials_path: {d}/conf/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: {LISTEN}
    profiles_path: {d}/conf/profiles.yaml
    console_path: {d}/conf/console.yaml
    trusted_ips:
      - 127.0.0.1
      - ::1
prometheus:
  enabled: false
  level: full
  listen_addr: 127.0.0.1
  listen_port: 6060
"
    )
}
