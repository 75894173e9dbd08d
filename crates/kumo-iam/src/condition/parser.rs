//! Recursive-descent parser following CEL's precedence: `||` < `&&` < relations/`in`
//! < `+ -` < unary `! -` < member access and calls.

use super::lexer::{Tok, Token};
use super::{MAX_NESTING_DEPTH, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    In,
}

/// Global functions and receiver methods the evaluator implements; anything else is
/// rejected at parse time so unsupported CEL never reaches evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Timestamp,
    Duration,
    StartsWith,
    EndsWith,
    Contains,
    GetFullYear,
    GetMonth,
    GetDate,
    GetDayOfMonth,
    GetDayOfWeek,
    GetDayOfYear,
    GetHours,
    GetMinutes,
    GetSeconds,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Expr>),
    Ident(String),
    Member(Box<Expr>, String),
    Call {
        func: Func,
        target: Option<Box<Expr>>,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// Top-level identifiers IAM Conditions declare.
const ROOTS: &[&str] = &["request", "resource"];

pub(crate) fn parse(src: &str, tokens: &[Token]) -> Result<Expr, ParseError> {
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    if let Some(t) = p.peek_token() {
        return Err(p.err_at(
            t.pos,
            format!("Syntax error: unexpected {}", describe(&t.tok)),
        ));
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    tokens: &'a [Token],
    pos: usize,
    depth: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Int(v) => format!("integer {v}"),
        Tok::Str(_) => "string literal".to_owned(),
        Tok::Ident(s) => format!("identifier '{s}'"),
        other => format!("token '{}'", symbol(other)),
    }
}

fn symbol(t: &Tok) -> &'static str {
    match t {
        Tok::True => "true",
        Tok::False => "false",
        Tok::Null => "null",
        Tok::In => "in",
        Tok::Dot => ".",
        Tok::Comma => ",",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::Not => "!",
        Tok::Minus => "-",
        Tok::Plus => "+",
        Tok::And => "&&",
        Tok::Or => "||",
        Tok::Eq => "==",
        Tok::Ne => "!=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::Int(_) | Tok::Str(_) | Tok::Ident(_) => "literal",
    }
}

