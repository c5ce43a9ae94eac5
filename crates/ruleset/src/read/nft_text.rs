//! `nft list ruleset` text: tables with their chains, rules, sets and
//! `ct helper` objects. Sets' contents are not needed (rules that use a
//! named set are opaque), so their blocks are skipped.

use super::error::ReadError;
use super::existing::{Base, Cond, Covers, ExistingChain, Location, SetInfo, Step, TableFamily};
use super::link::link;
use super::literal::parse_rate;
use super::nft_expr::{conds, Elem, Selector};
use super::statement::{rules_of, xt_target, HelperObjects};
use crate::ir::{Action, Match};

/// Reads a text listing; `source` names it in locations.
pub fn parse(source: &str, text: &str) -> Result<super::Existing, ReadError> {
    let toks = tokenize(text)?;
    let mut p = Parser {
        toks,
        i: 0,
        helpers: HelperObjects::default(),
        chains: Vec::new(),
        sets: Vec::new(),
        source,
    };
    p.top()?;
    Ok(link(
        source,
        p.chains,
        Covers { v4: true, v6: true },
        p.sets,
    ))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum T {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
    Semi,
    Newline,
}

#[derive(Debug, Clone)]
struct Tok {
    t: T,
    line: u32,
    col: u32,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, ReadError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let col = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let tok = |t| Tok {
                t,
                line: line_no,
                col,
            };
            match c {
                c if c.is_whitespace() => i += 1,
                '#' => break,
                '{' | '}' | ',' | ';' => {
                    out.push(tok(match c {
                        '{' => T::Open,
                        '}' => T::Close,
                        ',' => T::Comma,
                        _ => T::Semi,
                    }));
                    i += 1;
                }
                '"' => {
                    let mut s = String::new();
                    i += 1;
                    let mut closed = false;
                    while i < chars.len() {
                        match chars[i] {
                            '\\' if i + 1 < chars.len() => {
                                s.push(chars[i + 1]);
                                i += 2;
                                continue;
                            }
                            '"' => {
                                closed = true;
                                i += 1;
                                break;
                            }
                            c => s.push(c),
                        }
                        i += 1;
                    }
                    if !closed {
                        return Err(ReadError::at(line_no, col, "unterminated quoted string"));
                    }
                    out.push(tok(T::Str(s)));
                }
                _ => {
                    let start = i;
                    while i < chars.len()
                        && !chars[i].is_whitespace()
                        && !matches!(chars[i], '{' | '}' | ',' | ';' | '"')
                    {
                        i += 1;
                    }
                    out.push(tok(T::Word(chars[start..i].iter().collect())));
                }
            }
        }
        out.push(Tok {
            t: T::Newline,
            line: line_no,
            col: u32::try_from(chars.len() + 1).unwrap_or(u32::MAX),
        });
    }
    Ok(out)
}

struct Parser<'s> {
    toks: Vec<Tok>,
    i: usize,
    helpers: HelperObjects,
    chains: Vec<ExistingChain>,
    sets: Vec<SetInfo>,
    source: &'s str,
}

