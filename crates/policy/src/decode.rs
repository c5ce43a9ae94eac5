//! From TOML text to a [`RawPolicy`], with every problem the file has
//! rather than the first one serde stops at.
//!
//! serde gives up at the first unknown key or wrongly typed value, so an
//! admin fixing a policy would meet its mistakes one run at a time. Here
//! the text is parsed once into a spanned document ([`toml_edit`]); keys
//! that no table knows are reported and dropped (the known keys come from
//! the raw types themselves, see [`fields`], so the check cannot drift from
//! them); then the document is deserialized, and each value serde refuses
//! is reported and dropped in turn, until what is left deserializes. Only
//! a syntax error, which leaves no document, is necessarily alone.

use crate::error::ErrorKind;
use crate::raw::*;
use serde::de::{self, Deserialize, Visitor};
use std::fmt;
use std::ops::Range;
use toml_edit::{DocumentMut, ImDocument, Item, TableLike};

/// One problem, before it is placed in a file.
pub(crate) struct Problem {
    /// Byte range in the source.
    pub span: Range<usize>,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What decoding found.
pub(crate) struct Decoded {
    /// The policy as far as it could be read; `None` when nothing could
    /// (a syntax error).
    pub raw: Option<RawPolicy>,
    /// Dotted paths of the entries dropped for their problems: later
    /// checks stay quiet about their consequences (a dropped zone is not
    /// also an unknown one).
    pub dropped: Vec<Vec<String>>,
    /// The problems, in the order found.
    pub problems: Vec<Problem>,
}

/// More rounds than this and the file is reported as far as it got: every
/// round drops one entry, and no policy has thousands of broken ones.
const MAX_ROUNDS: usize = 100;

/// Reads `source` into a [`RawPolicy`], collecting every problem.
pub(crate) fn decode(source: &str) -> Decoded {
    let mut out = Decoded {
        raw: None,
        dropped: Vec::new(),
        problems: Vec::new(),
    };
    let doc = match ImDocument::parse(source) {
        Ok(doc) => doc,
        Err(e) => {
            out.problems.push(Problem {
                span: e.span().unwrap_or(0..0),
                // One line: the first line of a report is `file:line:col: message`.
                kind: ErrorKind::Syntax(
                    e.message()
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            });
            return out;
        }
    };
    let mut root = doc.as_table().clone();
    // A required key that was misspelt or dropped is also "missing": say
    // it once. (table path, key)
    let mut explained: Vec<(Vec<String>, String)> = Vec::new();
    unknown_keys(&mut root, &mut Vec::new(), &mut out, &mut explained);
    for _ in 0..MAX_ROUNDS {
        let e = match toml_edit::de::from_document::<RawPolicy>(DocumentMut::from(root.clone())) {
            Ok(raw) => {
                out.raw = Some(raw);
                return out;
            }
            Err(e) => e,
        };
        let message = e.message().trim().to_owned();
        let span = e.span().unwrap_or(0..0);
        let mut path = Vec::new();
        let removed = remove_at(&mut root, span.start, &mut path);
        let already = explained
            .iter()
            .any(|(table, key)| *table == path && message == format!("missing field `{key}`"));
        let word = known_words(&path).and_then(|words| {
            let value = unknown_word(removed.as_ref()?, words)?;
            Some(ErrorKind::UnknownWord {
                key: path.join("."),
                value,
                expected: words.to_vec(),
            })
        });
        if !already {
            out.problems.push(Problem {
                span,
                kind: word.unwrap_or_else(|| ErrorKind::WrongType {
                    key: path.join("."),
                    message: plain(&message),
                }),
            });
        }
        if removed.is_none() {
            return out;
        }
        if let Some((key, table)) = path.split_last() {
            explained.push((table.to_vec(), key.clone()));
        }
        out.dropped.push(path);
    }
    out.problems.push(Problem {
        span: 0..0,
        kind: ErrorKind::WrongType {
            key: String::new(),
            message: format!("more than {MAX_ROUNDS} problems; fix these first"),
        },
    });
    out
}

/// The keys a table at `path` may hold, or `None` where any name goes
/// (`[zones]`, `[services]`) or the value is not a table of ours.
fn known_keys(path: &[String]) -> Option<&'static [&'static str]> {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    Some(match path.as_slice() {
        [] => fields::<RawPolicy>(),
        ["services", _] => fields::<RawService>(),
        ["media"] => fields::<RawMedia>(),
        ["helpers"] => fields::<RawHelpers>(),
        ["helpers", "sip"] => fields::<RawSipHelper>(),
        ["helpers", "h323"] => fields::<RawH323Helper>(),
        ["dscp"] => fields::<RawDscp>(),
        ["log"] => fields::<RawLog>(),
        ["icmp"] => fields::<RawIcmp>(),
        ["forward"] => fields::<RawForward>(),
        ["bans"] => fields::<RawBans>(),
        ["iptables"] => fields::<RawIptables>(),
        ["guard"] => fields::<RawGuard>(),
        ["guard", "scanner"] => fields::<RawScanner>(),
        ["guard", "flood"] => fields::<RawFlood>(),
        ["guard", "brute_force"] => fields::<RawBruteForce>(),
        ["guard", "enumeration"] => fields::<RawEnumeration>(),
        ["guard", "malformed"] => fields::<RawMalformed>(),
        ["ledger"] => fields::<RawLedger>(),
        ["crowdsec"] => fields::<RawCrowdSec>(),
        ["feeds", _] => fields::<RawFeed>(),
        ["hep"] => fields::<RawHep>(),
        _ => return None,
    })
}

/// Reports and drops every key its table does not know, depth first.
fn unknown_keys(
    table: &mut dyn TableLike,
    path: &mut Vec<String>,
    out: &mut Decoded,
    explained: &mut Vec<(Vec<String>, String)>,
) {
    let known = known_keys(path);
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
    for key in keys {
        if let Some(known) = known.filter(|known| !known.contains(&key.as_str())) {
            let span = table
                .key(&key)
                .and_then(|k| k.span())
                .or_else(|| table.get(&key).and_then(Item::span))
                .unwrap_or(0..0);
            let kind = ErrorKind::UnknownKey {
                key: key.clone(),
                table: path.join("."),
                expected: known.to_vec(),
            };
            if let Some(meant) = crate::suggest::closest(&key, known.iter().copied()) {
                explained.push((path.clone(), meant.to_owned()));
            }
            out.problems.push(Problem { span, kind });
            table.remove(&key);
            let mut dropped = path.clone();
            dropped.push(key);
            out.dropped.push(dropped);
            continue;
        }
        if let Some(inner) = table.get_mut(&key).and_then(Item::as_table_like_mut) {
            path.push(key);
            unknown_keys(inner, path, out, explained);
            path.pop();
        } else if let Some(array) = table.get_mut(&key).and_then(Item::as_array_of_tables_mut) {
            // `[[feeds]]`: each entry is a table of its own, at `feeds.N`.
            path.push(key);
            for (i, inner) in array.iter_mut().enumerate() {
                path.push(i.to_string());
                unknown_keys(inner, path, out, explained);
                path.pop();
            }
            path.pop();
        }
    }
}

/// Drops the innermost entry at byte `at`, leaves its dotted path in
/// `path` and returns it; `None` when no entry is there.
fn remove_at(table: &mut dyn TableLike, at: usize, path: &mut Vec<String>) -> Option<Item> {
    let covers = |span: Option<Range<usize>>| {
        span.is_some_and(|s| s.contains(&at) || (s.is_empty() && s.start == at))
    };
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
    for key in keys {
        path.push(key.clone());
        if let Some(inner) = table.get_mut(&key).and_then(Item::as_table_like_mut) {
            if let Some(removed) = remove_at(inner, at, path) {
                return Some(removed);
            }
        } else if let Some(array) = table.get_mut(&key).and_then(Item::as_array_of_tables_mut) {
            for (i, inner) in array.iter_mut().enumerate() {
                path.push(i.to_string());
                if let Some(removed) = remove_at(inner, at, path) {
                    return Some(removed);
                }
                path.pop();
            }
            // A problem of one entry as a whole (a missing key) drops that
            // entry, not the whole array.
            let whole = array.iter().position(|t| covers(t.span()));
            if let Some(i) = whole {
                path.push(i.to_string());
                let entry = array.get(i).cloned().map(Item::Table);
                array.remove(i);
                return entry;
            }
        }
        let key_span = table.key(&key).and_then(|k| k.span());
        let item_span = table.get(&key).and_then(Item::span);
        if covers(key_span) || covers(item_span) {
            return table.remove(&key);
        }
        path.pop();
    }
    None
}

/// The words a value at `path` may be, for the values that are one of a
/// few words (asked of the types, like [`fields`]).
fn known_words(path: &[String]) -> Option<&'static [&'static str]> {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match path.as_slice() {
        ["media", "mode"] => Some(names::<RawMediaMode>()),
        ["guard", "mode"] => Some(names::<RawGuardMode>()),
        ["feeds", _, "kind"] => Some(names::<RawFeedKind>()),
        ["services", _, "protocols"] => Some(names::<crate::port::Protocol>()),
        _ => None,
    }
}