impl Parser<'_> {
    fn err_at(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.src, pos, msg)
    }

    fn here(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.src.len(), |t| t.pos)
    }

    fn peek_token(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok) -> Result<(), ParseError> {
        if self.eat(t) {
            return Ok(());
        }
        let found = self
            .peek()
            .map_or_else(|| "end of input".to_owned(), describe);
        Err(self.err_at(
            self.here(),
            format!("Syntax error: expected '{}', found {found}", symbol(t)),
        ))
    }

    /// Every nesting level (recursion or left-leaning operator chain) counts toward the
    /// depth limit, so both parsing and evaluation recursion stay bounded.
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(self.err_at(
                self.here(),
                format!("expression nesting exceeds the maximum depth of {MAX_NESTING_DEPTH}"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let saved = self.depth;
        let mut lhs = self.and()?;
        while self.eat(&Tok::Or) {
            self.enter()?;
            let rhs = self.and()?;
            lhs = Expr::Or(Box::new(lhs), Box::new(rhs));
        }
        self.depth = saved - 1;
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let saved = self.depth;
        let mut lhs = self.relation()?;
        while self.eat(&Tok::And) {
            self.enter()?;
            let rhs = self.relation()?;
            lhs = Expr::And(Box::new(lhs), Box::new(rhs));
        }
        self.depth = saved;
        Ok(lhs)
    }

    fn relation(&mut self) -> Result<Expr, ParseError> {
        let saved = self.depth;
        let mut lhs = self.additive()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Eq) => BinOp::Eq,
                Some(Tok::Ne) => BinOp::Ne,
                Some(Tok::Lt) => BinOp::Lt,
                Some(Tok::Le) => BinOp::Le,
                Some(Tok::Gt) => BinOp::Gt,
                Some(Tok::Ge) => BinOp::Ge,
                Some(Tok::In) => BinOp::In,
                _ => break,
            };
            self.pos += 1;
            self.enter()?;
            let rhs = self.additive()?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth = saved;
        Ok(lhs)
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let saved = self.depth;
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => BinOp::Add,
                Some(Tok::Minus) => BinOp::Sub,
                _ => break,
            };
            self.pos += 1;
            self.enter()?;
            let rhs = self.unary()?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth = saved;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat(&Tok::Not) {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        if self.eat(&Tok::Minus) {
            // Fold `-<int literal>` so i64::MIN is expressible, as in CEL.
            if let Some(Tok::Int(v)) = self.peek() {
                let v = *v;
                let pos = self.here();
                if !matches!(
                    self.tokens.get(self.pos + 1).map(|t| &t.tok),
                    Some(Tok::Dot)
                ) {
                    self.pos += 1;
                    let n = i64::try_from(-i128::from(v))
                        .map_err(|_| self.err_at(pos, "integer literal is out of range"))?;
                    return Ok(Expr::Int(n));
                }
            }
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Neg(Box::new(e)));
        }
        self.member()
    }

    fn member(&mut self) -> Result<Expr, ParseError> {
        let saved = self.depth;
        let mut e = self.primary()?;
        while self.eat(&Tok::Dot) {
            self.enter()?;
            let pos = self.here();
            let Some(Tok::Ident(name)) = self.peek().cloned() else {
                return Err(
                    self.err_at(pos, "Syntax error: expected field or method name after '.'")
                );
            };
            self.pos += 1;
            if self.peek() == Some(&Tok::LParen) {
                let func = method(&name)
                    .ok_or_else(|| self.err_at(pos, format!("unsupported function '{name}'")))?;
                let args = self.args()?;
                e = Expr::Call {
                    func,
                    target: Some(Box::new(e)),
                    args,
                };
            } else {
                e = Expr::Member(Box::new(e), name);
            }
        }
        if self.peek() == Some(&Tok::LBracket) {
            return Err(self.err_at(self.here(), "index expressions are not supported"));
        }
        self.depth = saved;
        Ok(e)
    }

    fn args(&mut self) -> Result<Vec<Expr>, ParseError> {
        self.expect(&Tok::LParen)?;
        let items = self.list_items(&Tok::RParen)?;
        Ok(items)
    }

    fn list_items(&mut self, close: &Tok) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(&Tok::Comma)?;
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let pos = self.here();
        let Some(tok) = self.peek().cloned() else {
            return Err(self.err_at(pos, "Syntax error: unexpected end of input"));
        };
        self.pos += 1;
        match tok {
            Tok::Null => Ok(Expr::Null),
            Tok::True => Ok(Expr::Bool(true)),
            Tok::False => Ok(Expr::Bool(false)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Int(v) => i64::try_from(v)
                .map(Expr::Int)
                .map_err(|_| self.err_at(pos, "integer literal is out of range")),
            Tok::LParen => {
                let e = self.expr()?;
                self.expect(&Tok::RParen)?;
                Ok(e)
            }
            Tok::LBracket => Ok(Expr::List(self.list_items(&Tok::RBracket)?)),
            Tok::Ident(name) => {
                if self.peek() == Some(&Tok::LParen) {
                    let func = match name.as_str() {
                        "timestamp" => Func::Timestamp,
                        "duration" => Func::Duration,
                        _ => return Err(self.err_at(pos, format!("unsupported function '{name}'"))),
                    };
                    let args = self.args()?;
                    if args.len() != 1 {
                        return Err(self.err_at(
                            pos,
                            format!(
                                "found no matching overload for '{name}' with {} arguments",
                                args.len()
                            ),
                        ));
                    }
                    return Ok(Expr::Call {
                        func,
                        target: None,
                        args,
                    });
                }
                if !ROOTS.contains(&name.as_str()) {
                    return Err(self.err_at(pos, format!("undeclared reference to '{name}'")));
                }
                Ok(Expr::Ident(name))
            }
            other => Err(self.err_at(
                pos,
                format!("Syntax error: unexpected {}", describe(&other)),
            )),
        }
    }
}

fn method(name: &str) -> Option<Func> {
    Some(match name {
        "startsWith" => Func::StartsWith,
        "endsWith" => Func::EndsWith,
        "contains" => Func::Contains,
        "getFullYear" => Func::GetFullYear,
        "getMonth" => Func::GetMonth,
        "getDate" => Func::GetDate,
        "getDayOfMonth" => Func::GetDayOfMonth,
        "getDayOfWeek" => Func::GetDayOfWeek,
        "getDayOfYear" => Func::GetDayOfYear,
        "getHours" => Func::GetHours,
        "getMinutes" => Func::GetMinutes,
        "getSeconds" => Func::GetSeconds,
        _ => return None,
    })
}
