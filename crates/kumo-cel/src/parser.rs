//! Recursive-descent parser following CEL's precedence: `?:` < `||` < `&&` < relations and `in`
//! < `+ -` < `* / %` < unary `! -` < member access, indexing and calls. Declarations are checked
//! while parsing, so an unknown name or a feature the language leaves out is refused with the
//! position of the offending token.

use crate::error::{Found, ParseError, ParseErrorKind, Unsupported};
use crate::lexer::{Tok, Token};
use crate::{Language, Receiver};

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
    Mul,
    Div,
    Rem,
    In,
}

/// The comprehension macros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    All,
    Exists,
    ExistsOne,
    Map,
    Filter,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Ident(String),
    Select(Box<Expr>, String),
    /// `has(a.b)`.
    Has(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    /// A declared function; `size(x)` and `x.size()` are the same call.
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
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

pub(crate) fn parse(src: &str, tokens: &[Token], language: &Language) -> Result<Expr, ParseError> {
    let mut p = Parser {
        tokens,
        end: src.len(),
        pos: 0,
        depth: 0,
        language,
        scope: Vec::new(),
    };
    let e = p.expr()?;
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(ParseError {
            offset: t.pos,
            kind: ParseErrorKind::Extraneous(found(Some(&t.tok))),
        });
    }
    Ok(e)
}

