//! FreeSWITCH's configuration preprocessor, line by line as
//! `src/switch_xml.c` does it, with a line map back to the original files.
//!
//! The quirks are kept on purpose, because they decide what FreeSWITCH
//! really loads: directives are found by a case-insensitive search for
//! `X-PRE-PROCESS` right after a `<`, so one inside an XML comment still
//! runs and a misspelled one (`<XX-PRE-PROCESS`) is inert; only one
//! directive per line counts; lines holding `<include>`, `</include>` or
//! `<?` vanish.

use crate::error::Error;
use crate::files::{normalize, Files};
use crate::glob;
use crate::provenance::{Location, SetBy, Unknown};
use crate::vars::{Expansion, Var, Vars};
use crate::warning::{Warning, WarningKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// FreeSWITCH refuses to nest includes deeper than this.
pub const MAX_DEPTH: usize = 100;

/// What the preprocessor needs besides the files.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--var NAME=VALUE`: values that win over every assignment in the files.
    pub vars: Vec<(String, String)>,
    /// The environment `env-set` reads from.
    pub env: BTreeMap<String, String>,
}

/// One line of the assembled document and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// The original file and line.
    pub at: Location,
    /// The 1-based column of the original line where this text starts.
    pub column: u32,
    /// Byte offset of this line in [`Assembled::text`].
    pub start: usize,
    /// The `$${variables}` expanded in this line; ranges are relative to the line.
    pub expansions: Vec<Expansion>,
}

/// The preprocessed document, ready for an XML parser.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The document text, one original line (or part of one) per line.
    pub text: String,
    /// For every line of `text`, where it comes from.
    pub lines: Vec<SourceLine>,
    /// The variables as they stand at the end.
    pub vars: Vars,
    /// Problems FreeSWITCH would log and ignore.
    pub warnings: Vec<Warning>,
    /// The entry file's first line: what is blamed when the document has no
    /// line to blame (an empty `freeswitch.xml`).
    pub entry: Location,
}

impl Assembled {
    /// The line holding byte `offset` of [`Assembled::text`].
    pub fn line_at(&self, offset: usize) -> Option<&SourceLine> {
        let i = self.lines.partition_point(|l| l.start <= offset);
        i.checked_sub(1).map(|i| &self.lines[i])
    }
}

/// Preprocesses `entry` (usually `freeswitch.xml`) of the tree rooted at `conf_dir`.
pub fn preprocess(
    files: &dyn Files,
    conf_dir: &Path,
    entry: &Path,
    options: &Options,
) -> Result<Assembled, Error> {
    let conf_dir = normalize(conf_dir);
    let entry = normalize(&conf_dir.join(entry));
    let text = files.read(&entry).map_err(|source| Error::Unreadable {
        path: entry.display().to_string(),
        source,
    })?;
    let mut p = Preprocessor {
        files,
        root: conf_dir.clone(),
        out: Assembled {
            text: String::new(),
            lines: Vec::new(),
            vars: Vars::new(&conf_dir.display().to_string(), &options.vars),
            warnings: Vec::new(),
            entry: Location {
                file: String::new(),
                line: 1,
            },
        },
        env: &options.env,
        stack: Vec::new(),
    };
    p.out.entry.file = p.display(&entry);
    p.file_text(&entry, &conf_dir, &text, 0);
    Ok(p.out)
}

struct Preprocessor<'a> {
    files: &'a dyn Files,
    root: PathBuf,
    out: Assembled,
    env: &'a BTreeMap<String, String>,
    /// The files being included, outermost first, to see loops.
    stack: Vec<PathBuf>,
}

/// Where a directive was found, for provenance and warnings.
struct Here<'p> {
    at: Location,
    cwd: &'p Path,
    depth: usize,
}

