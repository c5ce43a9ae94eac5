//! Preprocessor variables (`$${name}`): their values, where each was set,
//! and the expansion of a line.

use crate::provenance::{Location, SetBy, Unknown, VariableUse};
use std::collections::BTreeMap;
use std::ops::Range;

/// Built-ins that depend on the host FreeSWITCH runs on. They expand to
/// their own `$${name}` text so that the inventory can say "this host's
/// IPv4" rather than guess; `--var` replaces them with real values.
pub const HOST_BUILTINS: &[&str] = &[
    "local_ip_v4",
    "local_ip_v6",
    "local_mask_v4",
    "hostname",
    "switch_serial",
    "core_uuid",
    "base_dir",
    "recordings_dir",
    "sounds_dir",
    "log_dir",
    "run_dir",
    "db_dir",
    "mod_dir",
    "htdocs_dir",
    "script_dir",
    "temp_dir",
    "grammar_dir",
    "fonts_dir",
    "images_dir",
    "certs_dir",
    "storage_dir",
    "cache_dir",
    "data_dir",
    "localstate_dir",
    "nat_public_addr",
    "nat_private_addr",
    "nat_type",
];

/// The symbolic text a host built-in expands to, e.g. `$${local_ip_v4}`.
pub fn symbol(name: &str) -> String {
    format!("$${{{name}}}")
}

/// One variable's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// The value; `None` when it cannot be known without running FreeSWITCH.
    pub value: Option<String>,
    /// How it was set.
    pub set_by: SetBy,
    /// Where it was set, when in a file.
    pub set_at: Option<Location>,
    /// Why the value is unknown, when it is.
    pub unknown: Option<Unknown>,
}

/// A `$${name}` found in a line, and where its value landed in the expanded line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// What was expanded.
    pub use_: VariableUse,
    /// The byte range of the substituted value in the expanded line.
    pub range: Range<usize>,
}

/// The variable table, as the preprocessor builds it from top to bottom.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    vars: BTreeMap<String, Var>,
}

impl Vars {
    /// The table FreeSWITCH starts with: `conf_dir` is the configuration
    /// folder, host built-ins are symbolic, `overrides` (from `--var`) win
    /// over everything, files included.
    pub fn new(conf_dir: &str, overrides: &[(String, String)]) -> Self {
        let mut vars = Vars::default();
        for name in HOST_BUILTINS {
            vars.insert(name, Var::builtin(symbol(name)));
        }
        vars.insert("conf_dir", Var::builtin(conf_dir.to_string()));
        for (name, value) in overrides {
            vars.insert(
                name,
                Var {
                    value: Some(value.clone()),
                    set_by: SetBy::CommandLine,
                    set_at: None,
                    unknown: None,
                },
            );
        }
        vars
    }

    fn insert(&mut self, name: &str, var: Var) {
        self.vars.insert(name.to_string(), var);
    }

    /// Records a directive's assignment; a `--var` override is kept instead.
    pub fn set(&mut self, name: &str, var: Var) {
        if self
            .get(name)
            .is_some_and(|v| v.set_by == SetBy::CommandLine)
        {
            return;
        }
        self.insert(name, var);
    }

    /// The variable, if set.
    pub fn get(&self, name: &str) -> Option<&Var> {
        self.vars.get(name)
    }

    /// Every variable, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Expands every `$${name}` in `line` (unknown ones to nothing, as
    /// FreeSWITCH does); `${name}` is left for run time. Returns the line,
    /// what was expanded, and whether a `$${` was left unterminated.
    pub fn expand(&self, line: &str) -> (String, Vec<Expansion>, bool) {
        if !line.contains("$${") {
            return (line.to_string(), Vec::new(), false);
        }
        let mut out = String::with_capacity(line.len());
        let mut found = Vec::new();
        let mut unterminated = false;
        let mut rest = line;
        while let Some(start) = rest.find("$${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 3..];
            let Some(end) = closing_brace(after) else {
                unterminated = true;
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let at = out.len();
            let use_ = match self.get(name) {
                Some(var) => {
                    out.push_str(var.value.as_deref().unwrap_or(""));
                    VariableUse {
                        name: name.to_string(),
                        set_by: Some(var.set_by),
                        set_at: var.set_at.clone(),
                        unknown_because: var.unknown,
                    }
                }
                None => VariableUse {
                    name: name.to_string(),
                    set_by: None,
                    set_at: None,
                    unknown_because: Some(Unknown::Undefined),
                },
            };
            found.push(Expansion {
                use_,
                range: at..out.len(),
            });
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        (out, found, unterminated)
    }
}

impl Var {
    fn builtin(value: String) -> Self {
        Var {
            value: Some(value),
            set_by: SetBy::Builtin,
            set_at: None,
            unknown: None,
        }
    }
}

/// The index of the `}` closing a `{` just before `s`, counting nested braces.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(vars: &mut Vars, name: &str, value: &str, line: u32) {
        vars.set(
            name,
            Var {
                value: Some(value.into()),
                set_by: SetBy::Set,
                set_at: Some(Location {
                    file: "vars.xml".into(),
                    line,
                }),
                unknown: None,
            },
        );
    }

    #[test]
    fn expands_known_unknown_and_runtime_variables() {
        let mut vars = Vars::new("/etc/freeswitch", &[]);
        set(&mut vars, "port", "5060", 7);
        let (out, exps, bad) =
            vars.expand(r#"a="$${port}" b="$${nope}" c="${runtime}" d=$${conf_dir}"#);
        assert_eq!(out, r#"a="5060" b="" c="${runtime}" d=/etc/freeswitch"#);
        assert!(!bad);
        assert_eq!(exps.len(), 3);
        assert_eq!(&out[exps[0].range.clone()], "5060");
        assert_eq!(exps[0].use_.set_at.as_ref().unwrap().line, 7);
        assert_eq!(exps[1].use_.unknown_because, Some(Unknown::Undefined));
        assert!(exps[1].range.is_empty());
    }

    #[test]
    fn host_builtins_stay_symbolic_unless_overridden() {
        let vars = Vars::new("/c", &[]);
        assert_eq!(vars.expand("$${local_ip_v4}").0, "$${local_ip_v4}");
        let vars = Vars::new("/c", &[("local_ip_v4".into(), "192.0.2.7".into())]);
        assert_eq!(vars.expand("$${local_ip_v4}").0, "192.0.2.7");
    }

    #[test]
    fn command_line_overrides_win_over_files() {
        let mut vars = Vars::new("/c", &[("port".into(), "6000".into())]);
        set(&mut vars, "port", "5060", 1);
        assert_eq!(vars.expand("$${port}").0, "6000");
    }

    #[test]
    fn unterminated_reference_is_kept_and_flagged() {
        let vars = Vars::new("/c", &[]);
        let (out, exps, bad) = vars.expand("x $${open");
        assert_eq!(out, "x $${open");
        assert!(exps.is_empty());
        assert!(bad);
    }
}
