//! Tokenizer for the CEL subset. Offsets are byte offsets into the source.

use super::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(u64),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    In,
    Dot,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Not,
    Minus,
    Plus,
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let off = |i: usize| chars.get(i).map_or(src.len(), |&(o, _)| o);
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
        let two = |a: char, b: char| c == a && at(i + 1) == Some(b);
        let (tok, len) = if two('&', '&') {
            (Tok::And, 2)
        } else if two('|', '|') {
            (Tok::Or, 2)
        } else if two('=', '=') {
            (Tok::Eq, 2)
        } else if two('!', '=') {
            (Tok::Ne, 2)
        } else if two('<', '=') {
            (Tok::Le, 2)
        } else if two('>', '=') {
            (Tok::Ge, 2)
        } else {
            match c {
                '.' if at(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                    return Err(ParseError::at(
                        src,
                        pos,
                        "floating point literals are not supported",
                    ));
                }
                '.' => (Tok::Dot, 1),
                ',' => (Tok::Comma, 1),
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                '[' => (Tok::LBracket, 1),
                ']' => (Tok::RBracket, 1),
                '!' => (Tok::Not, 1),
                '-' => (Tok::Minus, 1),
                '+' => (Tok::Plus, 1),
                '<' => (Tok::Lt, 1),
                '>' => (Tok::Gt, 1),
                '\'' | '"' => {
                    let (s, n) = lex_string(src, &chars, i, false)?;
                    (Tok::Str(s), n)
                }
                'r' | 'R' if matches!(at(i + 1), Some('\'' | '"')) => {
                    let (s, n) = lex_string(src, &chars, i + 1, true)?;
                    (Tok::Str(s), n + 1)
                }
                'b' | 'B' if matches!(at(i + 1), Some('\'' | '"')) => {
                    return Err(ParseError::at(src, pos, "bytes literals are not supported"));
                }
                '0'..='9' => lex_number(src, &chars, i)?,
                c if c == '_' || c.is_ascii_alphabetic() => {
                    let mut j = i;
                    while at(j).is_some_and(|c| c == '_' || c.is_ascii_alphanumeric()) {
                        j += 1;
                    }
                    let word = &src[pos..off(j)];
                    let tok = match word {
                        "true" => Tok::True,
                        "false" => Tok::False,
                        "null" => Tok::Null,
                        "in" => Tok::In,
                        w => Tok::Ident(w.to_owned()),
                    };
                    (tok, j - i)
                }
                c => {
                    return Err(ParseError::at(
                        src,
                        pos,
                        format!("Syntax error: token recognition error at: '{c}'"),
                    ));
                }
            }
        };
        out.push(Token { tok, pos });
        i += len;
    }
    Ok(out)
}

fn lex_number(
    src: &str,
    chars: &[(usize, char)],
    start: usize,
) -> Result<(Tok, usize), ParseError> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let pos = chars[start].0;
    let hex = at(start) == Some('0') && matches!(at(start + 1), Some('x' | 'X'));
    let mut j = if hex { start + 2 } else { start };
    let digits_start = j;
    while at(j).is_some_and(|c| {
        if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
        }
    }) {
        j += 1;
    }
    let end = chars.get(j).map_or(src.len(), |&(o, _)| o);
    let digits = &src[chars.get(digits_start).map_or(src.len(), |&(o, _)| o)..end];
    match at(j) {
        Some('.' | 'e' | 'E') if !hex => {
            return Err(ParseError::at(
                src,
                pos,
                "floating point literals are not supported",
            ));
        }
        Some('u' | 'U') => {
            return Err(ParseError::at(
                src,
                pos,
                "unsigned integer literals are not supported",
            ));
        }
        Some(c) if c == '_' || c.is_ascii_alphanumeric() => {
            return Err(ParseError::at(
                src,
                pos,
                "Syntax error: malformed number literal",
            ));
        }
        _ => {}
    }
    let parsed = if hex {
        u64::from_str_radix(digits, 16)
    } else {
        digits.parse::<u64>()
    };
    match parsed {
        Ok(v) => Ok((Tok::Int(v), j - start)),
        Err(_) => Err(ParseError::at(src, pos, "integer literal is out of range")),
    }
}

fn lex_string(
    src: &str,
    chars: &[(usize, char)],
    start: usize,
    raw: bool,
) -> Result<(String, usize), ParseError> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let quote = chars[start].1;
    let pos = chars[start].0;
    let mut s = String::new();
    let mut j = start + 1;
    loop {
        let Some(c) = at(j) else {
            return Err(ParseError::at(
                src,
                pos,
                "Syntax error: unterminated string literal",
            ));
        };
        j += 1;
        if c == quote {
            return Ok((s, j - start));
        }
        if c == '\n' || c == '\r' {
            return Err(ParseError::at(
                src,
                pos,
                "Syntax error: newline in string literal",
            ));
        }
        if c != '\\' || raw {
            s.push(c);
            continue;
        }
        let epos = chars.get(j - 1).map_or(src.len(), |&(o, _)| o);
        let bad = || ParseError::at(src, epos, "Syntax error: invalid escape sequence");
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
            s.push(c);
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
        let mut v: u32 = 0;
        for _ in 0..count {
            let d = at(j).and_then(|c| c.to_digit(radix)).ok_or_else(bad)?;
            v = v * radix + d;
            j += 1;
        }
        s.push(char::from_u32(v).ok_or_else(bad)?);
    }
}
