//! The command line split as the lava worker splits it: Python's `shlex.split(s)` (POSIX mode, no
//! comments), which differs from a shell and from the `shlex` crate: `#` is an ordinary character,
//! and inside double quotes a backslash escapes only `"` and `\` (`"a\$b"` stays `a\$b`). Pure.

/// Why a command line cannot be split (Python's own words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("No closing quotation")]
    NoClosingQuotation,
    #[error("No escaped character")]
    NoEscapedCharacter,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between words.
    Gap,
    /// In a word, outside quotes.
    Word,
    /// Inside quotes opened by this character.
    Quoted(char),
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `s` into words as `shlex.split(s)` does.
pub fn split(s: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word that had quotes is kept even when empty (`''` is one empty word).
    let mut quoted = false;
    let mut state = State::Gap;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match state {
            State::Gap | State::Word => {
                if is_space(c) {
                    if state == State::Word {
                        words.push(std::mem::take(&mut word));
                        quoted = false;
                    }
                    state = State::Gap;
                    continue;
                }
                state = State::Word;
                match c {
                    '\\' => word.push(chars.next().ok_or(SplitError::NoEscapedCharacter)?),
                    '\'' | '"' => {
                        quoted = true;
                        state = State::Quoted(c);
                    }
                    _ => word.push(c),
                }
            }
            State::Quoted(q) => {
                if c == q {
                    state = State::Word;
                } else if c == '\\' && q == '"' {
                    let next = chars.next().ok_or(SplitError::NoEscapedCharacter)?;
                    if next != '"' && next != '\\' {
                        word.push('\\');
                    }
                    word.push(next);
                } else {
                    word.push(c);
                }
            }
        }
    }
    match state {
        State::Quoted(_) => Err(SplitError::NoClosingQuotation),
        State::Word => {
            words.push(word);
            Ok(words)
        }
        State::Gap => {
            if quoted {
                words.push(word);
            }
            Ok(words)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Vec<String> {
        split(x).unwrap()
    }

    /// Each expectation is what Python 3's `shlex.split` returns for the input.
    #[test]
    fn splits_as_python_shlex_split() {
        assert_eq!(s("/bin/sh -c date"), ["/bin/sh", "-c", "date"]);
        assert_eq!(s("  a \t b\n"), ["a", "b"]);
        assert_eq!(s("echo #x"), ["echo", "#x"]);
        assert_eq!(s(r#"echo "a\$b""#), ["echo", r"a\$b"]);
        assert_eq!(s(r#"echo "a\"b\\c""#), ["echo", r#"a"b\c"#]);
        assert_eq!(s(r"echo a\$b \ c"), ["echo", "a$b", " c"]);
        assert_eq!(s(r"echo 'a\b'"), ["echo", r"a\b"]);
        assert_eq!(s(r#"a"b c"d"#), ["ab cd"]);
        assert_eq!(s("a '' \"\""), ["a", "", ""]);
        assert_eq!(
            s("echo {{ job.job_id }}"),
            ["echo", "{{", "job.job_id", "}}"]
        );
        assert_eq!(s("sh -c '{{ vars.x }} y'"), ["sh", "-c", "{{ vars.x }} y"]);
        assert_eq!(s(""), Vec::<String>::new());
        assert_eq!(s("   "), Vec::<String>::new());
    }

    #[test]
    fn unbalanced_input_is_refused_in_pythons_words() {
        assert_eq!(split("echo 'a"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("echo \"a"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("echo a\\"), Err(SplitError::NoEscapedCharacter));
        assert_eq!(
            SplitError::NoClosingQuotation.to_string(),
            "No closing quotation"
        );
    }
}
