//! The bouncer's API key and the watcher's machine credentials, read from
//! root's files only (never the command line, where `ps` shows it, nor the
//! policy, which is meant to be shared).
//!
//! A file is taken only if no other user could have written it or can read
//! it: opened without following a symbolic link, a regular file, owned by
//! the daemon's user (root), not writable by group or others, not readable
//! by others (group-readable is allowed, for a `root:sipwall 0640` setup).
//! It is read again at every retry, so fixing it needs no restart.

use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The most bytes a credentials file may hold.
const MAX_BYTES: u64 = 64 << 10;

/// Why credentials could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum CredentialsError {
    /// The file cannot be opened or read.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the system said.
        why: String,
    },
    /// The file is one another user could have written or can read.
    Untrusted {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The file's content is not what it should hold.
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line (1-based; 0 for the whole file).
        line: usize,
        /// What is wrong.
        why: String,
    },
}

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialsError::Unreadable { path, why }
            | CredentialsError::Untrusted { path, why } => write!(f, "{}: {why}", path.display()),
            CredentialsError::Malformed { path, line, why } => {
                write!(f, "{}:{line}: {why}", path.display())
            }
        }
    }
}

impl std::error::Error for CredentialsError {}

/// A watcher's login, as `cscli machines add -f FILE` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The machine's name.
    pub login: String,
    /// Its password.
    pub password: String,
    /// The LAPI URL cscli wrote (the policy's `lapi` is the one used).
    pub url: Option<String>,
}

