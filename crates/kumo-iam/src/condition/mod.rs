//! IAM Conditions: the CEL subset Google accepts in conditional role bindings.
//!
//! The language is declared here and interpreted by `kumo-cel`: the variables `request` and
//! `resource`, `timestamp()`/`duration()`, the string tests and the timestamp accessors; no
//! macros, doubles, indexing, map literals, `?:` or `* / %`. Unsupported CEL is rejected at parse
//! time with a positioned error so a policy never silently means something else.

use chrono::{DateTime, Utc};
use kumo_cel::{
    AbsentFields, Features, Found, Function, Language, ParseErrorKind, Program, Receiver, Value,
};

pub use kumo_cel::EvalError;

/// Maximum accepted expression length in characters.
/// UNCONFIRMED: taken to be Google's documented 12,800-character limit for condition expressions.
pub const MAX_EXPRESSION_LENGTH: usize = 12_800;

/// Maximum nesting depth of the parsed tree; bounds recursion on hostile input.
pub const MAX_NESTING_DEPTH: usize = 64;

/// Evaluation step limit. Without macros a step is a tree node, so no expression within
/// `MAX_EXPRESSION_LENGTH` reaches it; it is a backstop, not a rule callers meet.
const MAX_STEPS: usize = 100_000;

const fn method(name: &'static str) -> Function {
    Function {
        name,
        receiver: Receiver::Member,
        arity: None,
    }
}

const fn constructor(name: &'static str) -> Function {
    Function {
        name,
        receiver: Receiver::Global,
        arity: Some(1),
    }
}

const LANGUAGE: Language = Language {
    variables: &["request", "resource"],
    functions: &[
        constructor("timestamp"),
        constructor("duration"),
        method("startsWith"),
        method("endsWith"),
        method("contains"),
        method("getFullYear"),
        method("getMonth"),
        method("getDate"),
        method("getDayOfMonth"),
        method("getDayOfWeek"),
        method("getDayOfYear"),
        method("getHours"),
        method("getMinutes"),
        method("getSeconds"),
    ],
    features: Features::NONE,
    // `request` and `resource` are messages with fixed fields: another field is an error.
    absent_fields: AbsentFields::Error,
    max_depth: MAX_NESTING_DEPTH,
    max_steps: MAX_STEPS,
};

/// A parsed IAM condition expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    expression: String,
    program: Program,
}

/// The attributes a condition is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Activation<'a> {
    pub request_time: DateTime<Utc>,
    pub resource_name: &'a str,
    pub resource_type: &'a str,
    pub resource_service: &'a str,
}

impl kumo_cel::Activation for Activation<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        match name {
            "request" => Some(Value::message([(
                "time",
                Value::Timestamp(self.request_time),
            )])),
            "resource" => Some(Value::message([
                ("name", Value::Str(self.resource_name.to_owned())),
                ("type", Value::Str(self.resource_type.to_owned())),
                ("service", Value::Str(self.resource_service.to_owned())),
            ])),
            _ => None,
        }
    }
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
    fn from_cel(source: &str, error: &kumo_cel::ParseError) -> ParseError {
        let (line, column) = error.line_column(source);
        ParseError::Syntax {
            line,
            column,
            message: message(&error.kind),
        }
    }
}

/// IAM's wording where it differs from cel-go's (UNCONFIRMED, as above).
fn message(kind: &ParseErrorKind) -> String {
    match kind {
        ParseErrorKind::UnexpectedEnd => "Syntax error: unexpected end of input".to_owned(),
        ParseErrorKind::Expected { expected, found } => {
            format!(
                "Syntax error: expected '{expected}', found {}",
                describe(found)
            )
        }
        ParseErrorKind::Unexpected(found) | ParseErrorKind::Extraneous(found) => {
            format!("Syntax error: unexpected {}", describe(found))
        }
        ParseErrorKind::ExpectedField(_) => {
            "Syntax error: expected field or method name after '.'".to_owned()
        }
        ParseErrorKind::UndeclaredFunction(name) => format!("unsupported function '{name}'"),
        other => other.to_string(),
    }
}

fn describe(found: &Found) -> String {
    match found {
        Found::End => "end of input".to_owned(),
        Found::Int(v) => format!("integer {v}"),
        Found::Double(_) => "floating point literal".to_owned(),
        Found::Str(_) => "string literal".to_owned(),
        Found::Ident(name) => format!("identifier '{name}'"),
        Found::Symbol(symbol) => format!("token '{symbol}'"),
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
        let program = Program::parse(expression, &LANGUAGE)
            .map_err(|e| ParseError::from_cel(expression, &e))?;
        Ok(Condition {
            expression: expression.to_owned(),
            program,
        })
    }

    pub fn evaluate(&self, activation: &Activation<'_>) -> Result<bool, EvalError> {
        self.program.evaluate_bool(activation)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }
}
