//! A small strict JSON reader and writer for the few shapes the core reads and writes: token
//! answers, JWT claims, stored tokens, rotation records, I/O Management API answers.
//!
//! The core once used `serde_json` with derived (de)serialisers for these; that, with the float
//! formatting serde's error messages pull in, was about a third of the npm package's
//! WebAssembly (issue 4). This module accepts what `serde_json` accepted and writes what it
//! wrote, byte for byte:
//!
//! - strict RFC 8259 syntax (no trailing commas, no comments, nothing after the value but
//!   whitespace, no control characters in strings, valid escapes);
//! - strings that are read are UTF-8 checked and their `\u` surrogates must pair; strings of
//!   skipped values are only checked for syntax, as `serde_json`'s `IgnoredAny` does;
//! - containers read as values or typed records may nest 127 deep (`serde_json`'s recursion
//!   limit); skipped values (unknown fields of a record) may nest any depth, without recursion;
//! - numbers read as values must be finite as `f64`; a typed `u64` is a plain integer that fits;
//! - in a typed record a field given twice is an error, unknown fields are skipped, a missing
//!   `Option` field is `None`; in a [`Json`] object the last of repeated keys wins;
//! - written strings escape `"`, `\` and control characters only (`\b \f \n \r \t`, else
//!   `\u00xx`), as `serde_json::to_string` does.
//!
//! The Worker writes and reads all of its JSON with this module too (issue 6: without
//! `serde_json` and `serde`'s deserializers its .wasm is about 55 KB smaller, gzipped). The
//! `serde` derives left on the core's types are not used by the Worker.

/// A parse failure. Every caller maps it to its own error, as it did `serde_json`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bad;

/// Result of a read.
pub type Res<T> = Result<T, Bad>;

/// Deepest nesting of containers read as values or records (`serde_json`: 128 - 1).
const MAX_DEPTH: u32 = 127;

/// A JSON value, for the answers read by lookup (`serde_json::Value` without its float
/// handling: numbers keep their text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (checked: the grammar, and finite as `f64`).
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, members in order (repeated keys kept; [`Json::get`] finds the last).
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Parses a whole document.
    pub fn parse(bytes: &[u8]) -> Res<Json> {
        Self::parse_at(bytes).map_err(|_| Bad)
    }

    /// Parses a whole document; on failure, the byte offset where reading stopped (at or just
    /// after the first byte that does not fit).
    pub fn parse_at(bytes: &[u8]) -> Result<Json, usize> {
        let mut r = Reader::new(bytes);
        let v = r.value().map_err(|_| r.i)?;
        match r.peek() {
            None => Ok(v),
            Some(_) => Err(r.i),
        }
    }

    /// The members, if this is an object (repeated keys kept, in order).
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Obj(members) => Some(members),
            _ => None,
        }
    }

    /// The member `key` of an object (the last one if repeated).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(items) => Some(items),
            _ => None,
        }
    }

    /// The number as a `u64`, if it is a plain non-negative integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => plain_u64(n),
            _ => None,
        }
    }

    /// The value as compact JSON text (`serde_json`'s `Value` display: object keys sorted, the
    /// last of repeated keys kept; numbers as written).
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(n),
            Json::Str(s) => quote(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(members) => {
                // Keys in order, each once, without a sort (these objects are tiny).
                out.push('{');
                let mut last: Option<&str> = None;
                while let Some(key) = members
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .filter(|k| last.is_none_or(|l| *k > l))
                    .min()
                {
                    if last.is_some() {
                        out.push(',');
                    }
                    quote(out, key);
                    out.push(':');
                    if let Some(v) = self.get(key) {
                        v.write(out);
                    }
                    last = Some(key);
                }
                out.push('}');
            }
        }
    }
}

/// Digits only (no sign, fraction or exponent), fitting a `u64`.
fn plain_u64(n: &str) -> Option<u64> {
    if n.bytes().all(|b| b.is_ascii_digit()) {
        n.parse().ok()
    } else {
        None
    }
}

/// Whether a number (valid grammar) is too large for an `f64` (`serde_json`: "number out of
/// range").
fn out_of_range(n: &str) -> bool {
    let (mantissa, exp) = match n.find(['e', 'E']) {
        Some(p) => (&n[..p], &n[p + 1..]),
        None => (n, "0"),
    };
    let exp: i64 = exp.parse().unwrap_or(if exp.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    });
    let mantissa = mantissa.trim_start_matches('-');
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = int.chars().chain(frac.chars()).collect();
    let lead = digits.bytes().take_while(|&b| b == b'0').count();
    let significant = digits[lead..].trim_end_matches('0');
    if significant.is_empty() {
        return false;
    }
    // The value is 0.<significant> * 10^magnitude.
    let magnitude = (int.len() as i64 - lead as i64).saturating_add(exp);
    magnitude > 309 || (magnitude == 309 && significant > "17976931348623157")
}

