//! Parse and evaluation errors. Parse errors are typed so a caller can render the few texts its
//! service words differently; `Display` gives cel-go's wording.

/// Why an expression was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// Byte offset into the source.
    pub offset: usize,
    pub kind: ParseErrorKind,
}

impl ParseError {
    /// 1-based line and column (in characters) of the offset in `source`, as cel-go reports them.
    pub fn line_column(&self, source: &str) -> (usize, usize) {
        let before = source.get(..self.offset).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("Syntax error: token recognition error at: '{0}'")]
    TokenRecognition(char),
    #[error("Syntax error: unterminated string literal")]
    UnterminatedString,
    #[error("Syntax error: newline in string literal")]
    NewlineInString,
    #[error("Syntax error: invalid escape sequence")]
    InvalidEscape,
    #[error("Syntax error: malformed number literal")]
    MalformedNumber,
    #[error("integer literal is out of range")]
    IntegerOutOfRange,
    /// Valid CEL the caller's language leaves out.
    #[error("{0}")]
    Unsupported(Unsupported),
    #[error("Syntax error: mismatched input '<EOF>'")]
    UnexpectedEnd,
    #[error("Syntax error: missing '{expected}' at {found}")]
    Expected {
        expected: &'static str,
        found: Found,
    },
    #[error("Syntax error: mismatched input {0}")]
    Unexpected(Found),
    #[error("Syntax error: extraneous input {0}")]
    Extraneous(Found),
    /// Something other than a name after `.`.
    #[error("Syntax error: no viable alternative at {0}")]
    ExpectedField(Found),
    #[error("expression nesting exceeds the maximum depth of {max}")]
    TooDeep { max: usize },
    #[error("undeclared reference to '{0}'")]
    UndeclaredReference(String),
    /// A function or method the caller's language does not declare.
    #[error("undeclared reference to '{0}'")]
    UndeclaredFunction(String),
    #[error("found no matching overload for '{function}' with {count} arguments")]
    ArgumentCount { function: String, count: usize },
    #[error("{0}() takes a variable name and an expression")]
    MacroArguments(String),
    #[error("{0}() argument must be a simple name")]
    MacroVariable(String),
    #[error("has() takes one field selection")]
    HasArguments,
    #[error("invalid argument to has() macro")]
    HasArgument,
}

/// CEL features a language may leave out (see [`crate::Features`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error("floating point literals are not supported")]
    DoubleLiterals,
    #[error("unsigned integer literals are not supported")]
    UnsignedLiterals,
    #[error("bytes literals are not supported")]
    BytesLiterals,
    #[error("index expressions are not supported")]
    Index,
    #[error("map literals are not supported")]
    MapLiterals,
    #[error("conditional expressions are not supported")]
    Conditional,
    #[error("operator '{0}' is not supported")]
    Operator(&'static str),
}

/// The token a syntax error found; `Display` quotes it as cel-go (ANTLR) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    End,
    Int(u64),
    /// A double literal, as written back by Rust.
    Double(String),
    Str(String),
    Ident(String),
    /// Punctuation, operators and keywords.
    Symbol(&'static str),
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Found::End => write!(f, "'<EOF>'"),
            Found::Int(v) => write!(f, "'{v}'"),
            Found::Double(d) => write!(f, "'{d}'"),
            Found::Str(s) => write!(f, "'\"{s}\"'"),
            Found::Ident(s) => write!(f, "'{s}'"),
            Found::Symbol(s) => write!(f, "'{s}'"),
        }
    }
}

/// Why an expression could not be evaluated. Callers fail closed on any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("no such overload: {0}")]
    NoSuchOverload(String),
    /// A field a message does not declare (`request.path`).
    #[error("no such attribute: {0}")]
    NoSuchAttribute(String),
    #[error("no such key: {0}")]
    NoSuchKey(String),
    #[error("index out of range: {0}")]
    IndexOutOfRange(i64),
    #[error("undeclared reference to '{0}'")]
    UndeclaredReference(String),
    #[error("invalid timestamp {0:?}: expected RFC 3339")]
    InvalidTimestamp(String),
    #[error("invalid duration {0:?}")]
    InvalidDuration(String),
    #[error(
        "unsupported time zone {0:?}: only \"UTC\" and fixed offsets like \"+05:30\" are supported"
    )]
    UnsupportedTimeZone(String),
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),
    #[error("cannot convert {0}")]
    Conversion(String),
    #[error("integer overflow")]
    Overflow,
    #[error("division by zero")]
    DivisionByZero,
    #[error("timestamp out of range")]
    TimestampOutOfRange,
    /// The step limit ([`crate::Language::max_steps`]) ran out.
    #[error("evaluation cost limit exceeded")]
    CostLimitExceeded,
}