/// Words that start a statement of a rule, so an unknown expression ends there.
const STATEMENTS: &[&str] = &[
    "iif",
    "iifname",
    "oif",
    "oifname",
    "meta",
    "ip",
    "ip6",
    "tcp",
    "udp",
    "th",
    "icmp",
    "icmpv6",
    "ct",
    "limit",
    "log",
    "counter",
    "accept",
    "drop",
    "reject",
    "return",
    "continue",
    "jump",
    "goto",
    "queue",
    "xt",
    "notrack",
    "masquerade",
    "snat",
    "dnat",
    "redirect",
    "comment",
];

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn word(&self) -> Option<&str> {
        match self.peek().map(|t| &t.t) {
            Some(T::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn err(&self, msg: impl Into<String>) -> ReadError {
        let (line, col) = self
            .peek()
            .or(self.toks.last())
            .map_or((1, 1), |t| (t.line, t.col));
        ReadError::at(line, col, msg)
    }

    fn next_word(&mut self, what: &str) -> Result<String, ReadError> {
        match self.peek().map(|t| t.t.clone()) {
            Some(T::Word(w)) | Some(T::Str(w)) => {
                self.i += 1;
                Ok(w)
            }
            _ => Err(self.err(format!("expected {what}"))),
        }
    }

    fn expect(&mut self, t: T, what: &str) -> Result<(), ReadError> {
        if self.peek().map(|x| &x.t) == Some(&t) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected {what}")))
        }
    }

    fn skip_blank(&mut self) {
        while matches!(self.peek().map(|t| &t.t), Some(T::Newline | T::Semi)) {
            self.i += 1;
        }
    }

    /// Skips a `{ ... }` block, nested blocks included.
    fn skip_block(&mut self) -> Result<(), ReadError> {
        self.expect(T::Open, "`{`")?;
        let mut depth = 1;
        while let Some(t) = self.peek() {
            match t.t {
                T::Open => depth += 1,
                T::Close => depth -= 1,
                _ => {}
            }
            self.i += 1;
            if depth == 0 {
                return Ok(());
            }
        }
        Err(self.err("unclosed `{`"))
    }

    fn skip_line(&mut self) {
        let mut depth = 0;
        while let Some(t) = self.peek() {
            match t.t {
                T::Open => depth += 1,
                T::Close if depth == 0 => return,
                T::Close => depth -= 1,
                T::Newline | T::Semi if depth == 0 => return,
                _ => {}
            }
            self.i += 1;
        }
    }

    fn top(&mut self) -> Result<(), ReadError> {
        loop {
            self.skip_blank();
            if self.peek().is_none() {
                return Ok(());
            }
            if self.word() != Some("table") {
                return Err(self.err("expected `table FAMILY NAME {`"));
            }
            self.i += 1;
            let family = self.next_word("a table family")?;
            let name = self.next_word("a table name")?;
            self.expect(T::Open, "`{` after the table name")?;
            self.table(&family, &name)?;
        }
    }

    fn table(&mut self, family: &str, table: &str) -> Result<(), ReadError> {
        loop {
            self.skip_blank();
            let Some(tok) = self.peek().cloned() else {
                return Err(self.err(format!("table {family} {table} is not closed")));
            };
            match tok.t {
                T::Close => {
                    self.i += 1;
                    return Ok(());
                }
                T::Word(w) if w == "chain" => {
                    self.i += 1;
                    let name = self.next_word("a chain name")?;
                    self.expect(T::Open, "`{` after the chain name")?;
                    self.chain(family, table, &name)?;
                }
                T::Word(w) if w == "ct" => {
                    self.i += 1;
                    let what = self.next_word("helper, timeout or expectation")?;
                    let name = self.next_word("an object name")?;
                    if what == "helper" {
                        self.helper(family, table, &name)?;
                    } else {
                        self.skip_block()?;
                    }
                }
                T::Word(w) if matches!(w.as_str(), "set" | "map") => {
                    self.i += 1;
                    let name = self.next_word("a set name")?;
                    let start = self.i;
                    self.skip_block()?;
                    let words = || {
                        self.toks[start..self.i].iter().filter_map(|t| match &t.t {
                            T::Word(w) => Some(w.as_str()),
                            _ => None,
                        })
                    };
                    let dynamic = words().any(|w| w == "timeout" || w == "dynamic");
                    let empty = !words().any(|w| w == "elements");
                    self.sets.push(SetInfo {
                        family: TableFamily::from_nft(family),
                        table: table.to_owned(),
                        name,
                        dynamic,
                        empty,
                    });
                }
                T::Word(w)
                    if matches!(
                        w.as_str(),
                        "flowtable" | "counter" | "quota" | "limit" | "secmark" | "synproxy"
                    ) =>
                {
                    self.i += 1;
                    self.next_word("an object name")?;
                    self.skip_block()?;
                }
                T::Word(w) if matches!(w.as_str(), "flags" | "comment") => self.skip_line(),
                _ => return Err(self.err("expected chain, set, map, ct helper or `}`")),
            }
        }
    }

    fn helper(&mut self, family: &str, table: &str, name: &str) -> Result<(), ReadError> {
        let start = self.i;
        self.skip_block()?;
        let body = &self.toks[start..self.i];
        let kind = body.windows(2).find_map(|w| match (&w[0].t, &w[1].t) {
            (T::Word(k), T::Str(v) | T::Word(v)) if k == "type" => Some(v.clone()),
            _ => None,
        });
        if let Some(kind) = kind {
            self.helpers.add(family, table, name, &kind);
        }
        Ok(())
    }

    fn chain(&mut self, family: &str, table: &str, name: &str) -> Result<(), ReadError> {
        let mut chain = ExistingChain {
            family: TableFamily::from_nft(family),
            table: table.to_owned(),
            name: name.to_owned(),
            base: None,
            rules: Vec::new(),
        };
        loop {
            self.skip_blank();
            let Some(tok) = self.peek().cloned() else {
                return Err(self.err(format!("chain {name} is not closed")));
            };
            match &tok.t {
                T::Close => {
                    self.i += 1;
                    self.chains.push(chain);
                    return Ok(());
                }
                T::Word(w) if w == "type" => chain.base = Some(self.chain_type()?),
                T::Word(w) if w == "policy" => {
                    self.i += 1;
                    let p = self.next_word("accept or drop")?;
                    if let Some(b) = chain.base.as_mut() {
                        b.policy_accept = p != "drop";
                    }
                }
                T::Word(w) if matches!(w.as_str(), "comment" | "devices" | "device") => {
                    self.skip_line()
                }
                _ => {
                    let at = Location {
                        source: self.source.to_owned(),
                        line: Some(tok.line),
                        chain: format!("{family} {table} {name}"),
                        handle: None,
                    };
                    let (statements, comment) = self.rule(family, table)?;
                    chain
                        .rules
                        .extend(rules_of(statements, &at, comment.as_deref()));
                }
            }
        }
    }

    /// `type filter hook input priority filter;` (`policy` follows apart).
    fn chain_type(&mut self) -> Result<Base, ReadError> {
        self.i += 1;
        self.next_word("a chain type")?;
        let mut hook = None;
        let mut priority = 0;
        while let Some(w) = self.word().map(str::to_owned) {
            self.i += 1;
            match w.as_str() {
                "hook" => hook = Some(self.next_word("a hook")?),
                "device" => {
                    self.next_word("a device")?;
                }
                "priority" => {
                    let p = self.next_word("a priority")?;
                    priority = named_priority(&p)
                        .or_else(|| p.parse().ok())
                        .ok_or_else(|| self.err(format!("unknown priority {p:?}")))?;
                    if let Some(sign @ ("+" | "-")) = self.word().map(str::to_owned).as_deref() {
                        self.i += 1;
                        let n: i32 = self
                            .next_word("a number")?
                            .parse()
                            .map_err(|_| self.err("expected a number"))?;
                        priority += if sign == "+" { n } else { -n };
                    }
                }
                _ => {}
            }
        }
        let hook = hook.ok_or_else(|| self.err("a base chain needs a hook"))?;
        Ok(Base {
            hook: super::existing::HookPoint::parse(&hook),
            priority,
            policy_accept: true,
        })
    }

    /// One rule line: its statements and its comment.
    #[allow(clippy::type_complexity)]
    fn rule(
        &mut self,
        family: &str,
        table: &str,
    ) -> Result<(Vec<(Vec<Cond>, Option<Step>)>, Option<String>), ReadError> {
        let mut out = Vec::new();
        let mut comment = None;
        while let Some(tok) = self.peek().cloned() {
            let w = match &tok.t {
                T::Newline | T::Semi | T::Close => break,
                T::Word(w) => w.clone(),
                _ => return Err(self.err("unexpected token in a rule")),
            };
            self.i += 1;
            let step = |s: Step| (Vec::new(), Some(s));
            let st = match w.as_str() {
                "comment" => {
                    comment = Some(self.next_word("a comment")?);
                    continue;
                }
                "iif" | "iifname" | "oif" | "oifname" => self.test(Selector::Meta(w.clone()))?,
                "meta" => {
                    let key = self.next_word("a meta key")?;
                    if self.word() == Some("set") {
                        self.value_after_set()?;
                        step(opaque(&format!("meta {key} set"), false))
                    } else {
                        self.test(Selector::Meta(key))?
                    }
                }
                "ct" => {
                    let mut key = self.next_word("a ct key")?;
                    if matches!(key.as_str(), "original" | "reply") {
                        key = format!("{key} {}", self.next_word("a ct key")?);
                        let sel = Selector::Other(format!("ct {key}"));
                        self.test(sel)?
                    } else if self.word() == Some("set") {
                        let v = self.value_after_set()?;
                        if key == "helper" {
                            let kind = self.helpers.kind(family, table, &v).map(str::to_owned);
                            step(Step::AssignHelper(kind))
                        } else {
                            step(opaque(&format!("ct {key} set"), false))
                        }
                    } else {
                        self.test(Selector::Ct(key))?
                    }
                }
                "limit" => (self.limit()?, None),
                "log" => {
                    let (mut prefix, mut level) = (String::new(), "warn".to_owned());
                    while let Some(k) = self.word().map(str::to_owned) {
                        if !matches!(
                            k.as_str(),
                            "prefix" | "level" | "group" | "snaplen" | "queue-threshold" | "flags"
                        ) {
                            break;
                        }
                        self.i += 1;
                        let v = self.next_word("a log option value")?;
                        match k.as_str() {
                            "prefix" => prefix = v,
                            "level" => level = v,
                            _ => {}
                        }
                    }
                    step(Step::Ir(Action::Log { prefix, level }))
                }
                "counter" => {
                    while matches!(self.word(), Some("packets" | "bytes" | "name")) {
                        self.i += 1;
                        self.next_word("a counter value")?;
                    }
                    continue;
                }
                "accept" => step(Step::Ir(Action::Accept)),
                "drop" => step(Step::Ir(Action::Drop)),
                "reject" => {
                    if self.word() == Some("with") {
                        // `with icmp type X`, `with icmpx X`, `with tcp reset`.
                        while !matches!(self.word(), None | Some("comment")) {
                            self.i += 1;
                        }
                    }
                    step(Step::Ir(Action::Reject))
                }
                "return" => step(Step::Return),
                "continue" => continue,
                "jump" | "goto" => step(Step::Jump {
                    target: self.next_word("a chain")?,
                    goto: w == "goto",
                }),
                "xt" => {
                    let kind = self.next_word("match or target")?;
                    let name = self.next_word("an extension name")?;
                    if kind == "match" {
                        (vec![Cond::Opaque(format!("xt match {name}"))], None)
                    } else {
                        step(xt_target(&name))
                    }
                }
                "update" | "add" if self.word().is_some_and(|s| s.starts_with('@')) => {
                    self.dynset()?
                }
                "notrack" => step(opaque("notrack", false)),
                "queue" | "masquerade" | "snat" | "dnat" | "redirect" | "tproxy" | "fwd" => {
                    self.skip_to_statement();
                    step(opaque(&w, true))
                }
                proto if !STATEMENTS.contains(&proto) || is_payload(proto) => {
                    if !is_payload(proto) {
                        let text = self.skip_to_statement();
                        (vec![Cond::Opaque(format!("{proto} {text}"))], None)
                    } else {
                        let field = self.next_word("a header field")?;
                        if self.word() == Some(".") {
                            let mut sel = format!("{proto} {field}");
                            while self.word() == Some(".") {
                                self.i += 1;
                                let p = self.next_word("a concatenated selector")?;
                                let f = self.next_word("a header field")?;
                                sel = format!("{sel} . {p} {f}");
                            }
                            self.test(Selector::Other(sel))?
                        } else if self.word() == Some("set") {
                            self.value_after_set()?;
                            step(opaque(&format!("{proto} {field} set"), false))
                        } else {
                            self.test(Selector::Payload(proto.to_owned(), field))?
                        }
                    }
                }
                other => return Err(self.err(format!("unexpected {other:?} in a rule"))),
            };
            out.push(st);
        }
        Ok((out, comment))
    }

    /// `@set { KEY [STATEMENTS] }` after `update` or `add`.
    fn dynset(&mut self) -> Result<(Vec<Cond>, Option<Step>), ReadError> {
        let set = self.next_word("a set")?;
        self.expect(T::Open, "`{` after the set")?;
        let mut words = Vec::new();
        loop {
            match self.peek().map(|t| t.t.clone()) {
                Some(T::Close) => {
                    self.i += 1;
                    break;
                }
                Some(T::Word(w) | T::Str(w)) => {
                    self.i += 1;
                    words.push(w);
                }
                _ => return Err(self.err("expected `}` closing the set statement")),
            }
        }
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        Ok(super::statement::dynset(
            set.trim_start_matches('@'),
            &words,
        ))
    }

    fn value_after_set(&mut self) -> Result<String, ReadError> {
        self.i += 1;
        let v = self.next_word("a value")?;
        Ok(v)
    }

    /// Skips an expression this reader does not model, up to the next statement.
    fn skip_to_statement(&mut self) -> String {
        let mut words = Vec::new();
        let mut depth = 0;
        while let Some(t) = self.peek() {
            match &t.t {
                T::Newline | T::Semi if depth == 0 => break,
                T::Close if depth == 0 => break,
                T::Word(w) if depth == 0 && STATEMENTS.contains(&w.as_str()) => break,
                T::Open => depth += 1,
                T::Close => depth -= 1,
                _ => {}
            }
            if let T::Word(w) | T::Str(w) = &t.t {
                words.push(w.clone());
            }
            self.i += 1;
        }
        words.join(" ")
    }

    /// `[op] value` after a selector.
    fn test(&mut self, sel: Selector) -> Result<(Vec<Cond>, Option<Step>), ReadError> {
        let mut negated = false;
        match self.word() {
            Some("!=") | Some("ne") => {
                negated = true;
                self.i += 1;
            }
            Some("==") | Some("eq") => self.i += 1,
            Some("<" | ">" | "<=" | ">=" | "&" | "|" | "^" | "lt" | "gt" | "le" | "ge") => {
                let text = self.skip_to_statement();
                return Ok((vec![Cond::Opaque(format!("{sel:?} {text}"))], None));
            }
            _ => {}
        }
        let elems = self.values()?;
        if matches!(self.word(), Some("vmap" | "map")) {
            self.skip_to_statement();
            return Ok((Vec::new(), Some(opaque("verdict map", true))));
        }
        Ok((conds(&sel, negated, &elems), None))
    }

    fn values(&mut self) -> Result<Vec<Elem>, ReadError> {
        match self.peek().map(|t| t.t.clone()) {
            Some(T::Open) => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek().map(|t| t.t.clone()) {
                        Some(T::Close) => {
                            self.i += 1;
                            return Ok(out);
                        }
                        Some(T::Comma | T::Newline) => self.i += 1,
                        Some(T::Word(w) | T::Str(w)) => {
                            self.i += 1;
                            out.extend(elems_of(&w));
                        }
                        Some(T::Open) => {
                            self.skip_block()?;
                            out.push(Elem::SetRef("nested".into()));
                        }
                        _ => return Err(self.err("unclosed `{` in a rule")),
                    }
                }
            }
            Some(T::Word(w)) => {
                self.i += 1;
                let mut out = elems_of(&w);
                // `established,related`: a list without braces.
                while self.peek().map(|t| &t.t) == Some(&T::Comma) {
                    self.i += 1;
                    out.extend(elems_of(&self.next_word("a value after `,`")?));
                }
                Ok(out)
            }
            Some(T::Str(s)) => {
                self.i += 1;
                Ok(vec![Elem::Word(s)])
            }
            _ => Err(self.err("expected a value")),
        }
    }

    /// `limit rate [over] N/UNIT [burst N packets]`.
    fn limit(&mut self) -> Result<Vec<Cond>, ReadError> {
        if self.word() == Some("name") {
            self.i += 1;
            let n = self.next_word("a limit name")?;
            return Ok(vec![Cond::Opaque(format!("limit name {n}"))]);
        }
        if self.word() != Some("rate") {
            return Err(self.err("expected `rate` after `limit`"));
        }
        self.i += 1;
        let over = self.word() == Some("over");
        if over {
            self.i += 1;
        }
        let mut rate = self.next_word("a rate")?;
        if !rate.contains('/') {
            // `10 mbytes/second`: a byte rate.
            rate = format!("{rate} {}", self.next_word("a rate unit")?);
        }
        if self.word() == Some("burst") {
            self.i += 1;
            self.next_word("a burst")?;
            if matches!(self.word(), Some("packets" | "bytes" | "kbytes" | "mbytes")) {
                self.i += 1;
            }
        }
        Ok(match parse_rate(&rate) {
            Some(r) if !over => vec![Cond::Ir(Match::Limit(r))],
            _ => vec![Cond::Opaque(format!("limit rate {rate}"))],
        })
    }
}

