//! One CEL (Common Expression Language) implementation for Kumo: lexer, parser and evaluator.
//!
//! The caller declares its language — the top-level variables, the functions, which CEL features
//! it accepts, how an absent field reads — and supplies the variables' values at evaluation
//! through an [`Activation`]. IAM Conditions (`kumo-iam`) and custom org-policy constraints
//! (`kumo-orgpolicy`) are both built on it. Pure code: no I/O; time comes in as a value.
//!
//! Anything a language does not declare is refused at parse time with a positioned error, so a
//! stored expression never meets an unknown name during evaluation.

mod error;
mod eval;
mod lexer;
mod parser;

pub use error::{EvalError, Found, ParseError, ParseErrorKind, Unsupported};
pub use eval::Value;

/// What a caller's CEL dialect accepts.
#[derive(Debug, Clone, Copy)]
pub struct Language {
    /// Top-level identifiers the caller supplies through its [`Activation`].
    pub variables: &'static [&'static str],
    pub functions: &'static [Function],
    pub features: Features,
    pub absent_fields: AbsentFields,
    /// Maximum nesting of the parsed tree (each operand of an operator chain counts); bounds
    /// recursion on hostile input.
    pub max_depth: usize,
    /// Maximum evaluation steps: comprehensions nest exponentially within a short expression,
    /// and an evaluation that runs out fails with [`EvalError::CostLimitExceeded`].
    pub max_steps: usize,
}

/// A function the language declares. The evaluator implements `size`, `startsWith`,
/// `endsWith`, `contains`, `matches`, `int`, `string`, `lowerAscii`, `upperAscii`, `timestamp`,
/// `duration` and the timestamp/duration accessors (`getHours`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    pub name: &'static str,
    pub receiver: Receiver,
    /// Required number of arguments, the receiver included; `None` leaves it to evaluation.
    pub arity: Option<usize>,
}

/// How a function is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// `f(x)`.
    Global,
    /// `x.f()`.
    Member,
    /// Either form; `size(x)` and `x.size()` are the same call.
    Either,
}

/// Optional parts of CEL. Integer, string, bool, null and list literals, the logical,
/// relational, `in`, `+` and `-` operators, field selection and declared calls are always on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `has()`, `all`, `exists`, `exists_one`, `map`, `filter`.
    pub macros: bool,
    pub doubles: bool,
    /// `a[i]`, `m[k]`.
    pub index: bool,
    pub map_literals: bool,
    /// `c ? a : b`.
    pub conditional: bool,
    /// `*`, `/`, `%`.
    pub multiplicative: bool,
}

impl Features {
    pub const ALL: Features = Features {
        macros: true,
        doubles: true,
        index: true,
        map_literals: true,
        conditional: true,
        multiplicative: true,
    };
    pub const NONE: Features = Features {
        macros: false,
        doubles: false,
        index: false,
        map_literals: false,
        conditional: false,
        multiplicative: false,
    };
}

/// What selecting a field a map value lacks (`resource.spec.x`) yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsentFields {
    /// Protobuf semantics: the field's default, [`Value::Unset`], which behaves as `""`, `0`,
    /// `false`, `[]` or `{}` as the comparison needs. Indexing a map with a missing key is
    /// still an error, as in CEL.
    Default,
    /// [`EvalError::NoSuchAttribute`] naming the selection (`request.path`).
    Error,
}

/// Supplies the values of the language's variables.
pub trait Activation {
    /// The value of the top-level variable `name`; `None` if it has none.
    fn variable(&self, name: &str) -> Option<Value>;
}

/// A parsed expression, ready to evaluate any number of times.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    ast: parser::Expr,
    absent_fields: AbsentFields,
    max_steps: usize,
}

impl Program {
    pub fn parse(source: &str, language: &Language) -> Result<Program, ParseError> {
        let tokens = lexer::tokenize(source)?;
        let ast = parser::parse(source, &tokens, language)?;
        Ok(Program {
            ast,
            absent_fields: language.absent_fields,
            max_steps: language.max_steps,
        })
    }

    pub fn evaluate(&self, activation: &dyn Activation) -> Result<Value, EvalError> {
        eval::Evaluator::new(activation, self.absent_fields, self.max_steps).eval(&self.ast)
    }

    /// Evaluates a condition: anything but a bool is an error.
    pub fn evaluate_bool(&self, activation: &dyn Activation) -> Result<bool, EvalError> {
        match self.evaluate(activation)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::NoSuchOverload(format!(
                "condition must evaluate to bool, got {}",
                other.type_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
