//! kumo-logfilter: the Cloud Logging query language over LogEntry-shaped JSON, as documented at
//! <https://cloud.google.com/logging/docs/view/logging-query-language>.
//!
//! Precedence follows Google's doc: NOT (or `-`) binds tightest, then OR, then AND, and
//! juxtaposition is an implicit AND (`a OR NOT b AND NOT c OR d` ==
//! `(a OR (NOT b)) AND ((NOT c) OR d)`). Comparisons are `=`, `!=`, `<`, `<=`, `>`, `>=`, `:`
//! ("has"), `=~` and `!~` (RE2 regular expressions, unanchored and case-sensitive); the value of a
//! comparison may be a parenthesized group (`resource.type = ("a" OR "b")`). A value without a
//! field is a global restriction, searched for in every field. Functions: `log_id`, `source`,
//! `sample`, `ip_in_net` and `SEARCH` (whole-token search). String comparisons are case-insensitive except regular expressions.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;

#[cfg(test)]
mod tests;

/// Google's limit on the length of a query is 20,000 characters; nesting is capped well below
/// what the recursive parser could take.
const MAX_NESTING: usize = 64;
/// Compiled regular expressions are bounded so that one query cannot take the process' memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A rejected query. Display mirrors the text Google returns with INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An unexpected token, as Google reports it: "Unparseable filter: syntax error at line 1,
    /// column 58, token ':'" (seen in nextflow-io/nextflow#3353). UNCONFIRMED: whether Google
    /// counts columns from 0 or 1 (Kumo counts from 1) and what it prints at the end of input
    /// (Kumo prints an empty token).
    #[error("Unparseable filter: syntax error at line {line}, column {column}, token '{token}'")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The offending token's text; empty at the end of the query.
        token: String,
    },
    /// A `=~`/`!~` pattern RE2 rejects. UNCONFIRMED: Google's exact text.
    #[error("Unparseable filter: invalid regular expression \"{pattern}\": {reason}")]
    Regex {
        /// The pattern as written.
        pattern: String,
        /// Why it does not compile.
        reason: String,
    },
    /// A function called with arguments it does not take. UNCONFIRMED: Google's exact text.
    #[error("Unparseable filter: invalid arguments to {function}(): {reason}")]
    Arguments {
        /// `log_id`, `source`, `sample`, `ip_in_net`.
        function: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// What `source()` needs to know about the resource hierarchy. Log containers are
/// `projects/P`, `folders/F`, `organizations/O` (the part of `logName` before `/logs/`).
pub trait Hierarchy {
    /// Whether `resource` is `container` itself or one of its ancestors.
    fn contains(&self, resource: &str, container: &str) -> bool;
}

/// A hierarchy that knows nothing beyond names: a resource contains only itself.
struct Flat;

impl Hierarchy for Flat {
    fn contains(&self, resource: &str, container: &str) -> bool {
        resource == container
    }
}

/// A parsed Logging query.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Expr);

impl Filter {
    /// Parses a query; empty (or comment-only) text matches every entry.
    pub fn parse(text: &str) -> Result<Filter, ParseError> {
        let tokens = lex(text)?;
        if tokens.is_empty() {
            return Ok(Filter(Expr::All));
        }
        let mut parser = Parser {
            tokens,
            at: 0,
            depth: 0,
            end: end_position(text),
        };
        let expr = parser.and(&Leaf::Top)?;
        if parser.at != parser.tokens.len() {
            return Err(parser.syntax_error());
        }
        Ok(Filter(expr))
    }

    /// Whether `entry` (LogEntry JSON) satisfies the query. `source()` only knows that a
    /// container contains itself; use [`Filter::matches_in`] to give it the hierarchy.
    pub fn matches(&self, entry: &Value) -> bool {
        eval(&self.0, entry, &Flat)
    }

    /// Whether `entry` satisfies the query, with `source()` answered by `hierarchy`.
    pub fn matches_in(&self, entry: &Value, hierarchy: &dyn Hierarchy) -> bool {
        eval(&self.0, entry, hierarchy)
    }

    /// Timestamp bounds implied by top-level AND terms on `timestamp`, so a store can pre-filter.
    pub fn timestamp_bounds(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let mut b = (None, None);
        bounds(&self.0, &mut b);
        b
    }

    /// Whether the query calls `source()`, so the caller knows to load the hierarchy.
    pub fn uses_source(&self) -> bool {
        uses_source(&self.0)
    }
}

/// The query in canonical form: every group parenthesized, every value quoted. Parsing the
/// output gives back the same filter.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Has,
    Regex,
    NotRegex,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Has => ":",
            Op::Regex => "=~",
            Op::NotRegex => "!~",
        }
    }
}

