//! The XML grammar of FreeSWITCH's `src/switch_xml.c` (an ezXML
//! descendant): what it accepts becomes a tree, what it refuses is refused
//! with its words.
//!
//! A conforming XML parser is stricter than FreeSWITCH, and reading a
//! configuration more strictly than the server means refusing trees that
//! really run. switch_xml.c accepts, and so does this reader:
//! - a bare `&` or `<` (and `>`) inside a quoted attribute value; an
//!   unknown `&name;` stays as written;
//! - any tag name starting with a letter, `_`, `:` or a non-ASCII byte and
//!   running to whitespace, `/` or `>`: `<x:foo>` is the element `x:foo`,
//!   no namespace is looked up;
//! - attributes with no space between them (`a="1"b="2"`), with no value
//!   (`<t flag>` is `flag=""`), repeated (the first one is what
//!   `switch_xml_attr` returns);
//! - anything after a closing tag's name up to the next character
//!   (`</a x>` closes `a`).
//!
//! It refuses what switch_xml.c refuses, with the same reason: `unexpected
//! <`, `missing >`, `missing "`, `unclosed <!--`, `unexpected closing tag
//! </x>`, `unclosed tag <x>`, `markup outside of root element`, `root tag
//! missing`, `circular entity declaration &x;`.
//!
//! Internal `<!ENTITY>` declarations are expanded as switch_xml.c does
//! (unless `xml_disable_dtd` is true), with its limits on declarations
//! (depth 20, 10 000 references checked); `<!ATTLIST>` defaults are not
//! applied. This reader adds bounds of its own, refusing what FreeSWITCH
//! would swallow: elements nested deeper than [`MAX_DEPTH`] and an attribute
//! value expanding beyond [`MAX_VALUE`] bytes.

use std::ops::Range;

/// Elements nested deeper than this are refused (switch_xml.c has no limit).
pub const MAX_DEPTH: usize = 1024;
/// An attribute value growing past this many bytes by entity expansion is refused.
pub const MAX_VALUE: usize = 1 << 20;
/// Bytes moved by entity and character reference decoding in one
/// document before it is refused: each replacement shifts the rest of the value.
const MAX_WORK: usize = 256 << 20;
/// switch_xml.c's `SWITCH_XML_MAX_ENTITY_EXPANSION_DEPTH`.
const ENTITY_DEPTH: usize = 20;
/// switch_xml.c's `SWITCH_XML_MAX_ENTITY_EXPANSION_COUNT`.
const ENTITY_COUNT: usize = 10_000;
/// switch_xml.c's `SWITCH_XML_WS`.
const WS: &[u8] = b"\t\r\n ";
/// What `&lt;` and friends stand for before any `<!ENTITY>`: switch_xml_new's list.
const BUILTIN: [(&[u8], &[u8]); 5] = [
    (b"lt;", b"&#60;"),
    (b"gt;", b"&#62;"),
    (b"quot;", b"&#34;"),
    (b"apos;", b"&#39;"),
    (b"amp;", b"&#38;"),
];

/// Why the text is not a document FreeSWITCH would load, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset in the text switch_xml.c would blame.
    pub offset: usize,
    /// switch_xml.c's reason (or this reader's, for its own bounds).
    pub message: String,
}

/// One attribute as written and as decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The name, everything up to whitespace, `=`, `/` or `>`.
    pub name: String,
    /// The value after entity and character references and whitespace normalisation.
    pub value: String,
    /// Where the raw value sits in the text (empty when there is none).
    pub range: Range<usize>,
}

#[derive(Debug)]
struct Element {
    name: String,
    start: usize,
    attributes: Vec<Attribute>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// The elements of a parsed document; the first is the root.
#[derive(Debug)]
pub struct Tree {
    elements: Vec<Element>,
}

/// An element of a [`Tree`].
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    tree: &'a Tree,
    id: usize,
}

