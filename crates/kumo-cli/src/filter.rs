//! gcloud's `--filter` expressions (`gcloud topic filters`), evaluated on the client as gcloud
//! evaluates them (`resource_filter`, `resource_expr`).
//!
//! Grammar: terms joined by `AND`, `OR`, `NOT` (also `-term`), parentheses, and juxtaposition
//! (an implicit AND); `AND` and `OR` in one parenthesis group need parentheses. A term is
//! `KEY OP OPERAND` with `OP` one of `:` `=` `!=` `<` `<=` `>` `>=` `~` `!~`, or a bare word: a
//! *global restriction*, true when any value of the resource contains the word, case
//! insensitively. Keys are format keys ([`crate::format`]): camel/snake case lookup, the
//! command's column labels, transforms (`name.segment()=x`).
//!
//! Matching (gcloud's current, "deprecated" behaviour, which its evaluator returns): `=` is a
//! case-insensitive match of the whole value (`^word$`); `:` a case-insensitive substring
//! match, `abc*` a prefix, `*abc` a suffix, `a*c` both, `*` any non-empty value; both accept a
//! `(a,b)` list of operands; a list value matches when any element matches, a map when any key
//! or value does. Numbers compare as numbers when both sides are numeric; RFC 3339 times as
//! times; anything else as strings. `~` is an unanchored regular expression (case sensitive).

use std::cmp::Ordering;

use regex::Regex;
use serde_json::Value;

use crate::error::CliError;
use crate::format::{Column, Keys, parse_column};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Has,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Re,
    NotRe,
}

#[derive(Debug)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// A bare word: any value contains it, case-insensitively.
    Global(String),
    Term {
        key: Column,
        op: Op,
        operands: Vec<String>,
        regex: Option<Regex>,
    },
}

/// A parsed `--filter`.
#[derive(Debug)]
pub struct Filter(Option<Expr>);

const OPERATOR_CHARS: &[char] = &[':', '=', '!', '<', '>', '~'];

fn syntax(msg: String) -> CliError {
    CliError::Usage(format!("argument --filter: {msg}"))
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
    /// One set per parenthesis level: which of AND/OR it has seen.
    groups: Vec<(bool, bool)>,
}

impl<'a> Parser<'a> {
    fn annotate(&self) -> String {
        let before: String = self.chars[..self.pos].iter().collect();
        let after: String = self.chars[self.pos..].iter().collect();
        format!("{before} *HERE* {after}").trim().to_owned()
    }

    fn skip_space(&mut self) -> bool {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
        self.pos < self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// A logical keyword at the cursor, followed by a space, `(` or the end.
    fn keyword(&mut self, word: &str, consume: bool) -> bool {
        self.skip_space();
        let n = word.chars().count();
        let here: String = self.chars[self.pos..].iter().take(n).collect();
        if here != word {
            return false;
        }
        let after = self.chars.get(self.pos + n);
        let ok = after.is_none_or(|c| c.is_whitespace() || *c == '(');
        if ok && consume {
            self.pos += n;
        }
        ok
    }

    fn check_group(&mut self, and: bool) -> Result<(), CliError> {
        let group = self
            .groups
            .last_mut()
            .ok_or_else(|| syntax("bad nesting".into()))?;
        if and {
            group.0 = true;
        } else {
            group.1 = true;
        }
        if group.0 && group.1 {
            return Err(syntax(format!(
                "Parenthesis grouping is required when AND and OR are are combined [{}].",
                self.annotate()
            )));
        }
        Ok(())
    }

    fn expr(&mut self, must: bool) -> Result<Option<Expr>, CliError> {
        let Some(mut tree) = self.adj_term(must)? else {
            return Ok(None);
        };
        loop {
            self.skip_space();
            if self.keyword("AND", false)
                || self.keyword("OR", false)
                || self.peek() == Some(')')
                || self.peek().is_none()
            {
                return Ok(Some(tree));
            }
            let right = self.adj_term(true)?.ok_or_else(|| self.term_expected())?;
            tree = Expr::And(Box::new(tree), Box::new(right));
        }
    }

    fn term_expected(&self) -> CliError {
        syntax(format!("Term expected [{}].", self.annotate()))
    }

    fn adj_term(&mut self, must: bool) -> Result<Option<Expr>, CliError> {
        let Some(mut tree) = self.or_term(must)? else {
            return Ok(None);
        };
        while self.keyword("OR", true) {
            self.check_group(false)?;
            let right = self.or_term(true)?.ok_or_else(|| self.term_expected())?;
            tree = Expr::Or(Box::new(tree), Box::new(right));
        }
        Ok(Some(tree))
    }

    fn or_term(&mut self, must: bool) -> Result<Option<Expr>, CliError> {
        let Some(mut tree) = self.and_term(must)? else {
            return Ok(None);
        };
        while self.keyword("AND", true) {
            self.check_group(true)?;
            let right = self.and_term(true)?.ok_or_else(|| self.term_expected())?;
            tree = Expr::And(Box::new(tree), Box::new(right));
        }
        Ok(Some(tree))
    }

    fn and_term(&mut self, must: bool) -> Result<Option<Expr>, CliError> {
        if self.keyword("NOT", true) {
            let t = self.term(true)?.ok_or_else(|| self.term_expected())?;
            return Ok(Some(Expr::Not(Box::new(t))));
        }
        self.term(must)
    }

    /// Reads a token up to whitespace or one of `stops`, honouring quotes (removed) and
    /// brackets/parentheses (kept) so that `a.b[0]` and `x.segment(1)` stay whole.
    fn token(&mut self, stops: &[char], key: bool) -> Result<String, CliError> {
        let mut out = String::new();
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            if depth == 0 && (c.is_whitespace() || stops.contains(&c)) {
                break;
            }
            match c {
                '\'' | '"' => {
                    let rest = &self.chars[self.pos + 1..];
                    let end = rest
                        .iter()
                        .position(|&d| d == c)
                        .ok_or_else(|| syntax(format!("Unterminated string [{}].", self.text)))?;
                    // Keys keep their quotes (the key parser removes them); operands do not.
                    if key {
                        out.push(c);
                        out.extend(&rest[..end]);
                        out.push(c);
                    } else {
                        out.extend(&rest[..end]);
                    }
                    self.pos += end + 2;
                    continue;
                }
                '(' | '[' if key => depth += 1,
                ')' | ']' if key && depth > 0 => depth -= 1,
                ')' => break,
                _ => {}
            }
            out.push(c);
            self.pos += 1;
        }
        Ok(out)
    }