impl Preprocessor<'_> {
    fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => path.display().to_string(),
        }
    }

    fn warn(&mut self, kind: WarningKind, at: &Location, message: String) {
        self.out.warnings.push(Warning {
            kind,
            at: at.clone(),
            message,
        });
    }

    fn include_file(&mut self, path: &Path, from: &Here) {
        // FreeSWITCH counts include levels from 0 at the entry file and gives up past the limit.
        if from.depth + 1 > MAX_DEPTH {
            let msg = format!(
                "includes nest deeper than {MAX_DEPTH}; FreeSWITCH skips {}",
                self.display(path)
            );
            self.warn(WarningKind::RecursionLimit, &from.at, msg);
            return;
        }
        if self.stack.iter().any(|p| p == path) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&path.to_path_buf()))
                .map(|p| self.display(p))
                .collect();
            let msg = format!(
                "include loop ({}); FreeSWITCH repeats it up to {MAX_DEPTH} levels, sipwall reads it once",
                chain.join(" -> ")
            );
            self.warn(WarningKind::IncludeLoop, &from.at, msg);
            return;
        }
        let text = match self.files.read(path) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("cannot read included {}: {e}", self.display(path));
                self.warn(WarningKind::UnreadableInclude, &from.at, msg);
                return;
            }
        };
        let cwd = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.file_text(path, &cwd, &text, from.depth + 1);
    }

    fn file_text(&mut self, path: &Path, cwd: &Path, text: &str, depth: usize) {
        self.stack.push(path.to_path_buf());
        let file = self.display(path);
        // Inside a legacy `<!--#...` that did not close on its own line.
        let mut in_legacy = false;
        for (i, raw) in text.lines().enumerate() {
            let at = Location {
                file: file.clone(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            };
            let (line, expansions, unterminated) = self.out.vars.expand(raw);
            if unterminated {
                self.warn(
                    WarningKind::UnterminatedVariable,
                    &at,
                    "unterminated $${".into(),
                );
            }
            if raw.contains("<include>") || raw.contains("</include>") || raw.contains("<?") {
                continue;
            }
            let mut from = 0;
            if in_legacy {
                match line.find("-->") {
                    Some(end) => {
                        in_legacy = false;
                        from = end + 3;
                    }
                    None => continue,
                }
            }
            let here = Here { at, cwd, depth };
            let bp = &line[from..];
            if let Some(t) = find_ignore_case(bp, "x-pre-process") {
                if t > 0 && bp.as_bytes()[t - 1] == b'<' {
                    if let Some((cmd, data)) = directive(&bp[t..]) {
                        self.run(&cmd, &data, &here, false);
                    }
                }
                continue;
            }
            if let Some(c) = bp.find("<!--#") {
                self.emit(&here, &line, from, from + c, &expansions);
                let body_start = from + c + 5;
                let body_end = match line[body_start..].find("-->") {
                    Some(e) => {
                        // FreeSWITCH writes what follows the comment before running it.
                        self.emit(&here, &line, body_start + e + 3, line.len(), &expansions);
                        body_start + e
                    }
                    None => {
                        in_legacy = true;
                        line.len()
                    }
                };
                let body = &line[body_start..body_end];
                if let Some((cmd, arg)) = body.split_once(' ') {
                    let arg = match arg.split_once('"') {
                        Some((_, quoted)) => match quoted.split_once('"') {
                            Some((inner, _)) => inner,
                            None => arg,
                        },
                        None => arg,
                    };
                    self.run(cmd, arg, &here, true);
                }
                continue;
            }
            self.emit(&here, &line, from, line.len(), &expansions);
        }
        self.stack.pop();
    }

    /// Appends `line[from..to]` to the document, unless it is blank.
    fn emit(&mut self, here: &Here, line: &str, from: usize, to: usize, expansions: &[Expansion]) {
        let part = &line[from..to];
        // A legacy directive's surroundings are often only spaces: not worth a line.
        if part.trim().is_empty() && (from > 0 || to < line.len()) {
            return;
        }
        let expansions = expansions
            .iter()
            .filter(|e| e.range.start >= from && e.range.end <= to)
            .map(|e| Expansion {
                use_: e.use_.clone(),
                range: e.range.start - from..e.range.end - from,
            })
            .collect();
        self.out.lines.push(SourceLine {
            at: here.at.clone(),
            column: u32::try_from(line[..from].chars().count() + 1).unwrap_or(u32::MAX),
            start: self.out.text.len(),
            expansions,
        });
        self.out.text.push_str(part);
        self.out.text.push('\n');
    }

    fn run(&mut self, cmd: &str, data: &str, here: &Here, legacy: bool) {
        let cmd = cmd.to_ascii_lowercase();
        match cmd.as_str() {
            "set" => {
                if let Some((name, value)) = assignment(data) {
                    let var = Var {
                        value: Some(value.to_string()),
                        set_by: SetBy::Set,
                        set_at: Some(here.at.clone()),
                        unknown: None,
                    };
                    self.out.vars.set(name, var);
                }
            }
            "exec-set" | "stun-set" => self.unknowable(&cmd, data, here),
            // The comment form never learnt env-set.
            "env-set" if !legacy => self.env_set(data, here),
            "include" => self.include(data, here),
            // `#comment` is the documented way to write a note that never reaches the parser.
            "comment" => {}
            "exec" => {
                let msg = format!("exec \"{data}\" is not run at discovery; its output is missing");
                self.warn(WarningKind::NotExecuted, &here.at, msg);
            }
            _ => {
                let msg = format!("unknown preprocessor command \"{cmd}\"; FreeSWITCH ignores it");
                self.warn(WarningKind::UnknownCommand, &here.at, msg);
            }
        }
    }

    /// `exec-set` and `stun-set`: their values need a shell or the network,
    /// which discovery never uses.
    fn unknowable(&mut self, cmd: &str, data: &str, here: &Here) {
        let Some((name, value)) = assignment(data) else {
            return;
        };
        let stun = cmd == "stun-set";
        // A stun-set whose value is not a `stun:` query is a plain assignment.
        if stun
            && !value
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("stun:"))
        {
            let var = Var {
                value: Some(value.to_string()),
                set_by: SetBy::StunSet,
                set_at: Some(here.at.clone()),
                unknown: None,
            };
            self.out.vars.set(name, var);
            return;
        }
        let (set_by, unknown) = if stun {
            (SetBy::StunSet, Unknown::StunSet)
        } else {
            (SetBy::ExecSet, Unknown::ExecSet)
        };
        let overridden = self
            .out
            .vars
            .get(name)
            .is_some_and(|v| v.set_by == SetBy::CommandLine);
        if !overridden {
            let msg = format!(
                "{cmd} {name} is not run at discovery; give its value with --var {name}=VALUE"
            );
            self.warn(WarningKind::NotExecuted, &here.at, msg);
        }
        let var = Var {
            value: None,
            set_by,
            set_at: Some(here.at.clone()),
            unknown: Some(unknown),
        };
        self.out.vars.set(name, var);
    }

    fn env_set(&mut self, data: &str, here: &Here) {
        let Some((name, value)) = assignment(data) else {
            return;
        };
        let env_name = value.strip_prefix('$').unwrap_or(value);
        match self.env.get(env_name) {
            Some(v) => {
                let var = Var {
                    value: Some(v.clone()),
                    set_by: SetBy::EnvSet,
                    set_at: Some(here.at.clone()),
                    unknown: None,
                };
                self.out.vars.set(name, var);
            }
            None => {
                let msg = format!("env-set {name}: environment variable {env_name} is not set");
                self.warn(WarningKind::MissingEnvironment, &here.at, msg);
            }
        }
    }

    fn include(&mut self, pattern: &str, here: &Here) {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            here.cwd.join(pattern)
        };
        let found = glob::expand(self.files, &full);
        if found.is_empty() {
            let msg = format!("include \"{pattern}\" matches no file");
            self.warn(WarningKind::MissingInclude, &here.at, msg);
        }
        for path in found {
            self.include_file(&path, here);
        }
    }
}

