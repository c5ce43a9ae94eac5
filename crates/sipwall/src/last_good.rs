//! Each blocklist feed's last good copy on disk, so that a host rebooted
//! without network drops the feed's addresses at once instead of after the
//! first download that works.
//!
//! One file a feed, `<dir>/<name>.list` (`/var/lib/sipwall/feeds/` by
//! default), in the plain list format (`sipwall_blocklist::list`) with a
//! commented header: what was loaded, never what the server sent, so the
//! copy is read back by the same bounded, all-or-nothing decoder as a
//! download. Only a download that decoded whole and was not empty is
//! saved: the copy is always a good list.
//!
//! Root writes here, so the directory must be one no other user can
//! change (`sipwall_netfilter::trust`: owned by root, not writable by
//! group or others, no ancestor that lets another user rename it);
//! a missing one is created 0700. Files are written to a fresh name and
//! renamed over the old one (a crash leaves the old copy or the new one,
//! never half of one) and read with `O_NOFOLLOW`: a symbolic link planted
//! at a copy's name is replaced, never followed.

use anyhow::{bail, Context as _};
use sipwall_blocklist::{list, Entry};
use sipwall_netfilter::trust;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the copies live unless `--feeds-dir` says otherwise.
pub const DEFAULT_DIR: &str = "/var/lib/sipwall/feeds";

/// The directory of the feeds' last good copies.
#[derive(Debug, Clone)]
pub struct LastGood {
    dir: PathBuf,
}

impl LastGood {
    /// The copies in `dir` (nothing is checked or created yet).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LastGood { dir: dir.into() }
    }

    /// Where feed `name`'s copy is.
    pub fn path(&self, name: &str) -> anyhow::Result<PathBuf> {
        // The policy checks names too; a name is a file name here, so
        // nothing that could leave the directory gets this far.
        if name.is_empty()
            || name.len() > 32
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            bail!("feed name {name:?} cannot name a file (lowercase letters, digits, `_`)");
        }
        Ok(self.dir.join(format!("{name}.list")))
    }

    /// Saves `entries` as feed `name`'s last good copy (`kind` and the
    /// time go in the header).
    pub fn save(&self, name: &str, kind: &str, entries: &[Entry]) -> anyhow::Result<()> {
        let path = self.path(name)?;
        if entries.is_empty() {
            bail!("an empty list is never saved as feed {name}'s last good copy");
        }
        trust::dir(&self.dir).with_context(|| format!("feed copies in {}", self.dir.display()))?;
        let saved = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let header = [
            format!(
                "sipwall feed {name} ({kind}): last good copy, {} entries",
                entries.len()
            ),
            format!("saved at {saved} (seconds since the Unix epoch); read back at start"),
        ];
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let text = list::encode(&header, entries);
        trust::write(&path, text.as_bytes(), 0o600)
            .with_context(|| format!("saving {}", path.display()))
    }

    /// Feed `name`'s last good copy; `None` when there is none yet (or no
    /// directory). A copy that does not decode is an error, with
    /// `file:line:col`.
    pub fn load(&self, name: &str) -> anyhow::Result<Option<Vec<Entry>>> {
        let path = self.path(name)?;
        if std::fs::symlink_metadata(&self.dir).is_err() {
            return Ok(None);
        }
        trust::check_dir(&self.dir)
            .with_context(|| format!("feed copies in {}", self.dir.display()))?;
        let Some(text) =
            trust::read(&path).with_context(|| format!("reading {}", path.display()))?
        else {
            return Ok(None);
        };
        list::decode(text.as_bytes(), &list::Limits::default())
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{}:{e}", display_path(&path)))
    }
}

fn display_path(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entries(list: &str) -> Vec<Entry> {
        list::decode(list.as_bytes(), &list::Limits::default()).unwrap()
    }

    #[test]
    fn a_saved_copy_is_read_back_as_the_same_entries() {
        let d = tempfile::tempdir().unwrap();
        let store = LastGood::new(d.path().join("feeds"));
        assert!(store.load("voipbl").unwrap().is_none(), "no directory yet");
        let e = entries("192.0.2.66\n198.51.100.0/24\n2001:db8::/48\n");
        store.save("voipbl", "list", &e).unwrap();
        assert_eq!(store.load("voipbl").unwrap().unwrap(), e);
        let meta = std::fs::metadata(d.path().join("feeds")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let file = std::fs::read_to_string(d.path().join("feeds/voipbl.list")).unwrap();
        assert!(
            file.starts_with("# sipwall feed voipbl (list): last good copy, 3 entries\n"),
            "{file}"
        );
        // A newer good list replaces it whole.
        let e2 = entries("203.0.113.9\n");
        store.save("voipbl", "list", &e2).unwrap();
        assert_eq!(store.load("voipbl").unwrap().unwrap(), e2);
        assert!(store.load("other").unwrap().is_none());
    }

    #[test]
    fn an_empty_list_is_never_saved_over_a_good_copy() {
        let d = tempfile::tempdir().unwrap();
        let store = LastGood::new(d.path());
        let e = entries("192.0.2.66\n");
        store.save("apiban", "apiban", &e).unwrap();
        assert!(store.save("apiban", "apiban", &[]).is_err());
        assert_eq!(store.load("apiban").unwrap().unwrap(), e);
    }

    #[test]
    fn a_symlink_planted_at_a_copy_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("shadow");
        std::fs::write(&victim, "root:x:0:0\n").unwrap();
        let dir = d.path().join("feeds");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("voipbl.list")).unwrap();
        let store = LastGood::new(&dir);
        let e = store.load("voipbl").unwrap_err();
        assert!(format!("{e:#}").contains("symbolic link"), "{e:#}");
        store
            .save("voipbl", "list", &entries("192.0.2.66\n"))
            .unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");
        assert!(!std::fs::symlink_metadata(dir.join("voipbl.list"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn a_directory_others_can_write_is_refused_for_reading_and_writing() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("feeds");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("voipbl.list"), "192.0.2.66\n").unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let store = LastGood::new(&dir);
        let e = store.load("voipbl").unwrap_err();
        assert!(
            format!("{e:#}").contains("writable by group or others"),
            "{e:#}"
        );
        assert!(store
            .save("voipbl", "list", &entries("192.0.2.1\n"))
            .is_err());
        assert_eq!(
            std::fs::read_to_string(dir.join("voipbl.list")).unwrap(),
            "192.0.2.66\n"
        );
    }

    #[test]
    fn a_damaged_copy_is_an_error_with_its_position() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("voipbl.list"), "192.0.2.66\n<html>\n").unwrap();
        let e = LastGood::new(d.path())
            .load("voipbl")
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("voipbl.list:2:1: `<html>` is not an address or network"),
            "{e}"
        );
    }

    #[test]
    fn a_feed_name_cannot_leave_the_directory() {
        let store = LastGood::new("/nonexistent");
        for bad in ["../etc/passwd", "a/b", "", "UPPER", "dot.list"] {
            assert!(store.path(bad).is_err(), "{bad}");
        }
    }
}