    /// gcloud's `_ParseOperator`: a first operator character, and a second one when the next
    /// character can continue an operator (`!=`, `!~`, `<=`, `>=`); any other pair is malformed.
    fn operator(&mut self) -> Result<Option<Op>, CliError> {
        self.skip_space();
        let Some(c) = self.peek().filter(|c| OPERATOR_CHARS.contains(c)) else {
            return Ok(None);
        };
        let next = self
            .chars
            .get(self.pos + 1)
            .copied()
            .filter(|n| OPERATOR_CHARS.contains(n));
        let op = match (c, next) {
            ('!', Some('=')) => Some(Op::Ne),
            ('!', Some('~')) => Some(Op::NotRe),
            ('<', Some('=')) => Some(Op::Le),
            ('>', Some('=')) => Some(Op::Ge),
            (_, Some(_)) => None,
            (':', None) => Some(Op::Has),
            ('=', None) => Some(Op::Eq),
            ('<', None) => Some(Op::Lt),
            ('>', None) => Some(Op::Gt),
            ('~', None) => Some(Op::Re),
            _ => None,
        };
        let Some(op) = op else {
            return Err(syntax(format!("Malformed operator [{}].", self.annotate())));
        };
        self.pos += if next.is_some() { 2 } else { 1 };
        Ok(Some(op))
    }