/// A compiled RE2 pattern; two patterns are equal when written the same.
#[derive(Debug, Clone)]
struct Pattern(Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// Unquoted `*` after `:`: the field is present.
    Present,
    /// A string, number, severity or timestamp, compared by the field's type.
    Text(String),
    /// The pattern of `=~` / `!~`.
    Pattern(Pattern),
}

/// An IPv4 or IPv6 network for `ip_in_net`.
#[derive(Debug, Clone, PartialEq)]
struct Net {
    text: String,
    address: core::net::IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Vec<String>, Op, Operand),
    /// A global restriction: the text appears in some field.
    Text(String),
    /// `log_id("ID")`: the entry's log id, unescaped, is ID.
    LogId(String),
    /// `source(RESOURCE)`: the entry's log container is RESOURCE or under it.
    Source(String),
    /// `sample(FIELD, FRACTION)`: a deterministic fraction of entries by the field's hash.
    Sample(Vec<String>, f64),
    /// `ip_in_net(FIELD, "NET")`.
    IpInNet(Vec<String>, Net),
    /// `SEARCH("QUERY")` or `SEARCH(FIELD, "QUERY")`: every token of the query (and every
    /// backquoted phrase, as consecutive tokens) is a whole token of the field, or of any field.
    Search(Option<Vec<String>>, String),
}

// ---- lexer ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(Op),
    LParen,
    RParen,
    Minus,
    Dot,
    Comma,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Char offsets in the query, for adjacency (`a.b` vs `a . b`).
    start: usize,
    end: usize,
    line: usize,
    column: usize,
    /// The text as written, for error messages.
    text: String,
}

/// Characters that end a bare word.
fn ends_word(ch: char) -> bool {
    ch.is_whitespace() || "()\":=!<>,.".contains(ch)
}

fn end_position(text: &str) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for ch in text.chars() {
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    while i < chars.len() {
        let ch = chars[i];
        let column = i - line_start + 1;
        let start = i;
        if ch == '\n' {
            i += 1;
            line += 1;
            line_start = i;
            continue;
        }
        if ch.is_whitespace() {
            i += 1;
            continue;
        }
        // `--` starts a comment that runs to the end of the line.
        if ch == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let tok = match ch {
            '"' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(ParseError::Syntax {
                                line,
                                column,
                                token: chars[start..].iter().collect(),
                            });
                        }
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some('"') => value.push('"'),
                                Some('\\') => value.push('\\'),
                                Some('n') => value.push('\n'),
                                Some('t') => value.push('\t'),
                                Some('r') => value.push('\r'),
                                // Other escapes keep their backslash, so that regular
                                // expressions such as "\d+" mean what they say.
                                // UNCONFIRMED: Google's handling of unknown escapes.
                                Some(other) => {
                                    value.push('\\');
                                    value.push(*other);
                                }
                                None => continue,
                            }
                        }
                        Some(other) => {
                            if *other == '\n' {
                                line += 1;
                                line_start = i + 1;
                            }
                            value.push(*other);
                        }
                    }
                    i += 1;
                }
                i += 1;
                Tok::Quoted(value)
            }
            '(' | ')' | '.' | ',' | ':' => {
                i += 1;
                match ch {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '.' => Tok::Dot,
                    ',' => Tok::Comma,
                    _ => Tok::Op(Op::Has),
                }
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (ch, next) {
                    ('=', Some('~')) => (Op::Regex, 2),
                    ('=', _) => (Op::Eq, 1),
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('!', Some('~')) => (Op::NotRegex, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', _) => (Op::Gt, 1),
                    _ => {
                        return Err(ParseError::Syntax {
                            line,
                            column,
                            token: ch.to_string(),
                        });
                    }
                };
                i += len;
                Tok::Op(op)
            }
            // A leading minus negates, except where a value is expected (`x > -1`).
            '-' if !matches!(
                out.last(),
                Some(Token {
                    tok: Tok::Op(_),
                    ..
                })
            ) =>
            {
                i += 1;
                Tok::Minus
            }
            _ => {
                let mut word = String::new();
                while i < chars.len() && (word.is_empty() || !ends_word(chars[i])) {
                    word.push(chars[i]);
                    i += 1;
                }
                Tok::Word(word)
            }
        };
        out.push(Token {
            tok,
            start,
            end: i,
            line,
            column,
            text: chars[start..i.min(chars.len())].iter().collect(),
        });
    }
    Ok(out)
}

