//! IAM Conditions: the CEL subset Google accepts in conditional role bindings.
//!
//! Pure code: lexer, recursive-descent parser and evaluator. Unsupported CEL features are
//! rejected at parse time with a positioned error so a policy never silently means something else.

mod eval;
mod lexer;
mod parser;

pub use eval::EvalError;

use chrono::{DateTime, Utc};

/// Maximum accepted expression length in characters.
/// UNCONFIRMED: taken to be Google's documented 12,800-character limit for condition expressions.
pub const MAX_EXPRESSION_LENGTH: usize = 12_800;

/// Maximum nesting depth of the parsed tree; bounds recursion on hostile input.
pub const MAX_NESTING_DEPTH: usize = 64;

/// A parsed IAM condition expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    expression: String,
    ast: parser::Expr,
}

/// The attributes a condition is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Activation<'a> {
    pub request_time: DateTime<Utc>,
    pub resource_name: &'a str,
    pub resource_type: &'a str,
    pub resource_service: &'a str,
}

/// Why an expression was rejected. `Display` follows cel-go's
/// `ERROR: <input>:line:column: reason` shape that Google embeds in its
/// "Condition expression parse error" messages (UNCONFIRMED exact wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "Condition expression parse error: expression is {length} characters long, the maximum is {max}"
    )]
    TooLong { length: usize, max: usize },
    #[error("Condition expression parse error: ERROR: <input>:{line}:{column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
}

impl ParseError {
    pub(crate) fn at(source: &str, offset: usize, message: impl Into<String>) -> ParseError {
        let before = &source[..offset.min(source.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ParseError::Syntax {
            line,
            column,
            message: message.into(),
        }
    }
}

impl Condition {
    pub fn parse(expression: &str) -> Result<Condition, ParseError> {
        let length = expression.chars().count();
        if length > MAX_EXPRESSION_LENGTH {
            return Err(ParseError::TooLong {
                length,
                max: MAX_EXPRESSION_LENGTH,
            });
        }
        let tokens = lexer::tokenize(expression)?;
        let ast = parser::parse(expression, &tokens)?;
        Ok(Condition {
            expression: expression.to_owned(),
            ast,
        })
    }

    pub fn evaluate(&self, activation: &Activation<'_>) -> Result<bool, EvalError> {
        eval::evaluate(&self.ast, activation)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }
}
