//! Tokenizer for band-math expressions.
//!
//! Separate from the parser so every token carries its 0-based *character*
//! column: error carets must land under the offending character even when the
//! source holds multi-byte UTF-8, which byte offsets would get wrong.

use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Num(f64),
    /// Any identifier, lower-cased (keywords, functions, bands are told apart
    /// by the parser, which knows the context). A dotted reference such as
    /// `red.b2` is one identifier, so its column is that of its first letter.
    Ident(String),
    LParen,
    RParen,
    Comma,
    Semi,
    Plus,
    Minus,
    Star,
    Slash,
    /// `**` (`^` is bitwise xor, as in Python and numpy).
    Pow,
    Amp,
    Pipe,
    Caret,
    Tilde,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    End,
}

impl Tok {
    /// How the token is named in error messages.
    pub(super) fn describe(&self) -> String {
        let sym = match self {
            Tok::Num(v) => return format!("number {v}"),
            Tok::Ident(s) => return format!("'{s}'"),
            Tok::End => return "end of expression".to_string(),
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Pow => "**",
            Tok::Amp => "&",
            Tok::Pipe => "|",
            Tok::Caret => "^",
            Tok::Tilde => "~",
            Tok::Shl => "<<",
            Tok::Shr => ">>",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Eq => "==",
            Tok::Ne => "!=",
        };
        format!("'{sym}'")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    pub col: usize,
}

/// Splits `src` into tokens, always ending with [`Tok::End`] at the column
/// just past the last character.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let err = |msg: String, col: usize| ExprError::new(msg, col, src);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            if let Some((v, end)) = radix_number(&chars, i) {
                let v = v.map_err(|m| err(m, start))?;
                out.push(Token {
                    tok: Tok::Num(v),
                    col: start,
                });
                i = end;
                continue;
            }
            i = scan_number(&chars, i);
            // A number glued to letters or a second '.' ("2b1", "1.2.3",
            // "1e") is a typo, better reported whole than as two tokens.
            if chars
                .get(i)
                .is_some_and(|&n| n.is_alphanumeric() || n == '_' || n == '.')
            {
                while chars
                    .get(i)
                    .is_some_and(|&n| n.is_alphanumeric() || n == '_' || n == '.')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                return Err(err(format!("invalid number '{text}'"), start));
            }
            let text: String = chars[start..i].iter().collect();
            let v = text
                .parse::<f64>()
                .map_err(|_| err(format!("invalid number '{text}'"), start))?;
            out.push(Token {
                tok: Tok::Num(v),
                col: start,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let word = |j: usize| {
                chars
                    .get(j)
                    .is_some_and(|&n| n.is_ascii_alphanumeric() || n == '_')
            };
            let word_start = |j: usize| {
                chars
                    .get(j)
                    .is_some_and(|&n| n.is_ascii_alphabetic() || n == '_')
            };
            while word(i) || (chars.get(i) == Some(&'.') && word_start(i + 1)) {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Token {
                tok: Tok::Ident(text.to_ascii_lowercase()),
                col: start,
            });
            continue;
        }
        let (tok, len) = match (c, next) {
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            (';', _) => (Tok::Semi, 1),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            ('*', Some('*')) => (Tok::Pow, 2),
            ('*', _) => (Tok::Star, 1),
            ('/', _) => (Tok::Slash, 1),
            ('^', _) => (Tok::Caret, 1),
            ('~', _) => (Tok::Tilde, 1),
            ('<', Some('<')) => (Tok::Shl, 2),
            ('<', Some('=')) => (Tok::Le, 2),
            ('<', _) => (Tok::Lt, 1),
            ('>', Some('>')) => (Tok::Shr, 2),
            ('>', Some('=')) => (Tok::Ge, 2),
            ('>', _) => (Tok::Gt, 1),
            ('=', Some('=')) => (Tok::Eq, 2),
            ('!', Some('=')) => (Tok::Ne, 2),
            ('=', _) => return Err(err("'=' is not an operator; compare with '=='".into(), i)),
            ('!', _) => return Err(err("'!' is not an operator; negate with 'not'".into(), i)),
            ('&', Some('&')) => {
                return Err(err(
                    "'&&' is not an operator; use 'and' ('&' is bitwise and)".into(),
                    i,
                ))
            }
            ('|', Some('|')) => {
                return Err(err(
                    "'||' is not an operator; use 'or' ('|' is bitwise or)".into(),
                    i,
                ))
            }
            ('&', _) => (Tok::Amp, 1),
            ('|', _) => (Tok::Pipe, 1),
            _ => return Err(err(format!("unexpected character '{c}'"), i)),
        };
        out.push(Token { tok, col: start });
        i += len;
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len(),
    });
    Ok(out)
}

/// A `0x`/`0b`/`0o` literal starting at `i`: its value (or why it is
/// invalid) and the index just past it. `None` when `i` starts no such prefix.
fn radix_number(chars: &[char], i: usize) -> Option<(Result<f64, String>, usize)> {
    let radix = match (chars[i], chars.get(i + 1).map(char::to_ascii_lowercase)) {
        ('0', Some('x')) => 16,
        ('0', Some('b')) => 2,
        ('0', Some('o')) => 8,
        _ => return None,
    };
    let mut end = i + 2;
    while chars
        .get(end)
        .is_some_and(|&n| n.is_alphanumeric() || n == '_' || n == '.')
    {
        end += 1;
    }
    let text: String = chars[i..end].iter().collect();
    let value = match u64::from_str_radix(&text[2..], radix) {
        // Larger values would round in f64: refuse rather than change them.
        Ok(v) if v <= 1 << 53 => Ok(v as f64),
        Ok(_) => Err(format!("number too large: {text} (the limit is 2^53)")),
        Err(_) => Err(format!("invalid number '{text}'")),
    };
    Some((value, end))
}

/// Index just past the number starting at `i`: digits, optional fraction,
/// optional exponent (only taken when digits follow, so "2e" stays invalid).
fn scan_number(chars: &[char], mut i: usize) -> usize {
    let digit = |j: usize| chars.get(j).is_some_and(|c| c.is_ascii_digit());
    while digit(i) {
        i += 1;
    }
    if chars.get(i) == Some(&'.') {
        i += 1;
        while digit(i) {
            i += 1;
        }
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
        if digit(i + 1 + sign) {
            i += 1 + sign;
            while digit(i) {
                i += 1;
            }
        }
    }
    i
}
