//! The CEL that custom constraints are written in, evaluated over the resource as a JSON value
//! (`resource.spec.template.spec.containers[0].image`).
//!
//! kumo-iam's CEL is typed around IAM's fixed attributes (`request.time`, `resource.name`) with no
//! maps, indexing or macros; custom constraints need exactly those, over an arbitrary document,
//! so this is a separate, small interpreter rather than a generalisation of that one.
//!
//! Field selection follows protobuf semantics, since Google evaluates against the resource's
//! proto message: a field the document lacks reads as its default (an "unset" value that behaves
//! as `""`, `0`, `false`, `[]` or `{}` as the comparison needs), while indexing a map with a key
//! it lacks is an error, as in CEL.

use serde_json::Value as Json;

/// Maximum nesting of the parsed tree; bounds recursion on hostile input.
const MAX_DEPTH: usize = 64;

/// Maximum evaluation steps: nested comprehensions over literal lists grow exponentially within
/// 1000 characters, and an evaluation that stops early fails closed.
const MAX_STEPS: usize = 100_000;

/// A condition that could not be parsed; the text says where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ERROR: <input>:1:{column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

/// Why a condition could not be evaluated (the caller fails closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Double(f64),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    In,
    Punct(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

const PUNCT: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%", ".", ",", "(", ")",
    "[", "]", "{", "}", "?", ":",
];

fn err<T>(pos: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        column: pos + 1,
        message: message.into(),
    })
}

fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let off = |i: usize| chars.get(i).map_or(src.len(), |&(o, _)| o);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let pos = off(i);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while at(j).is_some_and(|d| d.is_ascii_digit()) {
                j += 1;
            }
            let fraction = at(j) == Some('.') && at(j + 1).is_some_and(|d| d.is_ascii_digit());
            if fraction {
                j += 1;
                while at(j).is_some_and(|d| d.is_ascii_digit()) {
                    j += 1;
                }
            }
            let text = &src[pos..off(j)];
            let tok = if fraction {
                Tok::Double(text.parse().or_else(|_| err(pos, "malformed number"))?)
            } else {
                Tok::Int(
                    text.parse()
                        .or_else(|_| err(pos, "integer literal is out of range"))?,
                )
            };
            if at(j).is_some_and(|d| d.is_ascii_alphabetic() || d == '_') {
                return err(pos, "Syntax error: malformed number literal");
            }
            out.push(Token { tok, pos });
            i = j;
            continue;
        }
        let raw = matches!(c, 'r' | 'R') && matches!(at(i + 1), Some('\'' | '"'));
        if raw || c == '\'' || c == '"' {
            let start = if raw { i + 1 } else { i };
            let (text, next) = lex_string(src, &chars, start, raw)?;
            out.push(Token {
                tok: Tok::Str(text),
                pos,
            });
            i = next;
            continue;
        }
        if c == '_' || c.is_ascii_alphabetic() {
            let mut j = i;
            while at(j).is_some_and(|d| d == '_' || d.is_ascii_alphanumeric()) {
                j += 1;
            }
            let tok = match &src[pos..off(j)] {
                "true" => Tok::True,
                "false" => Tok::False,
                "null" => Tok::Null,
                "in" => Tok::In,
                word => Tok::Ident(word.to_owned()),
            };
            out.push(Token { tok, pos });
            i = j;
            continue;
        }
        let rest = &src[pos..];
        let Some(p) = PUNCT.iter().find(|p| rest.starts_with(**p)) else {
            return err(
                pos,
                format!("Syntax error: token recognition error at: '{c}'"),
            );
        };
        out.push(Token {
            tok: Tok::Punct(p),
            pos,
        });
        i += p.chars().count();
    }
    Ok(out)
}

fn lex_string(
    src: &str,
    chars: &[(usize, char)],
    start: usize,
    raw: bool,
) -> Result<(String, usize), ParseError> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let pos = chars.get(start).map_or(src.len(), |&(o, _)| o);
    let quote = at(start).unwrap_or('"');
    let mut text = String::new();
    let mut j = start + 1;
    loop {
        let Some(c) = at(j) else {
            return err(pos, "Syntax error: unterminated string literal");
        };
        j += 1;
        if c == quote {
            return Ok((text, j));
        }
        if c != '\\' || raw {
            text.push(c);
            continue;
        }
        let escaped = match at(j) {
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some(e @ ('\\' | '\'' | '"' | '`' | '?')) => e,
            // CEL keeps other escapes for regular expressions only in raw strings; accept `\.`
            // and friends literally so `matches("a\.b")` written without `r` still works.
            Some(e) => {
                text.push('\\');
                e
            }
            None => return err(pos, "Syntax error: unterminated string literal"),
        };
        text.push(escaped);
        j += 1;
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    In,
}

