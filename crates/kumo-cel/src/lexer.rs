//! Tokenizer. Offsets are byte offsets into the source.

use crate::error::{ParseError, ParseErrorKind, Unsupported};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(u64),
    Double(f64),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    In,
    Sym(&'static str),
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Operators and punctuation, longest first so `<=` wins over `<`.
const SYMBOLS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%", ".", ",", "(", ")",
    "[", "]", "{", "}", "?", ":",
];

fn error<T>(offset: usize, kind: ParseErrorKind) -> Result<T, ParseError> {
    Err(ParseError { offset, kind })
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
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
        if c == '/' && at(i + 1) == Some('/') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
            continue;
        }
        let number =
            c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit()));
        let (tok, len) = if number {
            lex_number(src, &chars, i)?
        } else if c == '\'' || c == '"' {
            lex_string(src, &chars, i, false)?
        } else if matches!(c, 'r' | 'R') && matches!(at(i + 1), Some('\'' | '"')) {
            let (tok, n) = lex_string(src, &chars, i + 1, true)?;
            (tok, n + 1)
        } else if matches!(c, 'b' | 'B') && matches!(at(i + 1), Some('\'' | '"')) {
            return error(pos, ParseErrorKind::Unsupported(Unsupported::BytesLiterals));
        } else if c == '_' || c.is_ascii_alphabetic() {
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
            (tok, j - i)
        } else {
            let rest = &src[pos..];
            let Some(symbol) = SYMBOLS.iter().find(|s| rest.starts_with(**s)) else {
                return error(pos, ParseErrorKind::TokenRecognition(c));
            };
            (Tok::Sym(symbol), symbol.chars().count())
        };
        out.push(Token { tok, pos });
        i += len;
    }
    Ok(out)
}

/// Decimal and hexadecimal integers, and doubles (`1.5`, `.5`, `1e3`, `2.5E-3`).
fn lex_number(
    src: &str,
    chars: &[(usize, char)],
    start: usize,
) -> Result<(Tok, usize), ParseError> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let off = |i: usize| chars.get(i).map_or(src.len(), |&(o, _)| o);
    let digits = |mut j: usize, hex: bool| {
        while at(j).is_some_and(|c| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        }) {
            j += 1;
        }
        j
    };
    let pos = off(start);
    let hex = at(start) == Some('0') && matches!(at(start + 1), Some('x' | 'X'));
    let mut j = digits(if hex { start + 2 } else { start }, hex);
    let mut double = false;
    if !hex {
        if at(j) == Some('.') && at(j + 1).is_some_and(|d| d.is_ascii_digit()) {
            double = true;
            j = digits(j + 1, false);
        }
        if matches!(at(j), Some('e' | 'E')) {
            let sign = usize::from(matches!(at(j + 1), Some('+' | '-')));
            if at(j + 1 + sign).is_some_and(|d| d.is_ascii_digit()) {
                double = true;
                j = digits(j + 1 + sign, false);
            }
        }
    }
    match at(j) {
        Some('u' | 'U') if !double => {
            return error(
                pos,
                ParseErrorKind::Unsupported(Unsupported::UnsignedLiterals),
            );
        }
        Some(c) if c == '_' || c.is_ascii_alphanumeric() => {
            return error(pos, ParseErrorKind::MalformedNumber);
        }
        _ => {}
    }
    let text = &src[pos..off(j)];
    let tok = if double {
        Tok::Double(
            text.parse()
                .or_else(|_| error(pos, ParseErrorKind::MalformedNumber))?,
        )
    } else {
        let parsed = match text.get(2..) {
            Some(hex_digits) if hex => u64::from_str_radix(hex_digits, 16),
            _ => text.parse::<u64>(),
        };
        Tok::Int(parsed.or_else(|_| error(pos, ParseErrorKind::IntegerOutOfRange))?)
    };
    Ok((tok, j - start))
}

/// A quoted string starting at the quote `chars[start]`; returns the token and the characters
/// consumed. Escapes follow the CEL spec; raw strings keep backslashes.
fn lex_string(
    src: &str,
    chars: &[(usize, char)],
    start: usize,
    raw: bool,
) -> Result<(Tok, usize), ParseError> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let off = |i: usize| chars.get(i).map_or(src.len(), |&(o, _)| o);
    let pos = off(start);
    let quote = at(start);
    let mut text = String::new();
    let mut j = start + 1;
    loop {
        let Some(c) = at(j) else {
            return error(pos, ParseErrorKind::UnterminatedString);
        };
        j += 1;
        if Some(c) == quote {
            return Ok((Tok::Str(text), j - start));
        }
        if c == '\n' || c == '\r' {
            return error(pos, ParseErrorKind::NewlineInString);
        }
        if c != '\\' || raw {
            text.push(c);
            continue;
        }
        let escape_pos = off(j - 1);
        let bad = || ParseError {
            offset: escape_pos,
            kind: ParseErrorKind::InvalidEscape,
        };
        let e = at(j).ok_or_else(bad)?;
        j += 1;
        let simple = match e {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' | '\'' | '"' | '`' | '?' => Some(e),
            _ => None,
        };
        if let Some(c) = simple {
            text.push(c);
            continue;
        }
        let (radix, count) = match e {
            'x' | 'X' => (16, 2),
            'u' => (16, 4),
            'U' => (16, 8),
            '0'..='3' => {
                j -= 1;
                (8, 3)
            }
            _ => return Err(bad()),
        };
        let mut value: u32 = 0;
        for _ in 0..count {
            let d = at(j).and_then(|c| c.to_digit(radix)).ok_or_else(bad)?;
            value = value * radix + d;
            j += 1;
        }
        text.push(char::from_u32(value).ok_or_else(bad)?);
    }
}