/// The first word in `item` (a string, or an array of them) that is not
/// one of `words`.
fn unknown_word(item: &Item, words: &[&str]) -> Option<String> {
    let value = item.as_value()?;
    let strings: Vec<&str> = match value.as_array() {
        Some(array) => array.iter().filter_map(|v| v.as_str()).collect(),
        None => vec![value.as_str()?],
    };
    strings
        .into_iter()
        .find(|s| !words.contains(s))
        .map(str::to_owned)
}

/// serde's words for TOML's: a "sequence" is an array, a "map" a table.
fn plain(message: &str) -> String {
    message
        .replace("expected i64", "expected an integer")
        .replace("a sequence", "an array")
        .replace("sequence", "array")
        .replace("a map", "a table")
        .replace("invalid type: map", "invalid type: table")
        .replace(
            "data did not match any variant of untagged enum RawPort",
            "expected a port number or a \"first-last\" range in quotes",
        )
}

/// The field names of a struct that serde derives `Deserialize` for, asked
/// of the type itself: its `deserialize_struct` call names them.
pub(crate) fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    names::<T>()
}

/// The field names of a struct, or the variant names of an enum, that
/// serde derives `Deserialize` for.
fn names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(FieldNames) {
        Err(Asked::Names(f)) => f,
        _ => &[],
    }
}

/// A deserializer that only records the names a struct or enum asks for.
struct FieldNames;

/// How [`FieldNames`] ends: with the names, or with nothing for a type
/// that is neither a struct nor an enum.
#[derive(Debug)]
enum Asked {
    Names(&'static [&'static str]),
    NotAStruct,
}

impl fmt::Display for Asked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field names asked")
    }
}

impl std::error::Error for Asked {}

impl de::Error for Asked {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Asked::NotAStruct
    }
}

impl<'de> de::Deserializer<'de> for FieldNames {
    type Error = Asked;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Asked> {
        Err(Asked::NotAStruct)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Asked> {
        Err(Asked::Names(fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Asked> {
        Err(Asked::Names(variants))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_keys_are_the_raw_types_fields() {
        assert_eq!(
            fields::<RawService>(),
            &["kind", "ports", "protocols", "allow"]
        );
        assert!(fields::<RawGuard>().contains(&"brute_force"));
        assert!(fields::<RawPolicy>().contains(&"ledger"));
        assert_eq!(names::<RawMediaMode>(), &["range", "helper", "pinhole"]);
        assert_eq!(names::<crate::port::Protocol>(), &["udp", "tcp"]);
    }
}
