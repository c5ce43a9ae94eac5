//! Paths that root writes to: the state directory of `apply --confirm`
//! and the ruleset saved for boot.
//!
//! Root trusts a directory only if no other user can change what its names
//! point at: the directory is owned by root (the effective user) and is not
//! writable by group or others, and no ancestor lets another user rename it
//! away (an ancestor writable by others must be sticky, like `/tmp`).
//! Inside a trusted directory, files are still read with `O_NOFOLLOW` and
//! written to a fresh name created with `O_EXCL`, then renamed over the
//! target: a symbolic link planted by anyone is never followed, and a
//! directory that already exists is never chmod-ed.

use crate::error::NetfilterError;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Group- and other-write bits.
const WRITABLE_BY_OTHERS: u32 = 0o022;
const OTHER_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

fn untrusted(path: &Path, why: String) -> NetfilterError {
    NetfilterError::Untrusted {
        path: path.to_owned(),
        why,
    }
}

fn state_err(path: &Path) -> impl FnOnce(std::io::Error) -> NetfilterError + '_ {
    move |source| NetfilterError::State {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir` (mode 0700, with missing parents) unless it exists, then
/// checks that root can trust it; existing directories keep their modes.
pub fn dir(dir: &Path) -> Result<(), NetfilterError> {
    if fs::symlink_metadata(dir).is_err() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(state_err(dir))?;
    }
    check_dir(dir)
}

/// Checks, without changing anything, that root can trust `dir`.
pub fn check_dir(dir: &Path) -> Result<(), NetfilterError> {
    let me = nix::unistd::geteuid().as_raw();
    let meta = fs::symlink_metadata(dir).map_err(state_err(dir))?;
    if meta.file_type().is_symlink() {
        return Err(untrusted(
            dir,
            "is a symbolic link; give the directory itself".into(),
        ));
    }
    if !meta.is_dir() {
        return Err(untrusted(dir, "is not a directory".into()));
    }
    if meta.uid() != me {
        return Err(untrusted(
            dir,
            format!(
                "is owned by uid {}, not by uid {me} (root): another user could plant files in it",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & WRITABLE_BY_OTHERS != 0 {
        return Err(untrusted(
            dir,
            format!(
                "is writable by group or others (mode {:04o}); make it 0700 or 0755",
                meta.mode() & 0o7777
            ),
        ));
    }
    let absolute = if dir.is_absolute() {
        dir.to_owned()
    } else {
        std::env::current_dir().map_err(state_err(dir))?.join(dir)
    };
    for up in absolute.ancestors().skip(1) {
        // Symbolic links among the ancestors (/var/run -> /run) are
        // judged by what they point at.
        let m = fs::metadata(up).map_err(state_err(up))?;
        let owner_ok = m.uid() == me || m.uid() == 0;
        let others_ok = m.mode() & OTHER_WRITE == 0 || m.mode() & STICKY != 0;
        let group_ok = m.mode() & 0o020 == 0 || m.gid() == 0 || m.mode() & STICKY != 0;
        if !(owner_ok && others_ok && group_ok) {
            return Err(untrusted(
                dir,
                format!(
                    "its parent {} (uid {}, mode {:04o}) lets another user rename it away",
                    up.display(),
                    m.uid(),
                    m.mode() & 0o7777
                ),
            ));
        }
    }
    Ok(())
}

/// Opens an existing file for reading without following a symbolic link;
/// `None` when there is no such file.
pub fn read(path: &Path) -> Result<Option<String>, NetfilterError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(untrusted(
                path,
                "is a symbolic link; refusing to follow it".into(),
            ))
        }
        Err(e) => return Err(state_err(path)(e)),
    };
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(state_err(path))?;
    Ok(Some(text))
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Writes `bytes` to `path` through a fresh file beside it (created with
/// `O_EXCL`, mode 0600 unless `mode` says otherwise) renamed over it: what
/// was at `path` before, a symbolic link included, is replaced, never
/// written through.
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), NetfilterError> {
    let name = path
        .file_name()
        .ok_or_else(|| untrusted(path, "has no file name".into()))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = create_new(&tmp, mode)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(state_err(path)(e));
    }
    Ok(())
}

/// Creates a file that must not exist yet (`O_EXCL`, `O_NOFOLLOW`).
pub fn create_new(path: &Path, mode: u32) -> Result<File, NetfilterError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(state_err(path))
}

/// Opens (creating if needed) a file for reading and writing without
/// following a symbolic link: the state directory's lock file.
pub fn open_rw(path: &Path) -> Result<File, NetfilterError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ELOOP) {
                untrusted(path, "is a symbolic link; refusing to follow it".into())
            } else {
                state_err(path)(e)
            }
        })
}

/// The directory a file is written into (for [`dir`]): its parent, or `.`.
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_symlink_planted_at_the_target_is_replaced_not_written_through() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("passwd");
        fs::write(&victim, "root:x:0:0\n").unwrap();
        let target = d.path().join("file");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write(&target, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");
        assert!(!fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
    }

    #[test]
    fn reading_through_a_planted_symlink_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), d.path().join("f")).unwrap();
        let e = read(&d.path().join("f")).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(read(&d.path().join("absent")).unwrap().is_none());
    }

    #[test]
    fn an_existing_directory_is_never_chmodded() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("shared");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o777)).unwrap();
        let e = dir(&sub).unwrap_err().to_string();
        assert!(e.contains("writable by group or others (mode 0777)"), "{e}");
        assert_eq!(fs::metadata(&sub).unwrap().mode() & 0o777, 0o777);
    }

    #[test]
    fn a_missing_directory_is_created_private() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("a/b");
        dir(&sub).unwrap();
        assert_eq!(fs::metadata(&sub).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_parent_other_users_can_write_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let open = d.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let e = dir(&open.join("state")).unwrap_err().to_string();
        assert!(e.contains("lets another user rename it away"), "{e}");
    }
}