/// Reads a JSON document front to back.
pub struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `s`.
    pub fn new(s: &'a [u8]) -> Self {
        Reader { s, i: 0, depth: 0 }
    }

    /// Skips whitespace; the next byte.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.s.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    fn next_byte(&mut self) -> Res<u8> {
        let c = *self.s.get(self.i).ok_or(Bad)?;
        self.i += 1;
        Ok(c)
    }

    /// Consumes `c` (after whitespace) if it is next.
    fn eat(&mut self, c: u8) -> bool {
        let next = self.peek() == Some(c);
        if next {
            self.i += 1;
        }
        next
    }

    fn expect(&mut self, c: u8) -> Res<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(Bad)
        }
    }

    fn word(&mut self, w: &[u8]) -> Res<()> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(())
        } else {
            Err(Bad)
        }
    }

    /// Only whitespace is left.
    pub fn end(mut self) -> Res<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Bad),
        }
    }

    /// Consumes a `null` if one is next.
    pub fn null(&mut self) -> Res<bool> {
        if self.peek() == Some(b'n') {
            self.word(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// A string.
    pub fn string(&mut self) -> Res<String> {
        self.expect(b'"')?;
        self.str_body(true)
    }

    /// A string or `null`.
    pub fn opt_string(&mut self) -> Res<Option<String>> {
        if self.null()? {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// A plain non-negative integer that fits a `u64`.
    pub fn u64(&mut self) -> Res<u64> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => plain_u64(self.number()?).ok_or(Bad),
            _ => Err(Bad),
        }
    }

    /// A `u64` or `null`.
    pub fn opt_u64(&mut self) -> Res<Option<u64>> {
        if self.null()? {
            return Ok(None);
        }
        self.u64().map(Some)
    }

    /// Any value.
    pub fn value(&mut self) -> Res<Json> {
        Ok(match self.peek().ok_or(Bad)? {
            b'n' => {
                self.word(b"null")?;
                Json::Null
            }
            b't' => {
                self.word(b"true")?;
                Json::Bool(true)
            }
            b'f' => {
                self.word(b"false")?;
                Json::Bool(false)
            }
            b'"' => Json::Str(self.string()?),
            b'[' => {
                let mut items = Vec::new();
                self.array(&mut |r| {
                    items.push(r.value()?);
                    Ok(())
                })?;
                Json::Arr(items)
            }
            b'{' => {
                let mut members = Vec::new();
                self.object(&mut |r, key| {
                    members.push((key, r.value()?));
                    Ok(())
                })?;
                Json::Obj(members)
            }
            _ => {
                let n = self.number()?;
                if out_of_range(n) {
                    return Err(Bad);
                }
                Json::Num(n.to_owned())
            }
        })
    }

    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Bad);
        }
        Ok(())
    }

    /// An object: `member(reader, key)` reads (or [skips](Reader::skip)) each member's value.
    pub fn object(&mut self, member: &mut dyn FnMut(&mut Self, String) -> Res<()>) -> Res<()> {
        self.expect(b'{')?;
        self.enter()?;
        if !self.eat(b'}') {
            loop {
                self.expect(b'"')?;
                let key = self.str_body(true)?;
                self.expect(b':')?;
                member(self, key)?;
                if self.eat(b'}') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// An array: `item(reader)` reads each item.
    pub fn array(&mut self, item: &mut dyn FnMut(&mut Self) -> Res<()>) -> Res<()> {
        self.expect(b'[')?;
        self.enter()?;
        if !self.eat(b']') {
            loop {
                item(self)?;
                if self.eat(b']') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Skips one value of any depth, checking only its syntax (`serde_json`'s `IgnoredAny`).
    pub fn skip(&mut self) -> Res<()> {
        // The closing bracket of each open container.
        let mut open: Vec<u8> = Vec::new();
        loop {
            match self.peek().ok_or(Bad)? {
                c @ (b'[' | b'{') => {
                    self.i += 1;
                    let close = c + 2; // `]` and `}`
                    if !self.eat(close) {
                        open.push(close);
                        if close == b'}' {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.i += 1;
                    self.str_body(false)?;
                }
                b'n' => self.word(b"null")?,
                b't' => self.word(b"true")?,
                b'f' => self.word(b"false")?,
                _ => {
                    self.number()?;
                }
            }
            // After a value: close what ends here, then expect the next item.
            loop {
                let Some(&close) = open.last() else {
                    return Ok(());
                };
                if self.eat(close) {
                    open.pop();
                    continue;
                }
                self.expect(b',')?;
                if close == b'}' {
                    self.skip_key()?;
                }
                break;
            }
        }
    }

    fn skip_key(&mut self) -> Res<()> {
        self.expect(b'"')?;
        self.str_body(false)?;
        self.expect(b':')
    }

    /// A number's text, its grammar checked.
    fn number(&mut self) -> Res<&'a str> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        // Not consumed unless it fits, so that a failure points at the byte (`parse_at`).
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Bad),
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.some_digits()?;
        }
        core::str::from_utf8(&self.s[start..self.i]).map_err(|_| Bad)
    }

    fn digits(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Res<()> {
        let start = self.i;
        self.digits();
        if self.i == start {
            return Err(Bad);
        }
        Ok(())
    }

    fn hex4(&mut self) -> Res<u32> {
        let mut n = 0;
        for _ in 0..4 {
            let d = (self.next_byte()? as char).to_digit(16).ok_or(Bad)?;
            n = n * 16 + d;
        }
        Ok(n)
    }

    /// The rest of a string after its opening quote. `strict`: decoded, UTF-8 and surrogate
    /// pairs checked; else only its syntax is checked and nothing is kept.
    fn str_body(&mut self, strict: bool) -> Res<String> {
        let mut out = Vec::new();
        loop {
            let c = self.next_byte()?;
            match c {
                b'"' => break,
                b'\\' => {
                    let c = match self.next_byte()? {
                        e @ (b'"' | b'\\' | b'/') => e,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let n = self.hex4()?;
                            if strict {
                                let ch = self.unicode_escape(n)?;
                                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                            }
                            continue;
                        }
                        _ => return Err(Bad),
                    };
                    out.push(c);
                }
                0..=0x1f => return Err(Bad),
                _ => out.push(c),
            }
        }
        if strict {
            String::from_utf8(out).map_err(|_| Bad)
        } else {
            Ok(String::new())
        }
    }

    /// The character of a `\u` escape `n`, with its trailing surrogate escape if it needs one.
    fn unicode_escape(&mut self, n: u32) -> Res<char> {
        let n = match n {
            0xD800..=0xDBFF => {
                self.word(b"\\u")?;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(Bad);
                }
                0x1_0000 + ((n - 0xD800) << 10) + (low - 0xDC00)
            }
            _ => n,
        };
        char::from_u32(n).ok_or(Bad)
    }
}

/// Stores a typed record's field; a field given twice is an error (as in `serde`'s derive).
pub fn set<T>(slot: &mut Option<T>, value: T) -> Res<()> {
    if slot.is_some() {
        return Err(Bad);
    }
    *slot = Some(value);
    Ok(())
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes.
///
/// Runs of bytes that need no escape are copied whole (a token is one such run): every byte
/// that needs one is ASCII, so the runs end on character boundaries.
pub fn quote(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `s` as a JSON string.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    quote(&mut out, s);
    out
}

/// A JSON array of `items`, each JSON text already.
pub fn array<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    out
}

/// Writes a JSON object, member by member, in the order given.
pub struct Obj(String);

impl Obj {
    /// `{`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Obj {
        Obj(String::from("{"))
    }

    /// `{`, with room for `bytes` of members (one allocation for a body of known size).
    pub fn with_capacity(bytes: usize) -> Obj {
        let mut out = String::with_capacity(bytes + 2);
        out.push('{');
        Obj(out)
    }

    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        quote(&mut self.0, key);
        self.0.push(':');
        &mut self.0
    }

    /// A string member.
    pub fn str(mut self, key: &str, value: &str) -> Obj {
        quote(self.key(key), value);
        self
    }

    /// A number member.
    pub fn u64(mut self, key: &str, value: u64) -> Obj {
        self.key(key).push_str(&value.to_string());
        self
    }

    /// A `true` or `false` member.
    pub fn bool(self, key: &str, value: bool) -> Obj {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// A member whose value is JSON text already.
    pub fn raw(mut self, key: &str, json: &str) -> Obj {
        self.key(key).push_str(json);
        self
    }

    /// A member whose value is JSON text already, `null` when absent.
    pub fn opt_raw(self, key: &str, json: Option<&str>) -> Obj {
        self.raw(key, json.unwrap_or("null"))
    }

    /// A string member, `null` when absent.
    pub fn opt_str(self, key: &str, value: Option<&str>) -> Obj {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }

    /// A number member, `null` when absent.
    pub fn opt_u64(self, key: &str, value: Option<u64>) -> Obj {
        match value {
            Some(v) => self.u64(key, v),
            None => self.raw(key, "null"),
        }
    }

    /// The object's text.
    pub fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json thinks of `text` as a `Value`: its compact text, or `None`.
    fn serde(text: &str) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|v| v.to_string())
    }

    fn ours(text: &str) -> Option<String> {
        Json::parse(text.as_bytes()).ok().map(|v| {
            let mut out = String::new();
            v.write(&mut out);
            out
        })
    }

    /// Skipping accepts what serde_json's `IgnoredAny` accepts.
    fn skips(text: &str) -> bool {
        let mut r = Reader::new(text.as_bytes());
        r.skip().is_ok() && r.end().is_ok()
    }

    fn serde_skips(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    #[test]
    fn agrees_with_serde_json() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let cases = [
            "null",
            " true ",
            "false",
            "0",
            "-0",
            "12",
            "18446744073709551615",
            "18446744073709551616",
            "-5",
            "01",
            "1.",
            "1.5",
            "-1.25e3",
            "1e308",
            "1e309",
            "1.7976931348623157e308",
            "1.8e308",
            "0e99999999999999999999",
            "1e-400",
            "1E+2",
            "\"a\\u00e9\\n\\\"\\/\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud83d\"",
            "\"\\ude00\"",
            "\"\\ud83dx\"",
            "\"\\q\"",
            "\"\\u12\"",
            "\"\\u+123\"",
            "\"tab\there\"",
            "\"\u{7f}é\"",
            "[1,2,]",
            "[1 2]",
            "[]",
            "[ ]",
            "{}",
            "{\"b\":1,\"a\":[true,null],\"b\":2}",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:2}",
            "{\"a\":1}x",
            "nul",
            "nulll",
            "",
            "   ",
            "[\"\\u0000\"]",
            "{\"k\":\"\\u001f\\u007f\"}",
        ];
        for text in cases {
            // serde_json rewrites floats (`1e2` as `100.0`); this module keeps their text.
            if text.contains(['.', 'e', 'E']) || text.contains("-0") || text.len() > 19 {
                assert_eq!(ours(text).is_some(), serde(text).is_some(), "{text:?}");
            } else {
                assert_eq!(ours(text), serde(text), "{text:?}");
            }
            assert_eq!(skips(text), serde_skips(text), "skip {text:?}");
        }
        for n in [126, 127, 128, 300] {
            assert_eq!(ours(&deep(n)).is_some(), serde(&deep(n)).is_some(), "{n}");
            assert!(skips(&deep(n)));
        }
        // Where reading stopped.
        assert_eq!(Json::parse_at(b"{\"a\":1,}"), Err(7));
        assert_eq!(Json::parse_at(b"[1] x"), Err(4));
        assert_eq!(Json::parse_at(b"[1"), Err(2));
        assert!(Json::parse_at(b" [1] ").is_ok());
        // Skipped strings are only checked for syntax.
        assert!(skips("\"\\ud83d\"") && serde_skips("\"\\ud83d\""));
        let invalid_utf8 = b"[\"\xff\"]";
        assert!(Json::parse(invalid_utf8).is_err());
        assert!(serde_json::from_slice::<serde_json::Value>(invalid_utf8).is_err());
        let mut r = Reader::new(invalid_utf8);
        assert!(r.skip().is_ok());
        assert!(serde_json::from_slice::<serde::de::IgnoredAny>(invalid_utf8).is_ok());
    }

    #[test]
    fn writes_as_serde_json() {
        let text = Obj::with_capacity(8)
            .str("a", "x\"y")
            .u64("b", u64::MAX)
            .bool("c", true)
            .bool("d", false)
            .opt_str("e", None)
            .opt_u64("f", Some(0))
            .opt_raw("g", None)
            .opt_raw("h", Some(&array(["1", "{}"])))
            .raw("i", &array(Vec::<String>::new()))
            .raw("j", &string("\u{1}é"))
            .end();
        let serde = serde_json::json!({
            "a": "x\"y", "b": u64::MAX, "c": true, "d": false, "e": null, "f": 0, "g": null,
            "h": [1, {}], "i": [], "j": "\u{1}é",
        });
        assert_eq!(text, serde.to_string());
        assert_eq!(Obj::new().end(), "{}");
    }

    #[test]
    fn quotes_as_serde_json() {
        let s: String = (0u32..0x90)
            .filter_map(char::from_u32)
            .chain("é😀\"\\/".chars())
            .collect();
        let mut out = String::new();
        quote(&mut out, &s);
        assert_eq!(out, serde_json::to_string(&s).unwrap_or_default());
        for s in [
            "",
            "eyJhbGciOiJSUzI1NiJ9.plain-token_run",
            "\"",
            "é\"😀\n\u{1}x\\",
            "\u{1f}é",
            "😀\t",
        ] {
            let mut out = String::from("prefix");
            quote(&mut out, s);
            let expected = serde_json::to_string(s).unwrap_or_default();
            assert_eq!(out, format!("prefix{expected}"), "{s:?}");
        }
    }
}