/// The comprehension macros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Macro {
    All,
    Exists,
    ExistsOne,
    Map,
    Filter,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Lit(Val),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Ident(String),
    Select(Box<Expr>, String),
    /// `has(a.b)`.
    Has(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Call {
        name: String,
        target: Option<Box<Expr>>,
        args: Vec<Expr>,
    },
    Comprehension {
        kind: Macro,
        range: Box<Expr>,
        var: String,
        body: Box<Expr>,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
}

/// Functions and methods the evaluator implements; others are refused when the constraint is
/// created, so a stored condition never meets an unknown function.
const FUNCTIONS: &[&str] = &[
    "size",
    "startsWith",
    "endsWith",
    "contains",
    "matches",
    "int",
    "string",
    "lowerAscii",
    "upperAscii",
];

struct Parser<'a> {
    tokens: &'a [Token],
    end: usize,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn here(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.pos)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.peek()
            == Some(&Tok::Punct(match PUNCT.iter().find(|q| **q == p) {
                Some(q) => q,
                None => return false,
            }))
        {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat(p) {
            Ok(())
        } else {
            err(
                self.here(),
                format!("Syntax error: missing '{p}' at {}", self.describe()),
            )
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "'<EOF>'".to_owned(),
            Some(Tok::Punct(p)) => format!("'{p}'"),
            Some(Tok::Ident(i)) => format!("'{i}'"),
            Some(Tok::Str(s)) => format!("'\"{s}\"'"),
            Some(other) => format!("{other:?}"),
        }
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(self.here(), "expression is nested too deeply");
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.nest()?;
        let cond = self.or()?;
        let e = if self.eat("?") {
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            Expr::Cond(Box::new(cond), Box::new(a), Box::new(b))
        } else {
            cond
        };
        self.depth -= 1;
        Ok(e)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.and()?;
        while self.eat("||") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.relation()?;
        while self.eat("&&") {
            e = Expr::And(Box::new(e), Box::new(self.relation()?));
        }
        Ok(e)
    }

    fn relation(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.additive()?;
        loop {
            let op = match self.peek() {
                Some(Tok::In) => Op::In,
                Some(Tok::Punct("==")) => Op::Eq,
                Some(Tok::Punct("!=")) => Op::Ne,
                Some(Tok::Punct("<")) => Op::Lt,
                Some(Tok::Punct("<=")) => Op::Le,
                Some(Tok::Punct(">")) => Op::Gt,
                Some(Tok::Punct(">=")) => Op::Ge,
                _ => return Ok(e),
            };
            self.pos += 1;
            e = Expr::Binary(op, Box::new(e), Box::new(self.additive()?));
        }
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.multiplicative()?;
        loop {
            let op = if self.eat("+") {
                Op::Add
            } else if self.eat("-") {
                Op::Sub
            } else {
                return Ok(e);
            };
            e = Expr::Binary(op, Box::new(e), Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.unary()?;
        loop {
            let op = if self.eat("*") {
                Op::Mul
            } else if self.eat("/") {
                Op::Div
            } else if self.eat("%") {
                Op::Rem
            } else {
                return Ok(e);
            };
            e = Expr::Binary(op, Box::new(e), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.nest()?;
        let e = if self.eat("!") {
            Expr::Not(Box::new(self.unary()?))
        } else if self.eat("-") {
            Expr::Neg(Box::new(self.unary()?))
        } else {
            self.member()?
        };
        self.depth -= 1;
        Ok(e)
    }

    fn member(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                let at = self.here();
                let Some(Tok::Ident(name)) = self.peek().cloned() else {
                    return err(
                        at,
                        format!("Syntax error: no viable alternative at {}", self.describe()),
                    );
                };
                self.pos += 1;
                if self.eat("(") {
                    e = self.method(e, name, at)?;
                } else {
                    e = Expr::Select(Box::new(e), name);
                }
            } else if self.eat("[") {
                let index = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else {
                return Ok(e);
            }
        }
    }

    fn args(&mut self) -> Result<Vec<Expr>, ParseError> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn method(&mut self, target: Expr, name: String, at: usize) -> Result<Expr, ParseError> {
        let kind = match name.as_str() {
            "all" => Some(Macro::All),
            "exists" => Some(Macro::Exists),
            "exists_one" => Some(Macro::ExistsOne),
            "map" => Some(Macro::Map),
            "filter" => Some(Macro::Filter),
            _ => None,
        };
        let args = self.args()?;
        if let Some(kind) = kind {
            let [Expr::Ident(var), body] = <[Expr; 2]>::try_from(args).or_else(|_| {
                err(
                    at,
                    format!("{name}() takes a variable name and an expression"),
                )
            })?
            else {
                return err(at, format!("{name}() argument must be a simple name"));
            };
            return Ok(Expr::Comprehension {
                kind,
                range: Box::new(target),
                var,
                body: Box::new(body),
            });
        }
        if !FUNCTIONS.contains(&name.as_str()) {
            return err(at, format!("undeclared reference to '{name}'"));
        }
        Ok(Expr::Call {
            name,
            target: Some(Box::new(target)),
            args,
        })
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let at = self.here();
        let Some(tok) = self.peek().cloned() else {
            return err(at, "Syntax error: mismatched input '<EOF>'");
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Int(i) => Expr::Lit(Val::Int(i)),
            Tok::Double(d) => Expr::Lit(Val::Double(d)),
            Tok::Str(s) => Expr::Lit(Val::Str(s)),
            Tok::True => Expr::Lit(Val::Bool(true)),
            Tok::False => Expr::Lit(Val::Bool(false)),
            Tok::Null => Expr::Lit(Val::Null),
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                e
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Expr::List(items)
            }
            Tok::Punct("{") => {
                let mut entries = Vec::new();
                if !self.eat("}") {
                    loop {
                        let k = self.expr()?;
                        self.expect(":")?;
                        entries.push((k, self.expr()?));
                        if self.eat("}") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Expr::Map(entries)
            }
            Tok::Ident(name) if self.eat("(") => {
                if name == "has" {
                    let args = self.args()?;
                    let [Expr::Select(target, field)] = <[Expr; 1]>::try_from(args)
                        .or_else(|_| err(at, "has() takes one field selection"))?
                    else {
                        return err(at, "invalid argument to has() macro");
                    };
                    Expr::Has(target, field)
                } else if FUNCTIONS.contains(&name.as_str()) {
                    Expr::Call {
                        name,
                        target: None,
                        args: self.args()?,
                    }
                } else {
                    return err(at, format!("undeclared reference to '{name}'"));
                }
            }
            Tok::Ident(name) => Expr::Ident(name),
            _ => {
                self.pos -= 1;
                return err(
                    at,
                    format!("Syntax error: mismatched input {}", self.describe()),
                );
            }
        })
    }
}

/// Checks that every identifier is `resource` or a variable a macro binds.
fn check_idents(e: &Expr, bound: &mut Vec<String>) -> Result<(), String> {
    match e {
        Expr::Lit(_) => Ok(()),
        Expr::Ident(name) => {
            if name == "resource" || bound.contains(name) {
                Ok(())
            } else {
                Err(format!("undeclared reference to '{name}'"))
            }
        }
        Expr::List(items) => items.iter().try_for_each(|i| check_idents(i, bound)),
        Expr::Map(entries) => entries.iter().try_for_each(|(k, v)| {
            check_idents(k, bound)?;
            check_idents(v, bound)
        }),
        Expr::Select(t, _) | Expr::Has(t, _) | Expr::Not(t) | Expr::Neg(t) => {
            check_idents(t, bound)
        }
        Expr::Index(a, b) | Expr::And(a, b) | Expr::Or(a, b) | Expr::Binary(_, a, b) => {
            check_idents(a, bound)?;
            check_idents(b, bound)
        }
        Expr::Cond(a, b, c) => {
            check_idents(a, bound)?;
            check_idents(b, bound)?;
            check_idents(c, bound)
        }
        Expr::Call { target, args, .. } => {
            if let Some(t) = target {
                check_idents(t, bound)?;
            }
            args.iter().try_for_each(|a| check_idents(a, bound))
        }
        Expr::Comprehension {
            range, var, body, ..
        } => {
            check_idents(range, bound)?;
            bound.push(var.clone());
            let result = check_idents(body, bound);
            bound.pop();
            result
        }
    }
}

/// A parsed custom-constraint condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    ast: Expr,
}

impl Program {
    /// Parses `src`; identifiers other than `resource` (and macro variables) are refused.
    pub fn parse(src: &str) -> Result<Program, ParseError> {
        let tokens = tokenize(src)?;
        let mut p = Parser {
            tokens: &tokens,
            end: src.len(),
            pos: 0,
            depth: 0,
        };
        let ast = p.expr()?;
        if p.peek().is_some() {
            return err(
                p.here(),
                format!("Syntax error: extraneous input {}", p.describe()),
            );
        }
        check_idents(&ast, &mut Vec::new()).or_else(|message| err(0, message))?;
        Ok(Program { ast })
    }

    /// Evaluates against `resource`; the result must be a bool.
    pub fn evaluate(&self, resource: &Json) -> Result<bool, EvalError> {
        let mut env = Env {
            resource,
            vars: Vec::new(),
            steps: 0,
        };
        match env.eval(&self.ast)? {
            Val::Bool(b) => Ok(b),
            other => Err(EvalError(format!(
                "condition must evaluate to bool, got {}",
                other.type_name()
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    /// A field the document does not set: its protobuf default, whatever the type.
    Unset,
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    List(Vec<Val>),
    Map(Vec<(Val, Val)>),
}

impl Val {
    fn from_json(j: &Json) -> Val {
        match j {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Val::Str(s.clone()),
            Json::Array(items) => Val::List(items.iter().map(Val::from_json).collect()),
            Json::Object(map) => Val::Map(
                map.iter()
                    .map(|(k, v)| (Val::Str(k.clone()), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Unset => "unset",
            Val::Null => "null_type",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Double(_) => "double",
            Val::Str(_) => "string",
            Val::List(_) => "list",
            Val::Map(_) => "map",
        }
    }

    /// The value an unset field takes when used as `like`'s type.
    fn default_like(like: &Val) -> Val {
        match like {
            Val::Bool(_) => Val::Bool(false),
            Val::Int(_) => Val::Int(0),
            Val::Double(_) => Val::Double(0.0),
            Val::Str(_) => Val::Str(String::new()),
            Val::List(_) => Val::List(Vec::new()),
            Val::Map(_) => Val::Map(Vec::new()),
            Val::Unset | Val::Null => Val::Null,
        }
    }
}

fn overload(op: &str, a: &Val, b: &Val) -> EvalError {
    EvalError(format!(
        "no such overload: {op}({}, {})",
        a.type_name(),
        b.type_name()
    ))
}

fn equal(a: &Val, b: &Val) -> Result<bool, EvalError> {
    Ok(match (a, b) {
        (Val::Unset, Val::Unset) => true,
        (Val::Unset, other) => equal(&Val::default_like(other), other)?,
        (other, Val::Unset) => equal(other, &Val::default_like(other))?,
        (Val::Int(x), Val::Double(y)) | (Val::Double(y), Val::Int(x)) => (*x as f64) == *y,
        (Val::List(x), Val::List(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .try_fold(true, |acc, (p, q)| Ok::<_, EvalError>(acc && equal(p, q)?))?
        }
        (Val::Map(x), Val::Map(y)) => {
            x.len() == y.len()
                && x.iter().try_fold(true, |acc, (k, v)| {
                    Ok::<_, EvalError>(
                        acc && match lookup(y, k)? {
                            Some(w) => equal(v, w)?,
                            None => false,
                        },
                    )
                })?
        }
        (x, y) if std::mem::discriminant(x) == std::mem::discriminant(y) => x == y,
        (x, y) => return Err(overload("_==_", x, y)),
    })
}

fn lookup<'v>(entries: &'v [(Val, Val)], key: &Val) -> Result<Option<&'v Val>, EvalError> {
    for (k, v) in entries {
        if std::mem::discriminant(k) == std::mem::discriminant(key) && equal(k, key)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

fn compare(op: Op, a: &Val, b: &Val) -> Result<bool, EvalError> {
    let a = match a {
        Val::Unset => Val::default_like(b),
        other => other.clone(),
    };
    let b = match b {
        Val::Unset => Val::default_like(&a),
        other => other.clone(),
    };
    let ord = match (&a, &b) {
        (Val::Int(x), Val::Int(y)) => x.partial_cmp(y),
        (Val::Double(x), Val::Double(y)) => x.partial_cmp(y),
        (Val::Int(x), Val::Double(y)) => (*x as f64).partial_cmp(y),
        (Val::Double(x), Val::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Val::Str(x), Val::Str(y)) => x.partial_cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.partial_cmp(y),
        _ => return Err(overload("_<_", &a, &b)),
    };
    let Some(ord) = ord else {
        return Ok(false);
    };
    Ok(match op {
        Op::Lt => ord.is_lt(),
        Op::Le => ord.is_le(),
        Op::Gt => ord.is_gt(),
        _ => ord.is_ge(),
    })
}

fn as_str(v: Val, what: &str) -> Result<String, EvalError> {
    match v {
        Val::Str(s) => Ok(s),
        Val::Unset => Ok(String::new()),
        other => Err(EvalError(format!(
            "no such overload: {what} on {}",
            other.type_name()
        ))),
    }
}

struct Env<'a> {
    resource: &'a Json,
    vars: Vec<(String, Val)>,
    steps: usize,
}

impl Env<'_> {
    fn bool(&mut self, e: &Expr) -> Result<bool, EvalError> {
        match self.eval(e)? {
            Val::Bool(b) => Ok(b),
            Val::Unset => Ok(false),
            other => Err(EvalError(format!(
                "no such overload: expected bool, got {}",
                other.type_name()
            ))),
        }
    }

    /// `&&` (short = false) and `||` (short = true), commutative over errors as in CEL.
    fn logical(&mut self, a: &Expr, b: &Expr, short: bool) -> Result<Val, EvalError> {
        let left = self.bool(a);
        if left == Ok(short) {
            return Ok(Val::Bool(short));
        }
        let right = self.bool(b);
        if right == Ok(short) {
            return Ok(Val::Bool(short));
        }
        left?;
        right?;
        Ok(Val::Bool(!short))
    }

    fn eval(&mut self, e: &Expr) -> Result<Val, EvalError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(EvalError("evaluation cost limit exceeded".into()));
        }
        Ok(match e {
            Expr::Lit(v) => v.clone(),
            Expr::List(items) => Val::List(
                items
                    .iter()
                    .map(|i| self.eval(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push((self.eval(k)?, self.eval(v)?));
                }
                Val::Map(out)
            }
            Expr::Ident(name) => match self.vars.iter().rev().find(|(n, _)| n == name) {
                Some((_, v)) => v.clone(),
                None if name == "resource" => Val::from_json(self.resource),
                None => return Err(EvalError(format!("undeclared reference to '{name}'"))),
            },
            Expr::Select(target, field) => match self.eval(target)? {
                Val::Map(entries) => lookup(&entries, &Val::Str(field.clone()))?
                    .cloned()
                    .unwrap_or(Val::Unset),
                Val::Unset | Val::Null => Val::Unset,
                other => {
                    return Err(EvalError(format!(
                        "no such field '{field}' on {}",
                        other.type_name()
                    )));
                }
            },
            Expr::Has(target, field) => match self.eval(target)? {
                Val::Map(entries) => Val::Bool(matches!(
                    lookup(&entries, &Val::Str(field.clone()))?,
                    Some(v) if !is_empty(v)
                )),
                Val::Unset | Val::Null => Val::Bool(false),
                other => {
                    return Err(EvalError(format!("invalid has() on {}", other.type_name())));
                }
            },
            Expr::Index(target, index) => {
                let target = self.eval(target)?;
                let index = self.eval(index)?;
                match (&target, &index) {
                    (Val::List(items), Val::Int(i)) => usize::try_from(*i)
                        .ok()
                        .and_then(|i| items.get(i))
                        .cloned()
                        .ok_or_else(|| EvalError(format!("index out of range: {i}")))?,
                    (Val::Unset, Val::Int(i)) => {
                        return Err(EvalError(format!("index out of range: {i}")));
                    }
                    (Val::Map(entries), key) => lookup(entries, key)?
                        .cloned()
                        .ok_or_else(|| EvalError(format!("no such key: {}", show(key))))?,
                    (Val::Unset, key) => {
                        return Err(EvalError(format!("no such key: {}", show(key))));
                    }
                    _ => return Err(overload("_[_]", &target, &index)),
                }
            }
            Expr::Not(inner) => Val::Bool(!self.bool(inner)?),
            Expr::Neg(inner) => match self.eval(inner)? {
                Val::Int(i) => Val::Int(
                    i.checked_neg()
                        .ok_or_else(|| EvalError("integer overflow".into()))?,
                ),
                Val::Double(d) => Val::Double(-d),
                other => {
                    return Err(EvalError(format!(
                        "no such overload: -_({})",
                        other.type_name()
                    )));
                }
            },
            Expr::And(a, b) => self.logical(a, b, false)?,
            Expr::Or(a, b) => self.logical(a, b, true)?,
            Expr::Cond(c, a, b) => {
                if self.bool(c)? {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            Expr::Binary(op, a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                binary(*op, a, b)?
            }
            Expr::Call { name, target, args } => {
                let target = match target {
                    Some(t) => Some(self.eval(t)?),
                    None => None,
                };
                let args = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<Vec<_>, _>>()?;
                call(name, target, args)?
            }
            Expr::Comprehension {
                kind,
                range,
                var,
                body,
            } => {
                let items: Vec<Val> = match self.eval(range)? {
                    Val::List(items) => items,
                    Val::Map(entries) => entries.into_iter().map(|(k, _)| k).collect(),
                    Val::Unset => Vec::new(),
                    other => {
                        return Err(EvalError(format!(
                            "no such overload: comprehension over {}",
                            other.type_name()
                        )));
                    }
                };
                self.comprehension(*kind, items, var, body)?
            }
        })
    }

    fn comprehension(
        &mut self,
        kind: Macro,
        items: Vec<Val>,
        var: &str,
        body: &Expr,
    ) -> Result<Val, EvalError> {
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            self.vars.push((var.to_owned(), item.clone()));
            let r = match kind {
                Macro::Map => self.eval(body),
                _ => self.bool(body).map(Val::Bool),
            };
            self.vars.pop();
            results.push((item, r));
        }
        let bools = |want: bool| {
            // Like `&&`/`||`: a deciding element wins over an error elsewhere.
            let mut error = None;
            for (_, r) in &results {
                match r {
                    Ok(Val::Bool(b)) if *b == want => return Ok(true),
                    Ok(_) => {}
                    Err(e) => error = Some(e.clone()),
                }
            }
            match error {
                Some(e) => Err(e),
                None => Ok(false),
            }
        };
        Ok(match kind {
            Macro::All => Val::Bool(!bools(false)?),
            Macro::Exists => Val::Bool(bools(true)?),
            Macro::ExistsOne => {
                let mut count = 0;
                for (_, r) in results {
                    if r? == Val::Bool(true) {
                        count += 1;
                    }
                }
                Val::Bool(count == 1)
            }
            Macro::Map => Val::List(
                results
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect::<Result<_, _>>()?,
            ),
            Macro::Filter => {
                let mut kept = Vec::new();
                for (item, r) in results {
                    if r? == Val::Bool(true) {
                        kept.push(item);
                    }
                }
                Val::List(kept)
            }
        })
    }
}

fn is_empty(v: &Val) -> bool {
    match v {
        Val::Unset | Val::Null => true,
        Val::Bool(b) => !b,
        Val::Int(i) => *i == 0,
        Val::Double(d) => *d == 0.0,
        Val::Str(s) => s.is_empty(),
        Val::List(items) => items.is_empty(),
        Val::Map(entries) => entries.is_empty(),
    }
}

fn show(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Int(i) => i.to_string(),
        other => other.type_name().to_owned(),
    }
}

fn binary(op: Op, a: Val, b: Val) -> Result<Val, EvalError> {
    Ok(match op {
        Op::Eq => Val::Bool(equal(&a, &b)?),
        Op::Ne => Val::Bool(!equal(&a, &b)?),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => Val::Bool(compare(op, &a, &b)?),
        Op::In => match &b {
            Val::List(items) => {
                let mut found = false;
                for item in items {
                    // Mixed-type lists: an element of another type simply does not match.
                    if equal(&a, item).unwrap_or(false) {
                        found = true;
                        break;
                    }
                }
                Val::Bool(found)
            }
            Val::Map(entries) => Val::Bool(lookup(entries, &a)?.is_some()),
            Val::Unset => Val::Bool(false),
            _ => return Err(overload("@in", &a, &b)),
        },
        Op::Add => match (a, b) {
            (Val::Int(x), Val::Int(y)) => Val::Int(
                x.checked_add(y)
                    .ok_or_else(|| EvalError("integer overflow".into()))?,
            ),
            (Val::Double(x), Val::Double(y)) => Val::Double(x + y),
            (Val::Str(x), Val::Str(y)) => Val::Str(x + &y),
            (Val::List(mut x), Val::List(y)) => {
                x.extend(y);
                Val::List(x)
            }
            (x, y) => return Err(overload("_+_", &x, &y)),
        },
        Op::Sub | Op::Mul | Op::Div | Op::Rem => match (&a, &b) {
            (Val::Int(x), Val::Int(y)) => {
                let r = match op {
                    Op::Sub => x.checked_sub(*y),
                    Op::Mul => x.checked_mul(*y),
                    Op::Div => x.checked_div(*y),
                    _ => x.checked_rem(*y),
                };
                Val::Int(r.ok_or_else(|| EvalError("integer overflow or division by zero".into()))?)
            }
            (Val::Double(x), Val::Double(y)) => Val::Double(match op {
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                _ => return Err(overload("_%_", &a, &b)),
            }),
            _ => return Err(overload("arithmetic", &a, &b)),
        },
    })
}

fn call(name: &str, target: Option<Val>, args: Vec<Val>) -> Result<Val, EvalError> {
    // `size(x)` and `x.size()` are the same function; so are the conversions.
    let (subject, mut rest) = match target {
        Some(t) => (t, args),
        None => {
            let mut args = args;
            if args.is_empty() {
                return Err(EvalError(format!("no such overload: {name}()")));
            }
            let first = args.remove(0);
            (first, args)
        }
    };
    match name {
        "size" => {
            if !rest.is_empty() {
                return Err(EvalError("no such overload: size".into()));
            }
            let n = match &subject {
                Val::Str(s) => s.chars().count(),
                Val::List(items) => items.len(),
                Val::Map(entries) => entries.len(),
                Val::Unset => 0,
                other => {
                    return Err(EvalError(format!(
                        "no such overload: size({})",
                        other.type_name()
                    )));
                }
            };
            Ok(Val::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        "int" => match subject {
            Val::Int(i) => Ok(Val::Int(i)),
            Val::Double(d) if d.is_finite() => Ok(Val::Int(d.trunc() as i64)),
            Val::Str(s) => s
                .parse()
                .map(Val::Int)
                .map_err(|_| EvalError(format!("cannot convert \"{s}\" to int"))),
            other => Err(EvalError(format!(
                "no such overload: int({})",
                other.type_name()
            ))),
        },
        "string" => Ok(Val::Str(match subject {
            Val::Str(s) => s,
            Val::Int(i) => i.to_string(),
            Val::Double(d) => d.to_string(),
            Val::Bool(b) => b.to_string(),
            Val::Unset => String::new(),
            other => {
                return Err(EvalError(format!(
                    "no such overload: string({})",
                    other.type_name()
                )));
            }
        })),
        "lowerAscii" | "upperAscii" => {
            if !rest.is_empty() {
                return Err(EvalError(format!("no such overload: {name}")));
            }
            let s = as_str(subject, name)?;
            Ok(Val::Str(if name == "lowerAscii" {
                s.to_ascii_lowercase()
            } else {
                s.to_ascii_uppercase()
            }))
        }
        _ => {
            if rest.len() != 1 {
                return Err(EvalError(format!(
                    "no such overload: {name} with {} arguments",
                    rest.len()
                )));
            }
            let s = as_str(subject, name)?;
            let arg = as_str(rest.remove(0), name)?;
            Ok(Val::Bool(match name {
                "startsWith" => s.starts_with(&arg),
                "endsWith" => s.ends_with(&arg),
                "contains" => s.contains(&arg),
                "matches" => regex::Regex::new(&arg)
                    .map_err(|e| EvalError(format!("invalid regular expression: {e}")))?
                    .is_match(&s),
                _ => return Err(EvalError(format!("undeclared reference to '{name}'"))),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(src: &str, doc: &Json) -> Result<bool, EvalError> {
        match Program::parse(src) {
            Ok(p) => p.evaluate(doc),
            Err(e) => Err(EvalError(format!("parse: {e}"))),
        }
    }

    #[test]
    fn conditions_over_a_knative_service() {
        let doc = json!({
            "metadata": {"name": "web", "annotations": {"run.googleapis.com/ingress": "internal"}},
            "spec": {"template": {"spec": {"containers": [
                {"image": "us-docker.pkg.dev/p/r/web:1", "resources": {"limits": {"memory": "512Mi"}}},
                {"image": "gcr.io/p/sidecar"}
            ], "timeoutSeconds": 300}}}
        });
        let cases: &[(&str, Result<bool, ()>)] = &[
            (
                "resource.spec.template.spec.containers[0].image.startsWith('us-docker.pkg.dev/')",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers.all(c, c.image.startsWith('us-docker.pkg.dev/'))",
                Ok(false),
            ),
            (
                "resource.spec.template.spec.containers.exists(c, c.image.contains('sidecar'))",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers.exists_one(c, c.image.endsWith(':1'))",
                Ok(true),
            ),
            (
                "size(resource.spec.template.spec.containers) == 2",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers.size() > 1 && true",
                Ok(true),
            ),
            (
                "resource.metadata.annotations['run.googleapis.com/ingress'] in ['internal', 'internal-and-cloud-load-balancing']",
                Ok(true),
            ),
            (
                "resource.metadata.annotations['run.googleapis.com/ingress'] == 'all'",
                Ok(false),
            ),
            (
                "resource.metadata.annotations['run.googleapis.com/ingress'] != 'all'",
                Ok(true),
            ),
            (
                "'run.googleapis.com/ingress' in resource.metadata.annotations",
                Ok(true),
            ),
            ("!('x' in resource.metadata.annotations)", Ok(true)),
            ("resource.metadata.name.matches('^w[a-z]+$')", Ok(true)),
            ("resource.metadata.name.matches(r'^x\\d')", Ok(false)),
            ("has(resource.spec.template.spec.timeoutSeconds)", Ok(true)),
            (
                "has(resource.spec.template.spec.serviceAccountName)",
                Ok(false),
            ),
            (
                "resource.spec.template.spec.timeoutSeconds <= 300",
                Ok(true),
            ),
            ("resource.spec.template.spec.timeoutSeconds > 3.5", Ok(true)),
            // Unset fields read as their defaults.
            (
                "resource.spec.template.spec.serviceAccountName == ''",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containerConcurrency == 0",
                Ok(true),
            ),
            (
                "resource.spec.template.metadata.annotations.all(k, k.startsWith('x'))",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers[0].resources.limits['memory'] == '512Mi'",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers.map(c, c.image).filter(i, i.startsWith('gcr.io')).size() == 1",
                Ok(true),
            ),
            ("resource.metadata.name == 'web' ? true : false", Ok(true)),
            (
                "resource.metadata.name == 'web' || resource.metadata.annotations['missing'] == 'x'",
                Ok(true),
            ),
            (
                "resource.metadata.name == 'x' && resource.metadata.annotations['missing'] == 'x'",
                Ok(false),
            ),
            // Errors: a missing map key, an index out of range, a type mismatch, non-bool.
            ("resource.metadata.annotations['missing'] == 'x'", Err(())),
            (
                "resource.spec.template.spec.containers[5].image == ''",
                Err(()),
            ),
            ("resource.metadata.name == 1", Err(())),
            ("resource.metadata.name", Err(())),
        ];
        for (src, expected) in cases {
            let got = eval(src, &doc);
            match expected {
                Ok(b) => assert_eq!(got, Ok(*b), "{src}"),
                Err(()) => assert!(got.is_err(), "{src}: {got:?}"),
            }
        }
    }

    #[test]
    fn parse_errors_name_the_problem() {
        for (src, needle) in [
            ("resource.name ==", "mismatched input '<EOF>'"),
            ("request.time > 1", "undeclared reference to 'request'"),
            (
                "resource.name.frobnicate()",
                "undeclared reference to 'frobnicate'",
            ),
            ("resource.x.all(1, true)", "simple name"),
            ("has(resource)", "invalid argument to has()"),
            ("resource.a = 1", "token recognition error"),
            ("'unterminated", "unterminated string"),
            ("(resource.a", "missing ')'"),
        ] {
            let e = Program::parse(src).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(needle)),
                "{src}: {e:?}"
            );
        }
        let deep = format!("{}true{}", "(".repeat(200), ")".repeat(200));
        assert!(Program::parse(&deep).is_err());
    }

    #[test]
    fn exponential_conditions_stop_at_the_cost_limit() {
        let ten = "[0,0,0,0,0,0,0,0,0,0]";
        let mut src = "true".to_owned();
        for i in 0..8 {
            src = format!("{ten}.all(v{i}, {src})");
        }
        let err = eval(&src, &json!({}));
        assert_eq!(err, Err(EvalError("evaluation cost limit exceeded".into())));
    }
}
