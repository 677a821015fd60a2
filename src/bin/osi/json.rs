//! A small ordered JSON value: records keep their keys in the order the contract lists them
//! (`frame`, `stream`, `dir`, `offset`, `tpkt`, `cotp`, …), which `serde_json::Value` without
//! its `preserve_order` feature would sort.

use std::fmt::Write as _;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    /// A non-negative integer.
    U(u64),
    /// A signed integer (protocol INTEGER values that may be negative).
    I(i64),
    /// A boolean.
    B(bool),
    /// A string.
    S(String),
    /// An array.
    A(Vec<J>),
    /// An object.
    O(Obj),
}

impl From<u64> for J {
    fn from(v: u64) -> Self {
        J::U(v)
    }
}

impl From<u32> for J {
    fn from(v: u32) -> Self {
        J::U(u64::from(v))
    }
}

impl From<u16> for J {
    fn from(v: u16) -> Self {
        J::U(u64::from(v))
    }
}

impl From<u8> for J {
    fn from(v: u8) -> Self {
        J::U(u64::from(v))
    }
}

impl From<usize> for J {
    fn from(v: usize) -> Self {
        J::U(u64::try_from(v).unwrap_or(u64::MAX))
    }
}

impl From<i64> for J {
    fn from(v: i64) -> Self {
        J::I(v)
    }
}

impl From<osi_stack::presentation::ContextId> for J {
    fn from(v: osi_stack::presentation::ContextId) -> Self {
        J::I(v.get())
    }
}

impl From<bool> for J {
    fn from(v: bool) -> Self {
        J::B(v)
    }
}

impl From<String> for J {
    fn from(v: String) -> Self {
        J::S(v)
    }
}

impl From<&str> for J {
    fn from(v: &str) -> Self {
        J::S(v.to_owned())
    }
}

impl From<Obj> for J {
    fn from(v: Obj) -> Self {
        J::O(v)
    }
}

/// A JSON object whose keys keep their insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Obj(Vec<(&'static str, J)>);

impl Obj {
    /// An empty object.
    pub fn new() -> Self {
        Obj(Vec::new())
    }

    /// Sets `key`, replacing an earlier value of the same key in place.
    pub fn set(&mut self, key: &'static str, value: impl Into<J>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&J> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Whether the object has no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &J)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// Appends every entry of `other` (replacing keys already present).
    pub fn extend(&mut self, other: Obj) {
        for (k, v) in other.0 {
            self.set(k, v);
        }
    }

    /// The object as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        write_obj(&mut s, self);
        s
    }
}

/// Lowercase hex of `bytes`, no separators (the contract's hex form).
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_obj(out: &mut String, o: &Obj) {
    out.push('{');
    for (i, (k, v)) in o.0.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(out, k);
        out.push_str(": ");
        write_value(out, v);
    }
    out.push('}');
}

fn write_value(out: &mut String, v: &J) {
    match v {
        J::U(n) => {
            let _ = write!(out, "{n}");
        }
        J::I(n) => {
            let _ = write!(out, "{n}");
        }
        J::B(b) => out.push_str(if *b { "true" } else { "false" }),
        J::S(s) => write_str(out, s),
        J::A(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        J::O(o) => write_obj(out, o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_escapes() {
        let mut o = Obj::new();
        o.set("b", 1u8);
        o.set("a", "x\"y\u{1}");
        o.set("b", 2u8);
        assert_eq!(o.to_json(), r#"{"b": 2, "a": "x\"y\u0001"}"#);
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }
}