// ---- parser ----

/// What a leaf of the expression being parsed is: a whole comparison (top level) or a value of
/// a grouped comparison (`field = (a OR b)`).
enum Leaf {
    Top,
    Value(Vec<String>, Op),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    /// Line and column just past the end of the query.
    end: (usize, usize),
}

fn is_keyword(word: &str) -> bool {
    matches!(word, "AND" | "OR" | "NOT")
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|token| &token.tok)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == word)
    }

    /// Whether the token at `at` starts right where the previous one ends.
    fn adjacent(&self, at: usize) -> bool {
        match (
            at.checked_sub(1).and_then(|p| self.tokens.get(p)),
            self.tokens.get(at),
        ) {
            (Some(previous), Some(next)) => previous.end == next.start,
            _ => false,
        }
    }

    fn syntax_error(&self) -> ParseError {
        match self.tokens.get(self.at) {
            Some(token) => ParseError::Syntax {
                line: token.line,
                column: token.column,
                token: token.text.clone(),
            },
            None => ParseError::Syntax {
                line: self.end.0,
                column: self.end.1,
                token: String::new(),
            },
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), ParseError> {
        if self.peek() != Some(tok) {
            return Err(self.syntax_error());
        }
        self.at += 1;
        Ok(())
    }

    /// `or { ["AND"] or }`: juxtaposition is AND.
    fn and(&mut self, leaf: &Leaf) -> Result<Expr, ParseError> {
        let mut terms = vec![self.or(leaf)?];
        loop {
            match self.peek() {
                None | Some(Tok::RParen) | Some(Tok::Comma) => break,
                Some(Tok::Word(w)) if w == "AND" => self.at += 1,
                _ => {}
            }
            terms.push(self.or(leaf)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn or(&mut self, leaf: &Leaf) -> Result<Expr, ParseError> {
        let mut terms = vec![self.unary(leaf)?];
        while self.peek_word("OR") {
            self.at += 1;
            terms.push(self.unary(leaf)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn unary(&mut self, leaf: &Leaf) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.syntax_error());
        }
        let expr = match self.peek() {
            Some(Tok::Minus) => {
                self.at += 1;
                Expr::Not(Box::new(self.unary(leaf)?))
            }
            Some(Tok::Word(w)) if w == "NOT" => {
                self.at += 1;
                Expr::Not(Box::new(self.unary(leaf)?))
            }
            Some(Tok::LParen) => {
                self.at += 1;
                let inner = self.and(leaf)?;
                self.expect(&Tok::RParen)?;
                inner
            }
            _ => match leaf {
                Leaf::Top => self.primary()?,
                Leaf::Value(path, op) => {
                    let value = self.value(*op)?;
                    Expr::Cmp(path.clone(), *op, value)
                }
            },
        };
        self.depth -= 1;
        Ok(expr)
    }

    /// A function call, a comparison or a global restriction.
    fn primary(&mut self) -> Result<Expr, ParseError> {
        if let Some(Tok::Word(name)) = self.peek().cloned()
            && self.tokens.get(self.at + 1).map(|t| &t.tok) == Some(&Tok::LParen)
            && self.adjacent(self.at + 1)
        {
            return self.call(&name);
        }
        let path = self.path()?;
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            self.at += 1;
            if self.peek() == Some(&Tok::LParen) {
                return self.unary(&Leaf::Value(path, op));
            }
            let value = self.value(op)?;
            return Ok(Expr::Cmp(path, op, value));
        }
        Ok(Expr::Text(path.join(".")))
    }

    /// A field path: segments (bare or quoted) joined by adjacent dots.
    fn path(&mut self) -> Result<Vec<String>, ParseError> {
        let mut path = vec![self.segment()?];
        while self.peek() == Some(&Tok::Dot) && self.adjacent(self.at) && self.adjacent(self.at + 1)
        {
            self.at += 1;
            path.push(self.segment()?);
        }
        Ok(path)
    }

    fn segment(&mut self) -> Result<String, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Word(w)) if !is_keyword(&w) => {
                self.at += 1;
                Ok(w)
            }
            Some(Tok::Quoted(q)) => {
                self.at += 1;
                Ok(q)
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// The value of a comparison: a quoted string, or a bare word whose adjacent dots it
    /// keeps (`10.0.0.1`, `alice@example.com`).
    fn value(&mut self, op: Op) -> Result<Operand, ParseError> {
        let text = match self.peek().cloned() {
            Some(Tok::Quoted(q)) => {
                self.at += 1;
                q
            }
            Some(Tok::Word(w)) if !is_keyword(&w) => {
                self.at += 1;
                let mut text = w;
                while self.peek() == Some(&Tok::Dot) && self.adjacent(self.at) {
                    self.at += 1;
                    text.push('.');
                    if let Some(Tok::Word(more)) = self.peek().cloned()
                        && self.adjacent(self.at)
                    {
                        self.at += 1;
                        text.push_str(&more);
                    }
                }
                if op == Op::Has && text == "*" {
                    return Ok(Operand::Present);
                }
                text
            }
            _ => return Err(self.syntax_error()),
        };
        match op {
            Op::Regex | Op::NotRegex => compile(&text).map(Operand::Pattern),
            _ => Ok(Operand::Text(text)),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, ParseError> {
        let function: &'static str = match name {
            "SEARCH" => "SEARCH",
            "log_id" => "log_id",
            "source" => "source",
            "sample" => "sample",
            "ip_in_net" => "ip_in_net",
            _ => return Err(self.syntax_error()),
        };
        self.at += 2;
        let expr = match function {
            "SEARCH" => {
                // One argument (a string) searches every field; two name the field first.
                let field = match (self.peek(), self.tokens.get(self.at + 1).map(|t| &t.tok)) {
                    (Some(Tok::Quoted(_)), Some(Tok::RParen)) => None,
                    _ => {
                        let path = self.path()?;
                        self.expect(&Tok::Comma)?;
                        Some(path)
                    }
                };
                Expr::Search(field, self.string_argument()?)
            }
            "log_id" => Expr::LogId(self.string_argument()?),
            "source" => {
                let name = self.string_argument()?;
                if !name.contains('/') {
                    return Err(ParseError::Arguments {
                        function,
                        reason: format!("`{name}` is not a resource name"),
                    });
                }
                Expr::Source(name)
            }
            "sample" => {
                let path = self.path()?;
                self.expect(&Tok::Comma)?;
                let text = self.string_argument()?;
                let fraction: f64 = text
                    .parse()
                    .ok()
                    .filter(|f: &f64| (0.0..=1.0).contains(f))
                    .ok_or_else(|| ParseError::Arguments {
                        function,
                        reason: format!("the fraction `{text}` is not between 0 and 1"),
                    })?;
                Expr::Sample(path, fraction)
            }
            _ => {
                let path = self.path()?;
                self.expect(&Tok::Comma)?;
                let text = self.string_argument()?;
                let net = parse_net(&text).ok_or_else(|| ParseError::Arguments {
                    function,
                    reason: format!("`{text}` is not an IP network"),
                })?;
                Expr::IpInNet(path, net)
            }
        };
        self.expect(&Tok::RParen)?;
        Ok(expr)
    }

    /// A quoted string or a bare word with its adjacent dots (`projects/p`, `0.25`).
    fn string_argument(&mut self) -> Result<String, ParseError> {
        match self.value(Op::Eq)? {
            Operand::Text(text) => Ok(text),
            _ => Err(self.syntax_error()),
        }
    }
}

fn compile(pattern: &str) -> Result<Pattern, ParseError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Pattern)
        .map_err(|error| ParseError::Regex {
            pattern: pattern.to_owned(),
            reason: error
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        })
}

fn parse_net(text: &str) -> Option<Net> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: core::net::IpAddr = address.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some(Net {
        text: text.to_owned(),
        address,
        prefix,
    })
}