impl Tree {
    /// The root element.
    pub fn root(&self) -> Node<'_> {
        Node { tree: self, id: 0 }
    }
}

impl<'a> Node<'a> {
    fn element(&self) -> &'a Element {
        &self.tree.elements[self.id]
    }

    /// The tag name exactly as written, prefix included.
    pub fn tag_name(&self) -> &'a str {
        &self.element().name
    }

    /// Whether the tag name is `name` (byte for byte, as `switch_xml_child` compares).
    pub fn has_tag_name(&self, name: &str) -> bool {
        self.element().name == name
    }

    /// The first attribute called `name`, as `switch_xml_attr` finds it.
    pub fn attribute_node(&self, name: &str) -> Option<&'a Attribute> {
        self.element().attributes.iter().find(|a| a.name == name)
    }

    /// The decoded value of the first attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&'a str> {
        self.attribute_node(name).map(|a| a.value.as_str())
    }

    /// The child elements in document order.
    pub fn children(&self) -> impl DoubleEndedIterator<Item = Node<'a>> + 'a {
        let tree = self.tree;
        self.element()
            .children
            .iter()
            .map(move |&id| Node { tree, id })
    }

    /// The enclosing element, `None` for the root.
    pub fn parent(&self) -> Option<Node<'a>> {
        self.element().parent.map(|id| Node {
            tree: self.tree,
            id,
        })
    }

    /// Byte offset of the element's `<` in the text.
    pub fn start(&self) -> usize {
        self.element().start
    }
}

/// Parses `text` as switch_xml_parse_str does. `dtd` is false when
/// FreeSWITCH's `xml_disable_dtd` is true.
pub fn parse(text: &str, dtd: bool) -> Result<Tree, SyntaxError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(err(0, "root tag missing"));
    }
    // switch_xml.c turns the last byte into the terminator and remembers it:
    // a document may end on its final '>' with nothing after it.
    let last = bytes[bytes.len() - 1];
    let mut body = &bytes[..bytes.len() - 1];
    if let Some(nul) = memchr::memchr(0, body) {
        body = &body[..nul];
    }
    Parser {
        b: body,
        last,
        dtd,
        entities: BUILTIN
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect(),
        standalone: false,
        work: 0,
        elements: Vec::new(),
        open: Vec::new(),
        closed: false,
    }
    .run()
}

fn err(offset: usize, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        offset,
        message: message.into(),
    }
}

/// C's `isspace` in the C locale, which switch_xml.c mixes with [`WS`].
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A NUL-terminated view: past the end reads as 0, as C's string walks do.
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn cspn(b: &[u8], from: usize, set: &[u8]) -> usize {
    b.get(from..)
        .unwrap_or_default()
        .iter()
        .position(|c| set.contains(c))
        .unwrap_or(b.len().saturating_sub(from))
}

fn spn(b: &[u8], from: usize, set: &[u8]) -> usize {
    b.get(from..)
        .unwrap_or_default()
        .iter()
        .position(|c| !set.contains(c))
        .unwrap_or(b.len().saturating_sub(from))
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Parser<'t> {
    b: &'t [u8],
    last: u8,
    dtd: bool,
    /// General entities, names with their ';', builtins first as in switch_xml.c.
    entities: Vec<(Vec<u8>, Vec<u8>)>,
    standalone: bool,
    /// Bytes moved so far by reference decoding, against [`MAX_WORK`].
    work: usize,
    elements: Vec<Element>,
    open: Vec<usize>,
    closed: bool,
}

