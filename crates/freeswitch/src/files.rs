//! The only door to the file system: the preprocessor reads through
//! [`Files`], so its logic runs the same on disk and on in-memory trees.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Read access to a configuration tree.
pub trait Files {
    /// The whole file as text; bytes that are not UTF-8 are replaced.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The names of a folder's entries, in any order.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Whether something exists at `path`.
    fn exists(&self, path: &Path) -> bool;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> io::Result<String> {
        let bytes = std::fs::read(path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect()
    }

    fn exists(&self, path: &Path) -> bool {
        // Not followed: glob(3) lists a dangling link, and FreeSWITCH then
        // fails to read it, which discovery must report, not skip.
        path.symlink_metadata().is_ok()
    }
}

/// A tree held in memory, for tests and for callers that already have the text.
#[derive(Debug, Default, Clone)]
pub struct Memory {
    files: BTreeMap<PathBuf, String>,
}

impl Memory {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file; its folders exist implicitly.
    pub fn insert(&mut self, path: impl AsRef<Path>, text: impl Into<String>) -> &mut Self {
        self.files.insert(normalize(path.as_ref()), text.into());
        self
    }
}

impl Files for Memory {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let dir = normalize(dir);
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|p| p.strip_prefix(&dir).ok())
            .filter_map(|rest| rest.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        names.dedup();
        if names.is_empty() {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        let path = normalize(path);
        self.files.keys().any(|p| p.starts_with(&path))
    }
}

/// Removes `.` and folds `..` without touching the disk, the way a path
/// reads (`autoload_configs/../sip_profiles` is `sip_profiles`).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_parent_components() {
        assert_eq!(
            normalize(Path::new("/c/autoload_configs/../sip_profiles/./a.xml")),
            PathBuf::from("/c/sip_profiles/a.xml")
        );
    }

    #[test]
    fn memory_lists_files_and_folders_once() {
        let mut m = Memory::new();
        m.insert("/c/a.xml", "")
            .insert("/c/d/b.xml", "")
            .insert("/c/d/c.xml", "");
        let mut names = m.list(Path::new("/c")).unwrap();
        names.sort();
        assert_eq!(names, ["a.xml", "d"]);
        assert!(m.exists(Path::new("/c/d")));
        assert!(!m.exists(Path::new("/c/e")));
    }
}