fn found(t: Option<&Tok>) -> Found {
    match t {
        None => Found::End,
        Some(Tok::Int(v)) => Found::Int(*v),
        Some(Tok::Double(d)) => Found::Double(d.to_string()),
        Some(Tok::Str(s)) => Found::Str(s.clone()),
        Some(Tok::Ident(s)) => Found::Ident(s.clone()),
        Some(Tok::True) => Found::Symbol("true"),
        Some(Tok::False) => Found::Symbol("false"),
        Some(Tok::Null) => Found::Symbol("null"),
        Some(Tok::In) => Found::Symbol("in"),
        Some(Tok::Sym(s)) => Found::Symbol(s),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    end: usize,
    pos: usize,
    depth: usize,
    language: &'a Language,
    /// Variables the enclosing macros bind.
    scope: Vec<String>,
}

impl Parser<'_> {
    fn error<T>(&self, offset: usize, kind: ParseErrorKind) -> Result<T, ParseError> {
        Err(ParseError { offset, kind })
    }

    fn here(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.pos)
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn peek_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Tok::Sym(s)) if *s == symbol)
    }

    fn eat(&mut self, symbol: &str) -> bool {
        let hit = self.peek_symbol(symbol);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, symbol: &'static str) -> Result<(), ParseError> {
        if self.eat(symbol) {
            return Ok(());
        }
        self.error(
            self.here(),
            ParseErrorKind::Expected {
                expected: symbol,
                found: found(self.peek()),
            },
        )
    }

    fn unsupported<T>(&self, offset: usize, what: Unsupported) -> Result<T, ParseError> {
        self.error(offset, ParseErrorKind::Unsupported(what))
    }

    /// Every nesting level (recursion or an operator chain's next operand) counts toward the
    /// depth limit, so parsing, evaluation and dropping the tree all recurse a bounded amount.
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.language.max_depth {
            return self.error(
                self.here(),
                ParseErrorKind::TooDeep {
                    max: self.language.max_depth,
                },
            );
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let saved = self.depth;
        let mut e = self.and()?;
        while self.eat("||") {
            self.enter()?;
            let rhs = self.and()?;
            e = Expr::Or(Box::new(e), Box::new(rhs));
        }
        self.depth = saved;
        if self.peek_symbol("?") {
            if !self.language.features.conditional {
                return self.unsupported(self.here(), Unsupported::Conditional);
            }
            self.pos += 1;
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            e = Expr::Cond(Box::new(e), Box::new(a), Box::new(b));
        }
        self.depth = saved - 1;
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let saved = self.depth;
        let mut e = self.relation()?;
        while self.eat("&&") {
            self.enter()?;
            let rhs = self.relation()?;
            e = Expr::And(Box::new(e), Box::new(rhs));
        }
        self.depth = saved;
        Ok(e)
    }

    fn relation(&mut self) -> Result<Expr, ParseError> {
        let saved = self.depth;
        let mut e = self.additive()?;
        loop {
            let op = match self.peek() {
                Some(Tok::In) => BinOp::In,
                Some(Tok::Sym("==")) => BinOp::Eq,
                Some(Tok::Sym("!=")) => BinOp::Ne,
                Some(Tok::Sym("<")) => BinOp::Lt,
                Some(Tok::Sym("<=")) => BinOp::Le,
                Some(Tok::Sym(">")) => BinOp::Gt,
                Some(Tok::Sym(">=")) => BinOp::Ge,
                _ => break,
            };
            self.pos += 1;
            self.enter()?;
            let rhs = self.additive()?;
            e = Expr::Binary(op, Box::new(e), Box::new(rhs));
        }
        self.depth = saved;
        Ok(e)
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let saved = self.depth;
        let mut e = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Sym("+")) => BinOp::Add,
                Some(Tok::Sym("-")) => BinOp::Sub,
                _ => break,
            };
            self.pos += 1;
            self.enter()?;
            let rhs = self.multiplicative()?;
            e = Expr::Binary(op, Box::new(e), Box::new(rhs));
        }
        self.depth = saved;
        Ok(e)
    }

    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        let saved = self.depth;
        let mut e = self.unary()?;
        loop {
            let (op, symbol) = match self.peek() {
                Some(Tok::Sym("*")) => (BinOp::Mul, "*"),
                Some(Tok::Sym("/")) => (BinOp::Div, "/"),
                Some(Tok::Sym("%")) => (BinOp::Rem, "%"),
                _ => break,
            };
            if !self.language.features.multiplicative {
                return self.unsupported(self.here(), Unsupported::Operator(symbol));
            }
            self.pos += 1;
            self.enter()?;
            let rhs = self.unary()?;
            e = Expr::Binary(op, Box::new(e), Box::new(rhs));
        }
        self.depth = saved;
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat("!") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        if self.eat("-") {
            // Fold `-<int literal>` so i64::MIN is expressible, as in CEL.
            if let Some(&Tok::Int(v)) = self.peek() {
                let pos = self.here();
                let next = self.tokens.get(self.pos + 1).map(|t| &t.tok);
                if !matches!(next, Some(Tok::Sym("." | "["))) {
                    self.pos += 1;
                    return match i64::try_from(-i128::from(v)) {
                        Ok(n) => Ok(Expr::Int(n)),
                        Err(_) => self.error(pos, ParseErrorKind::IntegerOutOfRange),
                    };
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
        loop {
            if self.eat(".") {
                self.enter()?;
                let at = self.here();
                let Some(Tok::Ident(name)) = self.peek().cloned() else {
                    return self.error(at, ParseErrorKind::ExpectedField(found(self.peek())));
                };
                self.pos += 1;
                if self.peek_symbol("(") {
                    e = self.method(e, name, at)?;
                } else {
                    e = Expr::Select(Box::new(e), name);
                }
            } else if self.peek_symbol("[") {
                if !self.language.features.index {
                    return self.unsupported(self.here(), Unsupported::Index);
                }
                self.pos += 1;
                self.enter()?;
                let index = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else {
                break;
            }
        }
        self.depth = saved;
        Ok(e)
    }

    /// `(a, b, ...)`, starting at the `(`.
    fn args(&mut self) -> Result<Vec<Expr>, ParseError> {
        self.expect("(")?;
        self.items(")")
    }

    /// Comma-separated expressions up to and including `close`.
    fn items(&mut self, close: &'static str) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(",")?;
        }
    }

    fn declared(&self, name: &str, member: bool) -> Option<&crate::Function> {
        self.language.functions.iter().find(|f| {
            f.name == name
                && match f.receiver {
                    Receiver::Global => !member,
                    Receiver::Member => member,
                    Receiver::Either => true,
                }
        })
    }

    fn macro_kind(&self, name: &str) -> Option<Macro> {
        if !self.language.features.macros {
            return None;
        }
        Some(match name {
            "all" => Macro::All,
            "exists" => Macro::Exists,
            "exists_one" => Macro::ExistsOne,
            "map" => Macro::Map,
            "filter" => Macro::Filter,
            _ => return None,
        })
    }

    /// `target.name(...)`, positioned at the `(`.
    fn method(&mut self, target: Expr, name: String, at: usize) -> Result<Expr, ParseError> {
        if let Some(kind) = self.macro_kind(&name) {
            return self.comprehension(kind, target, name, at);
        }
        let Some(function) = self.declared(&name, true) else {
            return self.error(at, ParseErrorKind::UndeclaredFunction(name));
        };
        let arity = function.arity;
        let args = self.args()?;
        self.check_arity(arity, &name, args.len() + 1, at)?;
        Ok(Expr::Call {
            name,
            target: Some(Box::new(target)),
            args,
        })
    }

    /// `arity` counts the receiver as the first argument.
    fn check_arity(
        &self,
        arity: Option<usize>,
        name: &str,
        count: usize,
        at: usize,
    ) -> Result<(), ParseError> {
        match arity {
            Some(n) if n != count => self.error(
                at,
                ParseErrorKind::ArgumentCount {
                    function: name.to_owned(),
                    count,
                },
            ),
            _ => Ok(()),
        }
    }

    /// `range.all(var, body)` and friends: `var` is bound while `body` parses.
    fn comprehension(
        &mut self,
        kind: Macro,
        range: Expr,
        name: String,
        at: usize,
    ) -> Result<Expr, ParseError> {
        self.expect("(")?;
        let var = match (self.peek(), self.tokens.get(self.pos + 1).map(|t| &t.tok)) {
            (Some(Tok::Ident(var)), Some(Tok::Sym(","))) => var.clone(),
            (Some(Tok::Sym(")")), _) | (Some(Tok::Ident(_)), Some(Tok::Sym(")"))) => {
                return self.error(at, ParseErrorKind::MacroArguments(name));
            }
            _ => return self.error(at, ParseErrorKind::MacroVariable(name)),
        };
        self.pos += 2;
        self.scope.push(var.clone());
        let body = self.expr();
        self.scope.pop();
        let body = body?;
        if self.peek_symbol(",") {
            return self.error(at, ParseErrorKind::MacroArguments(name));
        }
        self.expect(")")?;
        Ok(Expr::Comprehension {
            kind,
            range: Box::new(range),
            var,
            body: Box::new(body),
        })
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let at = self.here();
        let Some(tok) = self.peek().cloned() else {
            return self.error(at, ParseErrorKind::UnexpectedEnd);
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Null => Expr::Null,
            Tok::True => Expr::Bool(true),
            Tok::False => Expr::Bool(false),
            Tok::Str(s) => Expr::Str(s),
            Tok::Int(v) => match i64::try_from(v) {
                Ok(n) => Expr::Int(n),
                Err(_) => return self.error(at, ParseErrorKind::IntegerOutOfRange),
            },
            Tok::Double(d) => {
                if !self.language.features.doubles {
                    return self.unsupported(at, Unsupported::DoubleLiterals);
                }
                Expr::Double(d)
            }
            Tok::Sym("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                e
            }
            Tok::Sym("[") => Expr::List(self.items("]")?),
            Tok::Sym("{") => {
                if !self.language.features.map_literals {
                    return self.unsupported(at, Unsupported::MapLiterals);
                }
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
            Tok::Ident(name) if self.peek_symbol("(") => self.global_call(name, at)?,
            Tok::Ident(name) => {
                if !self.scope.contains(&name) && !self.language.variables.contains(&name.as_str())
                {
                    return self.error(at, ParseErrorKind::UndeclaredReference(name));
                }
                Expr::Ident(name)
            }
            other => {
                return self.error(at, ParseErrorKind::Unexpected(found(Some(&other))));
            }
        })
    }

    /// `name(...)`, positioned at the `(`.
    fn global_call(&mut self, name: String, at: usize) -> Result<Expr, ParseError> {
        if name == "has" && self.language.features.macros {
            let args = self.args()?;
            let Ok([arg]) = <[Expr; 1]>::try_from(args) else {
                return self.error(at, ParseErrorKind::HasArguments);
            };
            let Expr::Select(target, field) = arg else {
                return self.error(at, ParseErrorKind::HasArgument);
            };
            return Ok(Expr::Has(target, field));
        }
        let Some(function) = self.declared(&name, false) else {
            return self.error(at, ParseErrorKind::UndeclaredFunction(name));
        };
        let arity = function.arity;
        let args = self.args()?;
        self.check_arity(arity, &name, args.len(), at)?;
        Ok(Expr::Call {
            name,
            target: None,
            args,
        })
    }
}