fn is_payload(w: &str) -> bool {
    matches!(
        w,
        "ip" | "ip6"
            | "tcp"
            | "udp"
            | "th"
            | "icmp"
            | "icmpv6"
            | "sctp"
            | "udplite"
            | "dccp"
            | "ah"
            | "esp"
            | "comp"
            | "ether"
            | "vlan"
            | "arp"
            | "igmp"
    )
}

fn opaque(what: &str, terminal: bool) -> Step {
    Step::Opaque {
        what: what.to_owned(),
        terminal,
    }
}

/// The elements one word stands for: `established,related`, `8081-8082`, `@set`.
fn elems_of(w: &str) -> Vec<Elem> {
    w.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some(set) = s.strip_prefix('@') {
                return Elem::SetRef(set.to_owned());
            }
            if let Ok(n) = s.parse() {
                return Elem::Num(n);
            }
            if let Some((a, z)) = s.split_once('-') {
                if let (Ok(a), Ok(z)) = (a.parse(), z.parse()) {
                    return Elem::Range(Box::new(Elem::Num(a)), Box::new(Elem::Num(z)));
                }
            }
            Elem::Word(s.to_owned())
        })
        .collect()
}

/// nft's named priorities for the ip, ip6 and inet families.
fn named_priority(name: &str) -> Option<i32> {
    Some(match name {
        "raw" => -300,
        "mangle" => -150,
        "dstnat" => -100,
        "filter" => 0,
        "security" => 50,
        "srcnat" => 100,
        _ => return None,
    })
}
