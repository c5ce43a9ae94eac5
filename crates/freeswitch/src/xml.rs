//! The assembled document as XML: parsing it, finding a module's
//! `<configuration>`, and reading `<param>`s with their provenance.

use crate::error::Error;
use crate::preprocess::Assembled;
use crate::provenance::{Location, Provenance};

pub use roxmltree::Node;

/// A parsed configuration whose every node maps back to its original line.
pub struct Document<'a> {
    assembled: &'a Assembled,
    doc: roxmltree::Document<'a>,
}

/// A `<param name=... value=...>` (or any name/value attribute pair) that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The value after preprocessing.
    pub value: String,
    /// Where it was written and the variables it went through.
    pub provenance: Provenance,
}

impl<'a> Document<'a> {
    /// Parses the preprocessor's output; a syntax error points at the original file.
    pub fn parse(assembled: &'a Assembled) -> Result<Self, Error> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(&assembled.text, options)
            .map_err(|e| syntax_error(assembled, &e))?;
        let root = doc.root_element();
        if root.tag_name().name() != "document" {
            return Err(Error::Structure {
                at: locate(assembled, root.range().start),
                message: format!(
                    "the root element is <{}>, FreeSWITCH expects <document>",
                    root.tag_name().name()
                ),
            });
        }
        Ok(Document { assembled, doc })
    }

    /// The `<document>` element.
    pub fn root(&self) -> Node<'_, 'a> {
        self.doc.root_element()
    }

    /// The original line of a node.
    pub fn location(&self, node: Node) -> Location {
        locate(self.assembled, node.range().start)
    }

    /// `<section name="configuration">/<configuration name=NAME>`, the first
    /// one as FreeSWITCH takes it.
    pub fn configuration(&self, name: &str) -> Option<Node<'_, 'a>> {
        self.root()
            .children()
            .filter(|n| n.has_tag_name("section") && n.attribute("name") == Some("configuration"))
            .flat_map(|s| s.children())
            .find(|n| n.has_tag_name("configuration") && n.attribute("name") == Some(name))
    }

    /// The last `<param name=NAME>` among `parent`'s children: FreeSWITCH
    /// applies params in order, so a later one wins.
    pub fn param(&self, parent: Node, name: &str) -> Option<Param> {
        parent
            .children()
            .rfind(|n| n.has_tag_name("param") && n.attribute("name") == Some(name))
            .map(|n| self.param_of(n))
    }

    /// Every `<param name=NAME>` among `parent`'s children, in order.
    pub fn params<'d>(&'d self, parent: Node<'d, 'a>, name: &str) -> Vec<(Node<'d, 'a>, Param)> {
        parent
            .children()
            .filter(|n| n.has_tag_name("param") && n.attribute("name") == Some(name))
            .map(|n| (n, self.param_of(n)))
            .collect()
    }

    /// A param node's value and provenance.
    pub fn param_of(&self, node: Node) -> Param {
        let setting = node.attribute("name").unwrap_or_default().to_string();
        self.attribute(node, "value", &setting)
    }

    /// Any attribute as a value with provenance, reported as `setting`.
    pub fn attribute(&self, node: Node, attribute: &str, setting: &str) -> Param {
        let at = self.location(node);
        let (value, variables) = match node.attribute_node(attribute) {
            Some(attr) => {
                let range = attr.range_value();
                let variables = match self.assembled.line_at(range.start) {
                    Some(line) => {
                        let from = range.start - line.start;
                        let to = range.end - line.start;
                        line.expansions
                            .iter()
                            .filter(|e| e.range.start >= from && e.range.end <= to)
                            .map(|e| e.use_.clone())
                            .collect()
                    }
                    None => Vec::new(),
                };
                (attr.value().to_string(), variables)
            }
            None => (String::new(), Vec::new()),
        };
        Param {
            provenance: Provenance {
                setting: setting.to_string(),
                at,
                value: Some(value.clone()),
                default: false,
                variables,
            },
            value,
        }
    }

    /// Provenance for a setting left at FreeSWITCH's default, pointing at `node`.
    pub fn default(&self, node: Node, setting: &str) -> Provenance {
        Provenance {
            setting: setting.to_string(),
            at: self.location(node),
            value: None,
            default: true,
            variables: Vec::new(),
        }
    }
}

fn locate(assembled: &Assembled, offset: usize) -> Location {
    assembled
        .line_at(offset)
        .map(|l| l.at.clone())
        .unwrap_or_else(|| assembled.entry.clone())
}

fn syntax_error(assembled: &Assembled, e: &roxmltree::Error) -> Error {
    // FreeSWITCH's own words, seen on the lab's build: an empty document
    // stops it before parsing, one with no element fails switch_xml.c's parser.
    if matches!(e, roxmltree::Error::NoRootNode) {
        let message = if assembled.text.is_empty() {
            "the document is empty (FreeSWITCH: \"Cannot Open log directory or XML Root!\")"
        } else {
            "root tag missing"
        };
        return Error::Xml {
            at: assembled.entry.clone(),
            column: None,
            message: message.into(),
        };
    }
    let pos = e.pos();
    let row = usize::try_from(pos.row)
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    let message = e.to_string();
    // roxmltree appends the position in the assembled text, which means nothing to the reader.
    let message = match message.rfind(" at ") {
        Some(i) if message[i + 4..].contains(':') => message[..i].to_string(),
        _ => message,
    };
    match assembled.lines.get(row) {
        Some(line) => Error::Xml {
            at: line.at.clone(),
            column: Some(line.column + pos.col.saturating_sub(1)),
            message,
        },
        // Past the last line: the document ended too early, so blame the entry file's end.
        None => Error::Xml {
            at: assembled
                .lines
                .last()
                .map_or_else(|| assembled.entry.clone(), |l| l.at.clone()),
            column: None,
            message,
        },
    }
}