    fn term(&mut self, must: bool) -> Result<Option<Expr>, CliError> {
        if !self.skip_space() {
            return if must {
                Err(self.term_expected())
            } else {
                Ok(None)
            };
        }
        if self.peek() == Some(')') {
            return Ok(None);
        }
        if self.peek() == Some('(') {
            self.pos += 1;
            self.groups.push((false, false));
            let tree = self.expr(false)?;
            self.skip_space();
            if self.peek() != Some(')') {
                return Err(syntax(format!("Unmatched ( [{}].", self.annotate())));
            }
            self.pos += 1;
            self.groups.pop();
            return Ok(tree);
        }
        let invert = if self.peek() == Some('-') {
            self.pos += 1;
            true
        } else {
            false
        };
        let key_text = self.token(OPERATOR_CHARS, true)?;
        if key_text.is_empty() {
            return Err(self.term_expected());
        }
        let tree = match self.operator()? {
            None => {
                if key_text == "AND" || key_text == "OR" {
                    return Err(self.term_expected());
                }
                Expr::Global(unquote_all(&key_text))
            }
            Some(op) => {
                let key = parse_column(&key_text)
                    .map_err(|m| syntax(format!("{m} [{}].", self.annotate())))?;
                self.skip_space();
                let operands = if matches!(op, Op::Eq | Op::Has) && self.peek() == Some('(') {
                    self.pos += 1;
                    let mut list = Vec::new();
                    loop {
                        self.skip_space();
                        match self.peek() {
                            Some(')') => {
                                self.pos += 1;
                                break;
                            }
                            Some(',') => self.pos += 1,
                            Some(_) => {
                                let t = self.token(&[',', ')'], false)?;
                                if t != "AND" && t != "OR" && t != "NOT" && !t.is_empty() {
                                    list.push(t);
                                }
                            }
                            None => {
                                return Err(syntax(format!("Unmatched ( [{}].", self.annotate())));
                            }
                        }
                    }
                    list
                } else {
                    if self.keyword("AND", false)
                        || self.keyword("OR", false)
                        || self.keyword("NOT", false)
                    {
                        return Err(syntax(format!(
                            "Logical operator not expected [{}].",
                            self.annotate()
                        )));
                    }
                    if self.peek().is_none() {
                        return Err(syntax(format!(
                            "Term operand expected [{}].",
                            self.annotate()
                        )));
                    }
                    vec![self.token(&['(', ')'], false)?]
                };
                let regex = match op {
                    Op::Re | Op::NotRe => {
                        let pattern = operands.first().map(String::as_str).unwrap_or("");
                        Some(Regex::new(pattern).map_err(|e| {
                            syntax(format!("Filter expression RE pattern [{pattern}]: {e}"))
                        })?)
                    }
                    _ => None,
                };
                if op == Op::Has && operands.iter().any(|o| o.matches('*').count() > 1) {
                    return Err(syntax(format!(
                        "At most one * expected in : patterns [{}].",
                        self.annotate()
                    )));
                }
                Expr::Term {
                    key,
                    op,
                    operands,
                    regex,
                }
            }
        };
        Ok(Some(if invert {
            Expr::Not(Box::new(tree))
        } else {
            tree
        }))
    }
}

fn unquote_all(s: &str) -> String {
    s.chars().filter(|c| *c != '\'' && *c != '"').collect()
}

impl Filter {
    /// Parses a `--filter` expression; an empty one matches everything.
    pub fn parse(text: &str) -> Result<Filter, CliError> {
        let mut p = Parser {
            text,
            chars: text.chars().collect(),
            pos: 0,
            groups: vec![(false, false)],
        };
        let tree = p.expr(false)?;
        p.skip_space();
        if p.pos < p.chars.len() {
            return Err(syntax(format!("Unexpected [{}].", p.annotate())));
        }
        Ok(Filter(tree))
    }

    /// Whether `item` passes the filter; `keys` resolves the command's labels and attributes.
    pub fn matches(&self, item: &Value, keys: &Keys) -> bool {
        self.0.as_ref().is_none_or(|e| eval(e, item, keys))
    }
}

fn eval(e: &Expr, item: &Value, keys: &Keys) -> bool {
    match e {
        Expr::And(a, b) => eval(a, item, keys) && eval(b, item, keys),
        Expr::Or(a, b) => eval(a, item, keys) || eval(b, item, keys),
        Expr::Not(a) => !eval(a, item, keys),
        Expr::Global(word) => global(item, &word.to_lowercase()),
        Expr::Term {
            key,
            op,
            operands,
            regex,
        } => {
            let value = keys.eval(key, item, true);
            let values: Vec<&Value> = match &value {
                Value::Array(items) if !items.is_empty() => items.iter().collect(),
                other => vec![other],
            };
            values
                .iter()
                .any(|v| operands.iter().any(|o| apply(*op, v, o, regex.as_ref())))
        }
    }
}

/// gcloud's `EvaluateGlobalRestriction`: any string or number in the resource (keys starting
/// with `_` skipped) contains the word, case-insensitively.
fn global(v: &Value, word: &str) -> bool {
    match v {
        Value::String(s) => s.to_lowercase().contains(word),
        Value::Number(n) => n.to_string().contains(word),
        Value::Bool(b) => (if *b { "true" } else { "false" }).contains(word),
        Value::Array(items) => items.iter().any(|i| global(i, word)),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| !k.starts_with('_') && global(v, word)),
        Value::Null => false,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// The operand as a number: `true`/`false` are 1/0 (gcloud's numeric constants).
fn operand_number(o: &str) -> Option<f64> {
    match o.to_lowercase().as_str() {
        "true" => Some(1.0),
        "false" => Some(0.0),
        _ => o.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
    }
}

fn time(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let s = s.trim();
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
                .ok()
                .map(|t| t.and_utc().fixed_offset())
        })
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().fixed_offset())
        })
}

