//! One ssh_config line into a keyword and its arguments, as OpenSSH 9.2's `process_config_line`
//! and `argv_split` do it: the keyword ends at whitespace or at one `=` (`Key Value`, `Key=Value`,
//! `Key = Value`), is case-insensitive, and the arguments are split on whitespace with `"…"` and
//! `'…'` quoting, `\` escaping a quote, a backslash or (unquoted) a space, and an unquoted `#` at
//! the start of an argument ending the line.

/// A line that says something: its keyword (lowercased) and arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub keyword: String,
    pub args: Vec<String>,
}

/// Why a line could not be split.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("unterminated quote")]
    UnterminatedQuote,
}

/// Splits `text`; `None` for a blank line or a comment.
pub fn split_line(text: &str) -> Result<Option<Line>, LexError> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{c}');
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let end = text
        .find(|c: char| c.is_ascii_whitespace() || c == '=')
        .unwrap_or(text.len());
    let keyword = text[..end].to_ascii_lowercase();
    if keyword.is_empty() {
        return Ok(None);
    }
    let mut rest = text[end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
    if let Some(after) = rest.strip_prefix('=') {
        rest = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
    }
    Ok(Some(Line {
        keyword,
        args: split_args(rest)?,
    }))
}

fn split_args(text: &str) -> Result<Vec<String>, LexError> {
    let chars: Vec<char> = text.chars().collect();
    let mut args = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if chars[i] == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match (quote, c) {
                (None, c) if c.is_ascii_whitespace() => break,
                (_, '\\')
                    if matches!(next, Some('\'' | '"' | '\\'))
                        || (quote.is_none() && next == Some(' ')) =>
                {
                    arg.push(next.unwrap_or('\\'));
                    i += 1;
                }
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                _ => arg.push(c),
            }
            i += 1;
        }
        if quote.is_some() {
            return Err(LexError::UnterminatedQuote);
        }
        args.push(arg);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        split_line(text).unwrap().unwrap()
    }

    #[test]
    fn lexer_accepts_key_value_forms_and_lowercases_the_keyword() {
        for text in [
            "HostName a.b",
            "  hostname=a.b",
            "HOSTNAME = a.b",
            "HostName =a.b\t",
        ] {
            assert_eq!(
                line(text),
                Line {
                    keyword: "hostname".into(),
                    args: vec!["a.b".into()]
                },
                "{text}"
            );
        }
    }

    #[test]
    fn lexer_handles_quotes_escapes_and_comments() {
        assert_eq!(
            line(r#"IdentityFile "~/my keys/id" 'b c' d\ e # trailing"#).args,
            ["~/my keys/id", "b c", "d e"]
        );
        assert_eq!(line(r#"User a"b"c"#).args, ["abc"]);
        assert_eq!(split_line("  # comment").unwrap(), None);
        assert_eq!(split_line("   ").unwrap(), None);
        assert_eq!(
            split_line("User \"open").unwrap_err(),
            LexError::UnterminatedQuote
        );
    }
}