/// Reads `path` if it is a file root can trust with a secret.
fn read_secret(path: &Path) -> Result<String, CredentialsError> {
    let unreadable = |e: std::io::Error| CredentialsError::Unreadable {
        path: path.to_owned(),
        why: if e.raw_os_error() == Some(nix::libc::ELOOP) {
            "is a symbolic link; refusing to follow it".into()
        } else {
            e.to_string()
        },
    };
    let untrusted = |why: String| CredentialsError::Untrusted {
        path: path.to_owned(),
        why,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(unreadable)?;
    // Checked on the open file: what was judged is what is read.
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(untrusted("is not a regular file".into()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(untrusted(format!(
            "is owned by uid {}, not by uid {me}: another user could have written it",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(untrusted(format!(
            "is writable by group or others (mode {mode:04o}); make it 0600"
        )));
    }
    if mode & 0o004 != 0 {
        return Err(untrusted(format!(
            "is readable by others (mode {mode:04o}); make it 0600 (or 0640 for a group)"
        )));
    }
    let mut text = String::new();
    file.take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > MAX_BYTES {
        return Err(CredentialsError::Malformed {
            path: path.to_owned(),
            line: 0,
            why: format!("is over {MAX_BYTES} bytes"),
        });
    }
    Ok(text)
}

/// Reads the bouncer's API key (`cscli bouncers add NAME -o raw` printed
/// it): one line of printable text.
pub fn key(path: &Path) -> Result<String, CredentialsError> {
    let text = read_secret(path)?;
    let key = text.trim();
    let malformed = |line, why: &str| CredentialsError::Malformed {
        path: path.to_owned(),
        line,
        why: why.into(),
    };
    if key.is_empty() {
        return Err(malformed(
            1,
            "is empty; put the key `cscli bouncers add` printed in it",
        ));
    }
    if let Some(n) = key.lines().nth(1).map(|_| 2) {
        return Err(malformed(
            n,
            "holds more than one line; the key is one line",
        ));
    }
    // It goes into a header: a byte that is not printable would end it.
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(malformed(1, "holds a byte that is not printable ASCII"));
    }
    Ok(key.to_owned())
}

/// Reads the watcher's credentials: `login`, `password` and `url` lines of
/// the YAML cscli writes (plain, single- or double-quoted scalars).
pub fn machine(path: &Path) -> Result<Machine, CredentialsError> {
    let text = read_secret(path)?;
    let malformed = |line, why: String| CredentialsError::Malformed {
        path: path.to_owned(),
        line,
        why,
    };
    let (mut login, mut password, mut url) = (None, None, None);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim_start().is_empty() || line.trim_start().starts_with('#') || line == "---" {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(malformed(i + 1, "is not `key: value`".into()));
        };
        let value = scalar(value.trim()).map_err(|why| malformed(i + 1, why))?;
        let slot = match key {
            "login" => &mut login,
            "password" => &mut password,
            "url" => &mut url,
            // Other keys (cscli may add some) are not ours.
            _ => continue,
        };
        if slot.is_some() {
            return Err(malformed(i + 1, format!("{key} is given twice")));
        }
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(malformed(
                i + 1,
                format!("{key} is empty or holds a byte that is not printable"),
            ));
        }
        *slot = Some(value);
    }
    let missing = |k: &str| {
        malformed(
            0,
            format!("has no {k}; write it with `cscli machines add NAME --password P -f FILE`"),
        )
    };
    Ok(Machine {
        login: login.ok_or_else(|| missing("login"))?,
        password: password.ok_or_else(|| missing("password"))?,
        url,
    })
}

/// One YAML flow scalar: plain, `'single'` (`''` is a quote) or
/// `"double"` (with `\"` and `\\`); anything fancier is refused.
fn scalar(v: &str) -> Result<String, String> {
    if let Some(inner) = v.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or("a single-quoted value does not end")?;
        return Ok(inner.replace("''", "'"));
    }
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or("a double-quoted value does not end")?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('"' | '\\' | '/')) => out.push(e),
                    _ => return Err("an escape other than \\\" \\\\ \\/".into()),
                },
                c => out.push(c),
            }
        }
        return Ok(out);
    }
    if v.starts_with(['|', '>', '&', '*', '!', '[', '{']) {
        return Err("only plain or quoted values are read".into());
    }
    // A plain scalar ends at ` #` (a comment).
    Ok(v.split(" #").next().unwrap_or("").trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn file(dir: &tempfile::TempDir, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn a_key_and_machine_file_as_cscli_writes_them_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let k = file(&dir, "k", "3f1cbd51a9d2c3b2b6c5e1c64ab85b90\n", 0o600);
        assert_eq!(key(&k).unwrap(), "3f1cbd51a9d2c3b2b6c5e1c64ab85b90");
        let m = file(
            &dir,
            "m",
            "url: http://192.0.2.8:8080\nlogin: host-a\npassword: 'it''s'\n",
            0o640,
        );
        assert_eq!(
            machine(&m).unwrap(),
            Machine {
                login: "host-a".into(),
                password: "it's".into(),
                url: Some("http://192.0.2.8:8080".into())
            }
        );
        let q = file(&dir, "q", "login: \"a\\\"b\"\npassword: p # c\n", 0o600);
        let got = machine(&q).unwrap();
        assert_eq!((got.login.as_str(), got.password.as_str()), ("a\"b", "p"));
    }

    #[test]
    fn a_key_file_that_could_add_a_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for text in ["k1\nX-Evil: 1\n", "", "  \n", "k\u{7f}1"] {
            let k = file(&dir, "k", text, 0o600);
            assert!(
                matches!(key(&k), Err(CredentialsError::Malformed { .. })),
                "{text:?}"
            );
        }
        let m = file(&dir, "m", "login: a\npassword: b\r\u{1}\n", 0o600);
        assert!(machine(&m).is_err());
    }

    #[test]
    fn credentials_others_could_write_or_read_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o620, 0o602, 0o666] {
            let k = file(&dir, "k", "key\n", mode);
            let e = key(&k).unwrap_err();
            assert!(
                matches!(e, CredentialsError::Untrusted { .. }),
                "{mode:o}: {e}"
            );
        }
        let real = file(&dir, "real", "key\n", 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = key(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = key(&dir.path().join("absent")).unwrap_err();
        assert!(matches!(e, CredentialsError::Unreadable { .. }), "{e}");
        let e = key(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_machine_file_without_a_login_or_with_two_says_which_line() {
        let dir = tempfile::tempdir().unwrap();
        let m = file(&dir, "m", "password: b\n", 0o600);
        assert!(machine(&m)
            .unwrap_err()
            .to_string()
            .contains("has no login"));
        let m = file(&dir, "m", "login: a\nlogin: b\npassword: c\n", 0o600);
        let e = machine(&m).unwrap_err();
        assert!(e.to_string().contains("m:2: login is given twice"), "{e}");
        let m = file(&dir, "m", "login: |\n  a\npassword: c\n", 0o600);
        assert!(machine(&m).unwrap_err().to_string().contains(":1:"));
    }
}
