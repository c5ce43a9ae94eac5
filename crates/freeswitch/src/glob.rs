//! Shell-style patterns (`*`, `?`, `[...]`) for `include`, expanded the way
//! glob(3) does: each wildcard component against a folder listing, hidden
//! names only when the pattern asks for them, results sorted.

use crate::files::{normalize, Files};
use std::path::{Path, PathBuf};

/// The existing paths matching `pattern` (an absolute or root-relative path), sorted.
pub fn expand(files: &dyn Files, pattern: &Path) -> Vec<PathBuf> {
    let mut candidates = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if !has_wildcard(&part) {
            for c in &mut candidates {
                c.push(component.as_os_str());
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &candidates {
            let listing_dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            let Ok(names) = files.list(listing_dir) else {
                continue;
            };
            for name in names {
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if matches(&part, &name) {
                    next.push(dir.join(&name));
                }
            }
        }
        candidates = next;
    }
    let mut found: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|p| files.exists(p))
        .map(|p| normalize(&p))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Whether a path component needs matching rather than copying.
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Whether `name` matches the one-component `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|skip| match_from(&p[1..], &n[skip..])),
        Some('?') => !n.is_empty() && match_from(&p[1..], &n[1..]),
        Some('[') => match (n.first(), class(&p[1..])) {
            (Some(&c), Some((set, rest))) => set.contains(c) && match_from(rest, &n[1..]),
            // An unclosed `[` is an ordinary character, as in glob(3).
            (Some(&c), None) => c == '[' && match_from(&p[1..], &n[1..]),
            (None, _) => false,
        },
        Some(&lit) => n.first() == Some(&lit) && match_from(&p[1..], &n[1..]),
    }
}

/// A bracket expression, e.g. `[a-c]` or `[!x]`.
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// Parses the class after its `[`, returning it and the pattern after its `]`.
fn class(p: &[char]) -> Option<(Class, &[char])> {
    let mut i = 0;
    let negated = matches!(p.first(), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < p.len() {
        let c = p[i];
        if c == ']' && !first {
            return Some((Class { negated, ranges }, &p[i + 1..]));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            ranges.push((c, p[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::Memory;

    #[test]
    fn star_question_and_classes() {
        assert!(matches("*.xml", "internal.xml"));
        assert!(!matches("*.xml", "internal.xml.off"));
        assert!(matches("?nternal.xml", "internal.xml"));
        assert!(matches("[a-j]*.xml", "internal.xml"));
        assert!(!matches("[!i]*.xml", "internal.xml"));
        assert!(matches("a[b", "a[b"));
        assert!(matches("[]]", "]"));
    }

    #[test]
    fn expands_sorted_across_folders_without_hidden_files() {
        let mut m = Memory::new();
        m.insert("/c/p/b.xml", "")
            .insert("/c/p/a.xml", "")
            .insert("/c/p/.h.xml", "")
            .insert("/c/p/c.txt", "")
            .insert("/c/q/x/z.xml", "");
        let got = expand(&m, Path::new("/c/p/../p/*.xml"));
        assert_eq!(
            got,
            [PathBuf::from("/c/p/a.xml"), PathBuf::from("/c/p/b.xml")]
        );
        let got = expand(&m, Path::new("/c/*/x/*.xml"));
        assert_eq!(got, [PathBuf::from("/c/q/x/z.xml")]);
        assert!(expand(&m, Path::new("/c/none/*.xml")).is_empty());
        assert_eq!(
            expand(&m, Path::new("/c/p/a.xml")),
            [PathBuf::from("/c/p/a.xml")]
        );
        assert!(expand(&m, Path::new("/c/p/missing.xml")).is_empty());
    }
}