// ---- evaluation ----

const SEVERITIES: [&str; 9] = [
    "DEFAULT",
    "DEBUG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "CRITICAL",
    "ALERT",
    "EMERGENCY",
];

/// LogSeverity's numbers (DEFAULT 0 … EMERGENCY 800); a number is taken as is.
fn severity_number(text: &str) -> Option<f64> {
    let upper = text.to_ascii_uppercase();
    SEVERITIES
        .iter()
        .position(|name| *name == upper)
        .map(|p| (p * 100) as f64)
        .or_else(|| text.parse().ok())
}

fn leaves<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|x| leaves(x, out)),
        Value::Object(fields) => fields.values().for_each(|x| leaves(x, out)),
        _ => out.push(value),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The values at `path`; arrays on the way (and at the end) stand for each of their elements.
fn resolve<'a>(entry: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let mut current = vec![entry];
    for segment in path {
        current = current
            .into_iter()
            .flat_map(|value| match value {
                Value::Array(items) => items.iter().filter_map(|x| x.get(segment)).collect(),
                _ => value.get(segment).into_iter().collect::<Vec<_>>(),
            })
            .collect();
    }
    current
        .into_iter()
        .flat_map(|value| match value {
            Value::Array(items) => items.iter().collect(),
            _ => vec![value],
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Orders a field's value against the query's, by the field's type: severity names, then
/// timestamps, then numbers, then case-insensitive text.
fn order(path: &[String], got: &str, want: &str) -> Option<Ordering> {
    if path.len() == 1 && path[0] == "severity" {
        return severity_number(got)
            .zip(severity_number(want))
            .and_then(|(a, b)| a.partial_cmp(&b));
    }
    if let (Ok(a), Ok(b)) = (
        DateTime::parse_from_rfc3339(got),
        DateTime::parse_from_rfc3339(want),
    ) {
        return Some(a.cmp(&b));
    }
    if let (Ok(a), Ok(b)) = (got.parse::<f64>(), want.parse::<f64>()) {
        return a.partial_cmp(&b);
    }
    Some(got.to_lowercase().cmp(&want.to_lowercase()))
}

fn compare(path: &[String], value: &Value, op: Op, operand: &Operand) -> bool {
    match operand {
        Operand::Present => true,
        Operand::Pattern(Pattern(regex)) => {
            let mut found = Vec::new();
            leaves(value, &mut found);
            let any = found.iter().any(|leaf| regex.is_match(&scalar(leaf)));
            if op == Op::Regex { any } else { !any }
        }
        Operand::Text(want) => {
            if op == Op::Has {
                let mut found = Vec::new();
                leaves(value, &mut found);
                return found
                    .iter()
                    .any(|leaf| contains_ignoring_case(&scalar(leaf), want));
            }
            if value.is_object() {
                return false;
            }
            let ordering = order(path, &scalar(value), want);
            match op {
                Op::Eq => ordering == Some(Ordering::Equal),
                Op::Ne => ordering != Some(Ordering::Equal),
                Op::Gt => ordering == Some(Ordering::Greater),
                Op::Lt => ordering == Some(Ordering::Less),
                Op::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
                Op::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
                Op::Has | Op::Regex | Op::NotRegex => false,
            }
        }
    }
}

/// FNV-1a with a murmur3 finalizer (FNV alone leaves the high bits of similar ids close): a
/// stable hash, so that `sample()` picks the same entries on every query.
/// UNCONFIRMED: Google does not document its hash; only the fraction is meaningful.
fn stable_hash(text: &str) -> u64 {
    let mut hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

fn in_net(text: &str, net: &Net) -> bool {
    use core::net::IpAddr;
    let Ok(address) = text.parse::<IpAddr>() else {
        return false;
    };
    let (bits, network, width) = match (address, net.address) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    let shift = width - u32::from(net.prefix);
    shift >= width || (bits >> shift) == (network >> shift)
}

/// Lowercased tokens of `text`, split at every character that is not a letter or a digit.
/// UNCONFIRMED: Google documents its own delimiter list (it follows BigQuery's LOG_ANALYZER);
/// splitting at every non-alphanumeric character agrees with it on ordinary text.
fn tokens(text: &str) -> Vec<String> {
    text.split(|ch: char| !ch.is_alphanumeric())
        .filter(|token| !token.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `SEARCH`: every plain token of `query` is a token of some leaf, and every backquoted phrase
/// appears as consecutive tokens of one leaf.
fn search(leaves_tokens: &[Vec<String>], query: &str) -> bool {
    let mut phrases = Vec::new();
    let mut words = Vec::new();
    for (index, part) in query.split('`').enumerate() {
        if index % 2 == 1 {
            phrases.push(tokens(part));
        } else {
            words.extend(tokens(part));
        }
    }
    let has_word = |word: &String| leaves_tokens.iter().any(|leaf| leaf.contains(word));
    let has_phrase = |phrase: &Vec<String>| {
        phrase.is_empty()
            || leaves_tokens.iter().any(|leaf| {
                leaf.windows(phrase.len())
                    .any(|window| window == phrase.as_slice())
            })
    };
    words.iter().all(has_word) && phrases.iter().all(has_phrase)
}

/// The log container of an entry (`projects/P` of `projects/P/logs/ID`).
fn container(entry: &Value) -> Option<(&str, &str)> {
    let log_name = entry.get("logName")?.as_str()?;
    let at = log_name.find("/logs/")?;
    Some((&log_name[..at], &log_name[at + "/logs/".len()..]))
}

fn eval(expr: &Expr, entry: &Value, hierarchy: &dyn Hierarchy) -> bool {
    match expr {
        Expr::All => true,
        Expr::And(terms) => terms.iter().all(|t| eval(t, entry, hierarchy)),
        Expr::Or(terms) => terms.iter().any(|t| eval(t, entry, hierarchy)),
        Expr::Not(inner) => !eval(inner, entry, hierarchy),
        Expr::Text(text) => {
            let mut found = Vec::new();
            leaves(entry, &mut found);
            found
                .iter()
                .any(|leaf| contains_ignoring_case(&scalar(leaf), text))
        }
        // A missing field never matches a comparison, `!=` and `!~` included.
        Expr::Cmp(path, op, operand) => resolve(entry, path)
            .into_iter()
            .any(|value| compare(path, value, *op, operand)),
        Expr::LogId(id) => container(entry).is_some_and(|(_, log_id)| {
            log_id == id || log_id.replace("%2F", "/").replace("%2f", "/") == *id
        }),
        Expr::Source(resource) => {
            container(entry).is_some_and(|(parent, _)| hierarchy.contains(resource, parent))
        }
        Expr::Sample(path, fraction) => resolve(entry, path).first().is_some_and(|value| {
            // The top 53 bits as a fraction in [0, 1).
            let unit = (stable_hash(&scalar(value)) >> 11) as f64 / (1u64 << 53) as f64;
            unit < *fraction
        }),
        Expr::IpInNet(path, net) => resolve(entry, path)
            .into_iter()
            .any(|value| in_net(&scalar(value), net)),
        Expr::Search(field, query) => {
            let mut found = Vec::new();
            match field {
                Some(path) => resolve(entry, path)
                    .into_iter()
                    .for_each(|value| leaves(value, &mut found)),
                None => leaves(entry, &mut found),
            }
            let leaves_tokens: Vec<Vec<String>> =
                found.iter().map(|leaf| tokens(&scalar(leaf))).collect();
            search(&leaves_tokens, query)
        }
    }
}

fn uses_source(expr: &Expr) -> bool {
    match expr {
        Expr::Source(_) => true,
        Expr::And(terms) | Expr::Or(terms) => terms.iter().any(uses_source),
        Expr::Not(inner) => uses_source(inner),
        _ => false,
    }
}

type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn bounds(expr: &Expr, b: &mut Bounds) {
    match expr {
        Expr::And(terms) => terms.iter().for_each(|t| bounds(t, b)),
        Expr::Cmp(path, op, Operand::Text(value)) if path.len() == 1 && path[0] == "timestamp" => {
            if let Ok(t) = DateTime::parse_from_rfc3339(value) {
                let t = t.with_timezone(&Utc);
                match op {
                    Op::Gt | Op::Ge => b.0 = Some(b.0.map_or(t, |o: DateTime<Utc>| o.max(t))),
                    Op::Lt | Op::Le => b.1 = Some(b.1.map_or(t, |o: DateTime<Utc>| o.min(t))),
                    Op::Eq => {
                        b.0 = Some(b.0.map_or(t, |o: DateTime<Utc>| o.max(t)));
                        b.1 = Some(b.1.map_or(t, |o: DateTime<Utc>| o.min(t)));
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

// ---- display ----

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for ch in text.chars() {
        match ch {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            other => write!(f, "{other}")?,
        }
    }
    f.write_str("\"")
}

/// A path segment prints bare when the lexer would read it back as one word.
fn write_path(f: &mut fmt::Formatter<'_>, path: &[String]) -> fmt::Result {
    for (index, segment) in path.iter().enumerate() {
        if index > 0 {
            f.write_str(".")?;
        }
        let bare = !segment.is_empty()
            && !is_keyword(segment)
            && segment
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '@' | '/'));
        if bare {
            f.write_str(segment)?;
        } else {
            write_quoted(f, segment)?;
        }
    }
    Ok(())
}

fn write_joined(f: &mut fmt::Formatter<'_>, terms: &[Expr], keyword: &str) -> fmt::Result {
    f.write_str("(")?;
    for (index, term) in terms.iter().enumerate() {
        if index > 0 {
            write!(f, " {keyword} ")?;
        }
        write!(f, "{term}")?;
    }
    f.write_str(")")
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::All => Ok(()),
            Expr::And(terms) => write_joined(f, terms, "AND"),
            Expr::Or(terms) => write_joined(f, terms, "OR"),
            Expr::Not(inner) => write!(f, "NOT {inner}"),
            Expr::Cmp(path, op, operand) => {
                write_path(f, path)?;
                write!(f, " {} ", op.symbol())?;
                match operand {
                    Operand::Present => f.write_str("*"),
                    Operand::Text(text) => write_quoted(f, text),
                    Operand::Pattern(Pattern(regex)) => write_quoted(f, regex.as_str()),
                }
            }
            Expr::Text(text) => write_quoted(f, text),
            Expr::LogId(id) => {
                f.write_str("log_id(")?;
                write_quoted(f, id)?;
                f.write_str(")")
            }
            Expr::Source(resource) => {
                f.write_str("source(")?;
                write_quoted(f, resource)?;
                f.write_str(")")
            }
            Expr::Sample(path, fraction) => {
                f.write_str("sample(")?;
                write_path(f, path)?;
                write!(f, ", \"{fraction}\")")
            }
            Expr::Search(field, query) => {
                f.write_str("SEARCH(")?;
                if let Some(path) = field {
                    write_path(f, path)?;
                    f.write_str(", ")?;
                }
                write_quoted(f, query)?;
                f.write_str(")")
            }
            Expr::IpInNet(path, net) => {
                f.write_str("ip_in_net(")?;
                write_path(f, path)?;
                f.write_str(", ")?;
                write_quoted(f, &net.text)?;
                f.write_str(")")
            }
        }
    }
}
