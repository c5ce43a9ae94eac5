//! The assembled document as XML: parsing it, finding a module's
//! `<configuration>`, and reading `<param>`s with their provenance.

use crate::error::Error;
use crate::markup::{self, SyntaxError, Tree};
use crate::preprocess::Assembled;
use crate::provenance::{Location, Provenance};
use crate::setting::is_true;

pub use crate::markup::Node;

/// A parsed configuration whose every node maps back to its original line.
pub struct Document<'a> {
    assembled: &'a Assembled,
    tree: Tree,
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
    /// Parses the preprocessor's output with switch_xml.c's grammar; a
    /// syntax error points at the original file, line and column.
    pub fn parse(assembled: &'a Assembled) -> Result<Self, Error> {
        // FreeSWITCH reads `xml_disable_dtd` from the variables the
        // preprocessor set before it parses.
        let dtd = !assembled
            .vars
            .get("xml_disable_dtd")
            .and_then(|v| v.value.as_deref())
            .is_some_and(is_true);
        let tree = markup::parse(&assembled.text, dtd).map_err(|e| syntax_error(assembled, &e))?;
        let root = tree.root();
        if !root.has_tag_name("document") {
            return Err(Error::Structure {
                at: locate(assembled, root.start()),
                message: format!(
                    "the root element is <{}>, FreeSWITCH expects <document>",
                    root.tag_name()
                ),
            });
        }
        Ok(Document { assembled, tree })
    }

    /// The `<document>` element.
    pub fn root(&self) -> Node<'_> {
        self.tree.root()
    }

    /// The original line of a node.
    pub fn location(&self, node: Node) -> Location {
        locate(self.assembled, node.start())
    }

    /// `<section name="configuration">/<configuration name=NAME>`, the first
    /// one as FreeSWITCH takes it.
    pub fn configuration(&self, name: &str) -> Option<Node<'_>> {
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
    pub fn params<'d>(&'d self, parent: Node<'d>, name: &str) -> Vec<(Node<'d>, Param)> {
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
                let range = attr.range.clone();
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
                (attr.value.clone(), variables)
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

fn syntax_error(assembled: &Assembled, e: &SyntaxError) -> Error {
    // FreeSWITCH's own words, seen on the lab's build: an empty document
    // stops it before parsing; one with no element is "root tag missing",
    // blamed on the entry file since there is no element to point at.
    if assembled.text.is_empty() || e.message == "root tag missing" {
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
    match assembled.line_at(e.offset) {
        Some(line) => {
            let before = assembled.text.get(line.start..e.offset).unwrap_or_default();
            let column = u32::try_from(before.chars().count()).unwrap_or(u32::MAX);
            Error::Xml {
                at: line.at.clone(),
                column: Some(line.column.saturating_add(column)),
                message: e.message.clone(),
            }
        }
        None => Error::Xml {
            at: assembled.entry.clone(),
            column: None,
            message: e.message.clone(),
        },
    }
}