/// The text `=`/`:` match against: Python's `str()` lowered (numbers lose a `.0` tail).
fn match_text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::String(s) => s.to_lowercase(),
        Value::Bool(b) => (if *b { "true" } else { "false" }).to_owned(),
        Value::Number(n) => {
            let t = n.to_string();
            match t.split_once('.') {
                Some((int, frac)) if frac.chars().all(|c| c == '0') => int.to_owned(),
                _ => t,
            }
        }
        other => crate::format::render_scalar(other).to_lowercase(),
    }
}

/// `=`: the whole value, case-insensitively; numbers numerically.
fn word_eq(v: &Value, operand: &str) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| word_eq(&Value::String(k.clone()), operand) || word_eq(x, operand)),
        Value::Array(items) => items.iter().any(|i| word_eq(i, operand)),
        _ => {
            if let (Value::Number(_) | Value::Bool(_), Some(a), Some(b)) =
                (v, number(v), operand_number(operand))
                && a == b
            {
                return true;
            }
            if v.is_null() && operand.is_empty() {
                return true;
            }
            match_text(v) == operand.to_lowercase()
        }
    }
}

/// `:`: substring (or `*` pattern), case-insensitively.
fn word_has(v: &Value, operand: &str) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| word_has(&Value::String(k.clone()), operand) || word_has(x, operand)),
        Value::Array(items) => items.iter().any(|i| word_has(i, operand)),
        _ => {
            if let (Value::Number(_) | Value::Bool(_), Some(a), Some(b)) =
                (v, number(v), operand_number(operand))
                && a == b
            {
                return true;
            }
            if v.is_null() {
                if operand.is_empty() {
                    return true;
                }
                if operand == "*" {
                    return false;
                }
            }
            let text = match_text(v);
            let pattern = operand.to_lowercase();
            if pattern == "*" {
                return !text.is_empty();
            }
            match pattern.split_once('*') {
                None => text.contains(&pattern),
                Some(("", suffix)) => text.ends_with(suffix),
                Some((prefix, "")) => text.starts_with(prefix),
                Some((prefix, suffix)) => {
                    text.len() >= prefix.len() + suffix.len()
                        && text.starts_with(prefix)
                        && text.ends_with(suffix)
                }
            }
        }
    }
}

/// `<`, `<=`, `>`, `>=`: numbers, then times, then strings.
fn compare(v: &Value, operand: &str) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (number(v), operand_number(operand)) {
        return a.partial_cmp(&b);
    }
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => return None,
        other => crate::format::render_scalar(other),
    };
    if let (Some(a), Some(b)) = (time(&text), time(operand)) {
        return Some(a.cmp(&b));
    }
    Some(text.as_str().cmp(operand))
}

/// Python's `_NumericType(value)`: numbers and booleans as they are, strings through
/// `int()`/`float()`; `None` when the value does not convert.
fn py_number(v: &Value) -> Option<Value> {
    match v {
        Value::Number(_) => Some(v.clone()),
        Value::Bool(b) => Some(Value::from(i64::from(*b))),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>().map(Value::from).ok().or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
        }
        _ => None,
    }
}

/// One value against one operand, as gcloud's `_ExprOperator.Evaluate` does: with a numeric
/// operand and a value that converts to a number, the numeric comparison decides (unless the
/// operand is `true`/`false`, which may still match as text); otherwise the text comparison.
fn apply(op: Op, v: &Value, operand: &str, regex: Option<&Regex>) -> bool {
    if !matches!(op, Op::Re | Op::NotRe)
        && let Some(on) = operand_number(operand)
        && let Some(vn) = py_number(v)
    {
        let a = number(&vn).unwrap_or(f64::NAN);
        let hit = match op {
            Op::Eq => word_eq(&vn, operand),
            Op::Ne => !word_eq(&vn, operand),
            Op::Has => word_has(&vn, operand),
            Op::Lt => a < on,
            Op::Le => a <= on,
            Op::Gt => a > on,
            Op::Ge => a >= on,
            Op::Re | Op::NotRe => false,
        };
        let constant = matches!(operand.to_lowercase().as_str(), "true" | "false");
        if hit || !constant {
            return hit;
        }
    }
    match op {
        Op::Eq => word_eq(v, operand),
        Op::Ne => !word_eq(v, operand),
        Op::Has => word_has(v, operand),
        Op::Lt => compare(v, operand) == Some(Ordering::Less),
        Op::Le => matches!(compare(v, operand), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => compare(v, operand) == Some(Ordering::Greater),
        Op::Ge => matches!(
            compare(v, operand),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        Op::Re | Op::NotRe => {
            // Python stringizes numbers and booleans for a regular expression.
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => crate::format::render_scalar(v),
                _ => return false,
            };
            let found = regex.is_some_and(|r| r.is_match(&text));
            if op == Op::Re { found } else { !found }
        }
    }
}

#[cfg(test)]
mod tests;
