//! Where each field of a plan file sits in its text. serde_yaml turns the file into values but
//! forgets positions once parsing succeeds; this map, built from a second pass over the same
//! text with a marked YAML event parser, lets any later check report `file:line:column`.

use crate::plan::diagnostic::Position;
use std::collections::HashMap;
use std::fmt;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One step into a YAML document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A field's place in a plan, printed as `changes[1].set_not_null.fill`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_owned()));
        next
    }

    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// Appends the path serde_path_to_error reports for a failure inside this field.
    pub fn join_serde(&self, inner: &serde_path_to_error::Path) -> Self {
        let mut next = self.clone();
        for segment in inner.iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => next.0.push(Segment::Index(*index)),
                serde_path_to_error::Segment::Map { key } => next.0.push(Segment::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => {
                    next.0.push(Segment::Key(variant.clone()))
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        next
    }

    fn parent(&self) -> Option<Self> {
        let mut up = self.clone();
        up.0.pop().map(|_| up)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct Span {
    key: Option<Position>,
    value: Position,
}

/// Positions of every key and value in one YAML document.
#[derive(Debug, Default)]
pub struct SourceMap {
    spans: HashMap<FieldPath, Span>,
}

impl SourceMap {
    /// Builds the map; text the marked parser rejects yields an empty map (serde_yaml has
    /// already reported the syntax error with its own position by then).
    pub fn build(text: &str) -> SourceMap {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        match parser.load(&mut builder, false) {
            Ok(()) => SourceMap {
                spans: builder.spans,
            },
            Err(_) => SourceMap::default(),
        }
    }

    /// Where the value of `path` starts, or its nearest enclosing field's when the path has
    /// no place of its own (a missing key is reported at the mapping that lacks it).
    pub fn value(&self, path: &FieldPath) -> Option<Position> {
        self.find(path).map(|s| s.value)
    }

    /// Where the key of `path` is written (for unknown keys), else its value's position.
    pub fn key(&self, path: &FieldPath) -> Option<Position> {
        self.find(path).map(|s| s.key.unwrap_or(s.value))
    }

    fn find(&self, path: &FieldPath) -> Option<Span> {
        let mut at = Some(path.clone());
        while let Some(p) = at {
            if let Some(span) = self.spans.get(&p) {
                return Some(*span);
            }
            at = p.parent();
        }
        None
    }
}

enum Frame {
    Mapping {
        path: FieldPath,
        pending_key: Option<(String, Position)>,
    },
    Sequence {
        path: FieldPath,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    spans: HashMap<FieldPath, Span>,
}

fn position(mark: Marker) -> Position {
    // yaml-rust2 counts columns from 0 and lines from 1; editors and compilers count both from 1.
    Position {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

impl Builder {
    /// Records a value starting at `at`, returning its path, or None when the event is a key.
    fn place_value(&mut self, at: Position, key_text: Option<&str>) -> Option<FieldPath> {
        match self.stack.last_mut() {
            None => {
                let path = FieldPath::root();
                self.spans.insert(
                    path.clone(),
                    Span {
                        key: None,
                        value: at,
                    },
                );
                Some(path)
            }
            Some(Frame::Sequence { path, next }) => {
                let path = path.index(*next);
                *next += 1;
                self.spans.insert(
                    path.clone(),
                    Span {
                        key: None,
                        value: at,
                    },
                );
                Some(path)
            }
            Some(Frame::Mapping { path, pending_key }) => match pending_key.take() {
                Some((key, key_at)) => {
                    let path = path.key(&key);
                    self.spans.insert(
                        path.clone(),
                        Span {
                            key: Some(key_at),
                            value: at,
                        },
                    );
                    Some(path)
                }
                None => {
                    // yaml-rust2 marks a block mapping at its first `:`; a reader expects it
                    // where its first key starts.
                    if let Some(span) = self.spans.get_mut(path) {
                        span.value = span.value.min(at);
                    }
                    // Complex (non-scalar) keys get a placeholder name; plans never use them.
                    *pending_key = Some((key_text.unwrap_or("?").to_owned(), at));
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let at = position(mark);
        match event {
            Event::Scalar(text, ..) => {
                self.place_value(at, Some(&text));
            }
            Event::Alias(_) => {
                self.place_value(at, None);
            }
            Event::MappingStart(..) => {
                let path = self.place_value(at, None).unwrap_or_default();
                self.stack.push(Frame::Mapping {
                    path,
                    pending_key: None,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.place_value(at, None).unwrap_or_default();
                self.stack.push(Frame::Sequence { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_nested_fields_to_positions() {
        let text = "description: x\nchanges:\n  - set_not_null: { table: users, column: email }\n  - drop_column:\n      table: users\n";
        assert_eq!(
            SourceMap::build(text).value(&FieldPath::root()),
            Some(Position { line: 1, column: 1 })
        );
        let map = SourceMap::build(text);
        let root = FieldPath::root();
        let at = |line, column| Some(Position { line, column });
        assert_eq!(map.value(&root.key("description")), at(1, 14));
        assert_eq!(map.key(&root.key("description")), at(1, 1));
        let first = root.key("changes").index(0).key("set_not_null");
        assert_eq!(map.value(&first.key("column")), at(3, 43));
        let second = root.key("changes").index(1).key("drop_column");
        assert_eq!(map.value(&second.key("table")), at(5, 14));
        assert_eq!(map.key(&second.key("table")), at(5, 7));
        // A missing field is placed at the nearest field that exists.
        assert_eq!(map.value(&second.key("column")), map.value(&second));
        assert_eq!(
            first.key("column").to_string(),
            "changes[0].set_not_null.column"
        );
    }
}