impl Parser<'_> {
    fn c(&self, i: usize) -> u8 {
        at(self.b, i)
    }

    /// At the end of the buffer, the remembered last byte stands in for `ch`.
    fn ends_with(&self, i: usize, ch: u8) -> bool {
        self.c(i) == ch || (self.c(i) == 0 && self.last == ch)
    }

    fn run(mut self) -> Result<Tree, SyntaxError> {
        let b = self.b;
        let Some(mut s) = memchr::memchr(b'<', b) else {
            return Err(err(b.len(), "root tag missing"));
        };
        let mut d;
        loop {
            s += 1;
            d = s;
            let c = self.c(s);
            if c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80 {
                s = self.tag(d)?;
            } else if c == b'/' {
                d = s + 1;
                s = d + cspn(b, d, b"\t\r\n >");
                let q = self.c(s);
                if q == 0 && self.last != b'>' {
                    return Err(err(d, "missing >"));
                }
                self.close(&b[d..s], d)?;
                if c_space(q) {
                    s += spn(b, s, WS);
                }
            } else if b[s..].starts_with(b"!--") {
                let closed = find(b, s + 3, b"--").map(|i| i + 2);
                match closed {
                    Some(i) if self.ends_with(i, b'>') => s = i,
                    _ => return Err(err(d, "unclosed <!--")),
                }
            } else if b[s..].starts_with(b"![CDATA[") {
                match find(b, s, b"]]>") {
                    Some(i) => s = i + 2,
                    None => return Err(err(d, "unclosed <![CDATA[")),
                }
            } else if b[s..].starts_with(b"!DOCTYPE") {
                s = self.doctype(d)?;
            } else if c == b'?' {
                s = self.processing_instruction(d)?;
            } else {
                return Err(err(d, "unexpected <"));
            }
            // `s` is on the tag's '>' (or whatever switch_xml.c takes for it).
            if self.c(s) == 0 {
                break;
            }
            s += 1;
            d = s;
            s += cspn(b, s, b"<");
            if self.c(s) == 0 {
                break;
            }
        }
        if self.closed {
            Ok(Tree {
                elements: self.elements,
            })
        } else if let Some(&open) = self.open.last() {
            Err(err(
                d,
                format!("unclosed tag <{}>", self.elements[open].name),
            ))
        } else {
            Err(err(d, "root tag missing"))
        }
    }

    /// An opening or self-closing tag whose name starts at `d`; returns the
    /// position of its '>'.
    fn tag(&mut self, d: usize) -> Result<usize, SyntaxError> {
        let b = self.b;
        if self.closed {
            return Err(err(d, "markup outside of root element"));
        }
        let mut s = d + cspn(b, d, b"\t\r\n />");
        let name = lossy(&b[d..s]);
        while c_space(self.c(s)) {
            s += 1;
        }
        let mut attributes = Vec::new();
        while !matches!(self.c(s), 0 | b'/' | b'>') {
            let from = s;
            s += cspn(b, s, b"\t\r\n =/>");
            let mut attribute = Attribute {
                name: lossy(&b[from..s]),
                value: String::new(),
                range: s..s,
            };
            if self.c(s) == b'=' || c_space(self.c(s)) {
                s += 1;
                s += spn(b, s, b"\t\r\n =");
                let q = self.c(s);
                if q == b'"' || q == b'\'' {
                    s += 1;
                    let start = s;
                    s += cspn(b, s, &[q]);
                    if self.c(s) == 0 {
                        return Err(err(d, format!("missing {}", q as char)));
                    }
                    attribute.range = start..s;
                    attribute.value = self.decode(&b[start..s], b' ').map_err(|m| err(start, m))?;
                    s += 1;
                }
            }
            while c_space(self.c(s)) {
                s += 1;
            }
            attributes.push(attribute);
        }
        let self_closing = self.c(s) == b'/';
        if self_closing {
            s += 1;
            if !self.ends_with(s, b'>') {
                return Err(err(d, "missing >"));
            }
        } else if !self.ends_with(s, b'>') {
            return Err(err(d, "missing >"));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(err(
                d,
                format!("elements nested deeper than {MAX_DEPTH} (sipwall's limit)"),
            ));
        }
        let id = self.elements.len();
        let parent = self.open.last().copied();
        self.elements.push(Element {
            name,
            start: d - 1,
            attributes,
            parent,
            children: Vec::new(),
        });
        if let Some(p) = parent {
            self.elements[p].children.push(id);
        }
        self.open.push(id);
        if self_closing {
            self.pop();
        }
        Ok(s)
    }

    fn close(&mut self, name: &[u8], d: usize) -> Result<(), SyntaxError> {
        match self.open.last() {
            Some(&open) if self.elements[open].name == lossy(name) => {
                self.pop();
                Ok(())
            }
            _ => Err(err(d, format!("unexpected closing tag </{}>", lossy(name)))),
        }
    }

    fn pop(&mut self) {
        self.open.pop();
        if self.open.is_empty() {
            self.closed = true;
        }
    }

    /// `<?target ...?>`; only `<?xml standalone="yes"?>` matters here.
    fn processing_instruction(&mut self, d: usize) -> Result<usize, SyntaxError> {
        let b = self.b;
        let mut s = d;
        loop {
            match memchr::memchr(b'?', &b[s.min(b.len())..]) {
                None => return Err(err(d, "unclosed <?")),
                Some(i) => s += i + 1,
            }
            if matches!(self.c(s), 0 | b'>') {
                break;
            }
        }
        if !self.ends_with(s, b'>') {
            return Err(err(d, "unclosed <?"));
        }
        let body = &b[d + 1..s.saturating_sub(1).max(d + 1)];
        let target_end = cspn(body, 0, WS);
        if &body[..target_end] == b"xml" {
            if let Some(i) = find(body, 0, b"standalone") {
                let v = i + 10 + spn(body, i + 10, b"\t\r\n ='\"");
                self.standalone = body[v..].starts_with(b"yes");
            }
        }
        Ok(s)
    }

    /// `<!DOCTYPE ...>` with an optional internal subset; returns the
    /// position switch_xml.c continues from.
    fn doctype(&mut self, d: usize) -> Result<usize, SyntaxError> {
        let b = self.b;
        let mut s = d;
        let mut subset = false;
        loop {
            let c = self.c(s);
            let done = c == 0
                || (!subset && c == b'>')
                || (subset && c == b']' && self.c(s + 1 + spn(b, s + 1, WS)) == b'>');
            if done {
                break;
            }
            s += cspn(b, s + 1, b"[]>") + 1;
            if self.c(s) == b'[' {
                subset = true;
            }
        }
        if self.c(s) == 0 && self.last != b'>' {
            return Err(err(d, "unclosed <!DOCTYPE"));
        }
        if subset {
            let open = d + cspn(b, d, b"[") + 1;
            self.internal_subset(open, s.max(open))?;
            s += 1;
        }
        Ok(s)
    }

    fn internal_subset(&mut self, from: usize, to: usize) -> Result<(), SyntaxError> {
        let sub = &self.b[from..to];
        let mut params: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut s = 0;
        loop {
            s += cspn(sub, s, b"<%");
            if at(sub, s) == 0 {
                return Ok(());
            }
            if self.dtd && sub[s..].starts_with(b"<!ENTITY") {
                s += 8;
                s += spn(sub, s, WS);
                let parameter = at(sub, s) == b'%';
                let n = s + spn(sub, s, b"\t\r\n %");
                let name_end = n + cspn(sub, n, WS);
                if at(sub, name_end) == 0 {
                    return Ok(());
                }
                let mut v = name_end + 1 + spn(sub, name_end + 1, WS);
                let q = at(sub, v);
                v += 1;
                if q != b'"' && q != b'\'' {
                    // An external entity: switch_xml.c skips it.
                    match memchr::memchr(b'>', &sub[name_end..]) {
                        Some(i) => {
                            s = name_end + i;
                            continue;
                        }
                        None => return Ok(()),
                    }
                }
                let mut name = sub[n..name_end].to_vec();
                name.push(b';');
                let value_end = memchr::memchr(q, &sub[v.min(sub.len())..]).map(|i| v + i);
                let raw = &sub[v.min(sub.len())..value_end.unwrap_or(sub.len())];
                let value =
                    expand(raw, b'%', &params, &mut self.work).map_err(|m| err(from + v, m))?;
                let list = if parameter {
                    &mut params
                } else {
                    &mut self.entities
                };
                let mut count = 0;
                if !entity_ok(&name, &value, list, 0, &mut count) {
                    return Err(err(
                        from + v,
                        format!("circular entity declaration &{}", lossy(&name)),
                    ));
                }
                list.push((name, value));
                match value_end {
                    Some(i) => s = i + 1,
                    None => return Ok(()),
                }
            } else if sub[s..].starts_with(b"<!--") {
                match find(sub, s + 4, b"-->") {
                    Some(i) => s = i,
                    None => return Ok(()),
                }
            } else if sub[s..].starts_with(b"<?") {
                match find(sub, s + 2, b"?>") {
                    Some(i) => s = i + 1,
                    None => return Ok(()),
                }
            } else if sub[s] == b'<' {
                // <!ATTLIST> (defaults not applied), <!ELEMENT>, <!NOTATION>, ...
                match memchr::memchr(b'>', &sub[s..]) {
                    Some(i) => s += i,
                    None => return Ok(()),
                }
            } else {
                s += 1;
                // A parameter entity reference: switch_xml.c stops reading
                // declarations unless the document is standalone.
                if !self.standalone {
                    return Ok(());
                }
            }
        }
    }

    fn decode(&mut self, raw: &[u8], mode: u8) -> Result<String, String> {
        expand(raw, mode, &self.entities, &mut self.work).map(|v| lossy(&v))
    }
}