/// Splits `name=value`, trimming spaces around `=` as FreeSWITCH does.
fn assignment(data: &str) -> Option<(&str, &str)> {
    let (name, value) = data.split_once('=')?;
    Some((name.trim_end_matches(' '), value.trim_start_matches(' ')))
}

/// Reads `cmd="..."` then `data="..."` after `X-PRE-PROCESS`, with
/// FreeSWITCH's loose search (attribute order and spacing barely matter).
fn directive(s: &str) -> Option<(String, String)> {
    let c = find_ignore_case(s, "cmd")?;
    let s = &s[c..];
    let s = &s[s.find('=')?..];
    let s = &s[s.find('"')? + 1..];
    let (cmd, rest) = s.split_once('"')?;
    let d = find_ignore_case(rest, "data")?;
    let rest = &rest[d..];
    let rest = &rest[rest.find('=')?..];
    let rest = &rest[rest.find('"')? + 1..];
    let data = rest.split_once('"').map_or(rest, |(d, _)| d);
    Some((cmd.to_string(), data.to_string()))
}

/// Byte index of the first ASCII-case-insensitive occurrence of `needle`.
fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::Memory;

    fn run(files: &Memory) -> Assembled {
        preprocess(
            files,
            Path::new("/c"),
            Path::new("freeswitch.xml"),
            &Options::default(),
        )
        .unwrap()
    }

    fn tree(entry: &str) -> Memory {
        let mut m = Memory::new();
        m.insert("/c/freeswitch.xml", entry);
        m
    }

    fn value(a: &Assembled, name: &str) -> Option<String> {
        a.vars.get(name).and_then(|v| v.value.clone())
    }

    #[test]
    fn set_expands_later_lines_and_trims_around_equals() {
        let a = run(&tree(
            "<X-PRE-PROCESS cmd=\"set\" data=\"port = 5070\"/>\n<p v=\"$${port}\"/>\n<q v=\"${port}\"/>\n",
        ));
        assert_eq!(a.text, "<p v=\"5070\"/>\n<q v=\"${port}\"/>\n");
        assert_eq!(a.lines[0].at.line, 2);
        assert_eq!(
            a.lines[0].expansions[0].use_.set_at.as_ref().unwrap().line,
            1
        );
    }

    #[test]
    fn directive_is_case_insensitive_and_runs_inside_a_comment() {
        let a = run(&tree(
            "<!-- <x-pre-process CMD=\"SET\" DATA=\"a=1\"/> -->\n<!--<X-PRE-PROCESS cmd=\"set\" data=\"b=2\"/>-->\n",
        ));
        assert_eq!(value(&a, "a").as_deref(), Some("1"));
        assert_eq!(value(&a, "b").as_deref(), Some("2"));
        // The whole line goes, comment markers included.
        assert_eq!(a.text, "");
    }

    #[test]
    fn misspelled_directives_are_inert() {
        let a = run(&tree(concat!(
            "<XX-PRE-PROCESS cmd=\"set\" data=\"a=1\"/>\n",
            "<!--<Z-PRE-PROCESS cmd=\"set\" data=\"b=2\"/>-->\n",
            "<X-NO-PRE-PROCESS cmd=\"set\" data=\"c=3\"/>\n",
            "X-PRE-PROCESS cmd=\"set\" data=\"d=4\"\n",
        )));
        for name in ["a", "b", "c", "d"] {
            assert_eq!(value(&a, name), None, "{name}");
        }
        // `<XX-` contains `X-PRE-PROCESS` not right after `<`: the line is dropped.
        assert!(!a.text.contains("XX-PRE"));
        assert!(a.text.contains("<!--<Z-PRE-PROCESS"));
        assert!(a.text.contains("<X-NO-PRE-PROCESS"));
    }

    #[test]
    fn one_directive_per_line() {
        let a = run(&tree(
            "<X-PRE-PROCESS cmd=\"set\" data=\"a=1\"/><X-PRE-PROCESS cmd=\"set\" data=\"b=2\"/><keep/>\n",
        ));
        assert_eq!(value(&a, "a").as_deref(), Some("1"));
        assert_eq!(value(&a, "b"), None);
        assert_eq!(a.text, "");
    }

    #[test]
    fn include_lines_and_declarations_vanish() {
        let a = run(&tree(
            "<?xml version=\"1.0\"?>\n<include>\n<a/>\n</include>\n",
        ));
        assert_eq!(a.text, "<a/>\n");
        assert_eq!(a.lines[0].at.line, 3);
    }

    #[test]
    fn include_globs_are_sorted_and_relative_to_the_including_file() {
        let mut m = tree("<r>\n<X-PRE-PROCESS cmd=\"include\" data=\"conf/main.xml\"/>\n</r>\n");
        m.insert(
            "/c/conf/main.xml",
            "<X-PRE-PROCESS cmd=\"include\" data=\"../p/*.xml\"/>\n",
        )
        .insert("/c/p/b.xml", "<b/>\n")
        .insert("/c/p/a.xml", "<include>\n<a/>\n</include>\n")
        .insert("/c/p/c.xml.off", "<c/>\n");
        let a = run(&m);
        assert_eq!(a.text, "<r>\n<a/>\n<b/>\n</r>\n");
        let files: Vec<String> = a.lines.iter().map(|l| l.at.to_string()).collect();
        assert_eq!(
            files,
            [
                "freeswitch.xml:1",
                "p/a.xml:2",
                "p/b.xml:1",
                "freeswitch.xml:3"
            ]
        );
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    }

    #[test]
    fn missing_include_is_a_warning() {
        let a = run(&tree(
            "<X-PRE-PROCESS cmd=\"include\" data=\"nowhere/*.xml\"/>\n<a/>\n",
        ));
        assert_eq!(a.text, "<a/>\n");
        assert_eq!(a.warnings.len(), 1);
        assert_eq!(a.warnings[0].kind, WarningKind::MissingInclude);
        assert_eq!(a.warnings[0].at.to_string(), "freeswitch.xml:1");
    }

    #[test]
    fn include_loop_is_read_once_and_reported() {
        let mut m = tree("<X-PRE-PROCESS cmd=\"include\" data=\"a.xml\"/>\n");
        m.insert(
            "/c/a.xml",
            "<a/>\n<X-PRE-PROCESS cmd=\"include\" data=\"b.xml\"/>\n",
        )
        .insert(
            "/c/b.xml",
            "<b/>\n<X-PRE-PROCESS cmd=\"include\" data=\"a.xml\"/>\n",
        );
        let a = run(&m);
        assert_eq!(a.text, "<a/>\n<b/>\n");
        let loops: Vec<_> = a
            .warnings
            .iter()
            .filter(|w| w.kind == WarningKind::IncludeLoop)
            .collect();
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].at.to_string(), "b.xml:2");
        assert!(loops[0]
            .message
            .contains("freeswitch.xml -> a.xml -> b.xml -> a.xml"));
    }

    #[test]
    fn recursion_limit_stops_deep_chains() {
        let mut m = tree("<X-PRE-PROCESS cmd=\"include\" data=\"f1.xml\"/>\n");
        for i in 1..=MAX_DEPTH + 5 {
            m.insert(
                format!("/c/f{i}.xml"),
                format!(
                    "<l{i}/>\n<X-PRE-PROCESS cmd=\"include\" data=\"f{}.xml\"/>\n",
                    i + 1
                ),
            );
        }
        let a = run(&m);
        assert!(a.text.contains(&format!("<l{MAX_DEPTH}/>")));
        assert!(!a.text.contains(&format!("<l{}/>", MAX_DEPTH + 1)));
        assert!(a
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::RecursionLimit));
    }

    #[test]
    fn legacy_comment_directives() {
        let a = run(&tree(concat!(
            "<a><!--#set \"x=1\"--><b v=\"$${x}\"/>\n",
            "<c v=\"$${x}\"/>\n",
            "<!--#set y=2\n",
            "still inside -->\n",
            "<d v=\"$${y}\"/>\n",
            "<!--#comment ignored-->\n",
            "<!--#stun-set z=stun:stun.example.org-->\n",
        )));
        assert_eq!(a.vars.get("z").unwrap().unknown, Some(Unknown::StunSet));
        assert_eq!(value(&a, "x").as_deref(), Some("1"));
        // The set runs after its line was expanded, so `<b>` sees no x yet.
        assert_eq!(a.text, "<a>\n<b v=\"\"/>\n<c v=\"1\"/>\n<d v=\"2\"/>\n");
        assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
        assert_eq!(a.warnings[0].kind, WarningKind::NotExecuted);
    }

    #[test]
    fn exec_set_and_stun_set_are_unknown_unless_given() {
        let entry = concat!(
            "<X-PRE-PROCESS cmd=\"exec-set\" data=\"p=echo 5090\"/>\n",
            "<X-PRE-PROCESS cmd=\"stun-set\" data=\"ip=stun:stun.example.org\"/>\n",
            "<X-PRE-PROCESS cmd=\"stun-set\" data=\"fixed=192.0.2.1\"/>\n",
            "<a p=\"$${p}\" ip=\"$${ip}\" f=\"$${fixed}\"/>\n",
        );
        let a = run(&tree(entry));
        assert_eq!(a.text, "<a p=\"\" ip=\"\" f=\"192.0.2.1\"/>\n");
        let e = &a.lines[0].expansions;
        assert_eq!(e[0].use_.unknown_because, Some(Unknown::ExecSet));
        assert_eq!(e[1].use_.unknown_because, Some(Unknown::StunSet));
        assert_eq!(e[2].use_.unknown_because, None);
        assert_eq!(
            a.warnings
                .iter()
                .filter(|w| w.kind == WarningKind::NotExecuted)
                .count(),
            2
        );

        let options = Options {
            vars: vec![("p".into(), "5090".into())],
            ..Options::default()
        };
        let a = preprocess(
            &tree(entry),
            Path::new("/c"),
            Path::new("freeswitch.xml"),
            &options,
        )
        .unwrap();
        assert!(a.text.starts_with("<a p=\"5090\""));
        assert_eq!(
            a.lines[0].expansions[0].use_.set_by,
            Some(SetBy::CommandLine)
        );
    }

    #[test]
    fn env_set_reads_the_given_environment() {
        let entry = "<X-PRE-PROCESS cmd=\"env-set\" data=\"port=$FS_PORT\"/>\n<X-PRE-PROCESS cmd=\"env-set\" data=\"q=NOPE\"/>\n<a v=\"$${port}\"/>\n";
        let options = Options {
            env: [("FS_PORT".to_string(), "5099".to_string())].into(),
            ..Options::default()
        };
        let a = preprocess(
            &tree(entry),
            Path::new("/c"),
            Path::new("freeswitch.xml"),
            &options,
        )
        .unwrap();
        assert_eq!(a.text, "<a v=\"5099\"/>\n");
        assert_eq!(a.warnings[0].kind, WarningKind::MissingEnvironment);
    }

    #[test]
    fn unreadable_entry_is_an_error() {
        let m = Memory::new();
        let e = preprocess(
            &m,
            Path::new("/c"),
            Path::new("freeswitch.xml"),
            &Options::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("/c/freeswitch.xml: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn line_at_maps_offsets_back() {
        let mut m = tree("<r>\n<X-PRE-PROCESS cmd=\"include\" data=\"i.xml\"/>\n</r>\n");
        m.insert("/c/i.xml", "\n\n<i/>\n");
        let a = run(&m);
        let off = a.text.find("<i/>").unwrap();
        assert_eq!(a.line_at(off).unwrap().at.to_string(), "i.xml:3");
    }
}