/// switch_xml_ent_ok: a declaration that refers to itself, or whose
/// references go deeper or wider than switch_xml.c checks, is refused.
fn entity_ok(
    name: &[u8],
    value: &[u8],
    list: &[(Vec<u8>, Vec<u8>)],
    depth: usize,
    count: &mut usize,
) -> bool {
    if depth > ENTITY_DEPTH {
        return false;
    }
    for (i, _) in value.iter().enumerate().filter(|(_, &c)| c == b'&') {
        *count += 1;
        if *count > ENTITY_COUNT {
            return false;
        }
        let rest = &value[i + 1..];
        if rest.starts_with(name) {
            return false;
        }
        if let Some((_, v)) = list.iter().find(|(n, _)| rest.starts_with(n)) {
            if !entity_ok(name, v, list, depth + 1, count) {
                return false;
            }
        }
    }
    true
}

/// switch_xml_decode: `mode` b' ' for an attribute value (references and
/// whitespace), b'%' for an entity declaration (character and parameter
/// references). A replacement is read again, so entities nest.
fn expand(
    raw: &[u8],
    mode: u8,
    list: &[(Vec<u8>, Vec<u8>)],
    work: &mut usize,
) -> Result<Vec<u8>, String> {
    let mut r = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' {
            r.push(b'\n');
            i += 1;
            if raw.get(i) == Some(&b'\n') {
                i += 1;
            }
        } else {
            r.push(raw[i]);
            i += 1;
        }
    }
    let mut s = 0;
    let spend = |work: &mut usize, moved: usize| {
        *work = work.saturating_add(moved);
        if *work > MAX_WORK {
            Err(format!(
                "entity and character references move more than {MAX_WORK} bytes (sipwall's limit)"
            ))
        } else {
            Ok(())
        }
    };
    loop {
        while s < r.len() && r[s] != b'&' && !(mode == b'%' && r[s] == b'%') && !c_space(r[s]) {
            s += 1;
        }
        if s >= r.len() {
            return Ok(r);
        }
        if r[s..].starts_with(b"&#") {
            match char_ref(&r, s + 2) {
                Some((bytes, semicolon)) => {
                    spend(work, r.len() - s)?;
                    let n = bytes.len();
                    r.splice(s..=semicolon, bytes);
                    s += n;
                }
                None => s += 1,
            }
        } else if (r[s] == b'&' && mode == b' ') || (r[s] == b'%' && mode == b'%') {
            let rest = &r[s + 1..];
            let found = list.iter().find(|(n, _)| rest.starts_with(n));
            match (found, memchr::memchr(b';', rest)) {
                (Some((_, value)), Some(semicolon)) => {
                    spend(work, r.len() - s + value.len())?;
                    if r.len() + value.len() > MAX_VALUE {
                        return Err(format!(
                            "entity expansion beyond {MAX_VALUE} bytes (sipwall's limit)"
                        ));
                    }
                    r.splice(s..=s + 1 + semicolon, value.iter().copied());
                }
                _ => s += 1,
            }
        } else if mode == b' ' && c_space(r[s]) {
            r[s] = b' ';
            s += 1;
        } else {
            s += 1;
        }
    }
}

/// `&#NN;` or `&#xHH;` from the digits at `code`: the bytes switch_xml.c
/// writes and the position of the `;`, or `None` where it leaves the text.
fn char_ref(r: &[u8], code: usize) -> Option<(Vec<u8>, usize)> {
    let (mut i, base) = if at(r, code) == b'x' {
        (code + 1, 16)
    } else {
        (code, 10)
    };
    if !at(r, i).is_ascii_hexdigit() {
        return None;
    }
    // strtoul takes a 0x prefix in base 16.
    if base == 16
        && at(r, i) == b'0'
        && matches!(at(r, i + 1), b'x' | b'X')
        && at(r, i + 2).is_ascii_hexdigit()
    {
        i += 2;
    }
    let mut c: u64 = 0;
    while let Some(digit) = (at(r, i) as char).to_digit(base) {
        c = c
            .saturating_mul(u64::from(base))
            .saturating_add(u64::from(digit));
        i += 1;
    }
    if c == 0 || at(r, i) != b';' || c > 0x7FFF_FFFF {
        return None;
    }
    let bytes = if c < 0x80 {
        vec![c as u8]
    } else {
        // switch_xml.c's own UTF-8 writer, which goes up to six bytes.
        let bits = 64 - c.leading_zeros() as u64;
        let mut n = (bits - 2) / 5;
        let mut out = vec![((0xFFu64 << (7 - n)) | (c >> (6 * n))) as u8];
        while n > 0 {
            n -= 1;
            out.push((0x80 | ((c >> (6 * n)) & 0x3F)) as u8);
        }
        out
    };
    Some((bytes, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Tree {
        parse(text, true).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    fn refused(text: &str) -> SyntaxError {
        match parse(text, true) {
            Ok(_) => panic!("{text:?} parsed"),
            Err(e) => e,
        }
    }

    fn attr(tree: &Tree, name: &str) -> String {
        tree.root()
            .children()
            .next()
            .and_then(|n| n.attribute(name))
            .unwrap_or_else(|| panic!("no {name}"))
            .to_string()
    }

    #[test]
    fn a_bare_ampersand_or_angle_bracket_in_a_value_is_read_as_freeswitch_reads_it() {
        let t = ok(r#"<document><p value="a&b<c>d &unknown; &lt;&amp;lt;"/></document>"#);
        assert_eq!(attr(&t, "value"), "a&b<c>d &unknown; <&lt;");
    }

    #[test]
    fn a_prefixed_tag_name_is_an_element_of_that_name() {
        let t = ok(r#"<document><x:foo a="1"/></document>"#);
        assert_eq!(t.root().children().next().unwrap().tag_name(), "x:foo");
    }

    #[test]
    fn attributes_without_a_space_between_them_are_both_read() {
        let t = ok(r#"<document><p a="1"b='2' flag c = "3" a="dup"/></document>"#);
        assert_eq!(attr(&t, "a"), "1");
        assert_eq!(attr(&t, "b"), "2");
        assert_eq!(attr(&t, "flag"), "");
        assert_eq!(attr(&t, "c"), "3");
    }

    #[test]
    fn whitespace_in_a_value_becomes_spaces_and_character_references_decode() {
        let t = ok("<document><p v=\"a\tb\r\nc&#65;&#x42;&#x0x43;&#233;&#0;&#-1;\"/></document>");
        assert_eq!(attr(&t, "v"), "a b cABCé&#0;&#-1;");
    }

    #[test]
    fn a_document_may_end_on_its_last_angle_bracket() {
        ok("<document/>");
        ok("<?xml version=\"1.0\"?><document></document>");
        ok("<document><!-- c --></document>  \n<!-- after -->");
    }

    #[test]
    fn a_closing_tag_takes_anything_up_to_one_character_after_its_name() {
        let t = ok("<document><a></a x></document>");
        assert_eq!(t.root().children().count(), 1);
    }

    #[test]
    fn refusals_use_switch_xml_c_words_and_offsets() {
        let cases: [(&str, &str, usize); 11] = [
            ("<document><1a/></document>", "unexpected <", 11),
            ("<document>< a/></document>", "unexpected <", 11),
            ("<document><a b=\"1></document>", "missing \"", 11),
            ("<document><a b/c></document>", "missing >", 11),
            (
                "<document><a></b></document>",
                "unexpected closing tag </b>",
                15,
            ),
            ("<document><a>", "unclosed tag <a>", 11),
            ("<document/><extra/>", "markup outside of root element", 12),
            ("<document><!-- a -- b --></document>", "unclosed <!--", 11),
            ("<document><![CDATA[x</document>", "unclosed <![CDATA[", 11),
            ("<?xml?>\n<!-- none -->\n", "root tag missing", 21),
            ("text only\n", "root tag missing", 9),
        ];
        for (text, message, offset) in cases {
            let e = refused(text);
            assert_eq!(
                (e.message.as_str(), e.offset),
                (message, offset),
                "{text:?}"
            );
        }
    }

    #[test]
    fn entities_nest_and_a_circular_or_laughing_declaration_is_refused() {
        let t = ok(
            r#"<!DOCTYPE document [ <!ENTITY a "x&b;y"> <!ENTITY b "&#38;lt;"> ]><document><p v="&a;"/></document>"#,
        );
        // `a` was declared before `b`, and expanding it reads `b` again.
        assert_eq!(attr(&t, "v"), "x<y");
        let e = refused(r#"<!DOCTYPE d [ <!ENTITY a "&b;"> <!ENTITY b "&a;"> ]><d/>"#);
        assert_eq!(e.message, "circular entity declaration &b;");
        let mut dtd = String::from("<!DOCTYPE d [ <!ENTITY l0 \"lol\">");
        for i in 1..10 {
            let refs = format!("&l{};", i - 1).repeat(10);
            dtd.push_str(&format!("<!ENTITY l{i} \"{refs}\">"));
        }
        dtd.push_str("]><d v=\"&l9;\"/>");
        let e = refused(&dtd);
        assert!(
            e.message.starts_with("circular entity declaration &l"),
            "{e:?}"
        );
    }

    #[test]
    fn a_disabled_dtd_leaves_entities_as_written() {
        let t = parse(
            r#"<!DOCTYPE d [ <!ENTITY a "x"> ]><d><p v="&a;"/></d>"#,
            false,
        )
        .unwrap();
        assert_eq!(attr(&t, "v"), "&a;");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let e = refused(&deep);
        assert!(e.message.contains("sipwall's limit"), "{e:?}");
    }

    #[test]
    fn expansion_is_bounded() {
        let mut dtd = String::from("<!DOCTYPE d [ <!ENTITY l0 \"");
        dtd.push_str(&"x".repeat(200_000));
        dtd.push_str("\"> <!ENTITY l1 \"&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;\">]><d v=\"&l1;\"/>");
        let e = refused(&dtd);
        assert!(e.message.contains("sipwall's limit"), "{e:?}");
    }
}
