//! Kafka's JAAS configuration text, as `sasl.jaas.config` and
//! `listener.name.<name>.<mechanism>.sasl.jaas.config` carry it:
//!
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required
//!     username="admin" password="admin-secret" user_alice="alice-secret";
//! ```
//!
//! One or more login modules, each `class flag option=value … ;`. The flag is one of
//! `required`, `requisite`, `sufficient`, `optional`. Values are bare words or double-quoted
//! strings (a backslash escapes the next character). `//` and `/* */` comments are skipped, as
//! Java's tokenizer does. Only parsing happens here; the SASL mechanisms (`net::sasl`) decide
//! what the options mean.
//!
//! Options hold passwords: `Debug` never prints their values.

use std::collections::BTreeMap;

/// One `class flag options;` entry.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginModule {
    pub class: String,
    pub flag: ControlFlag,
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for LoginModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginModule")
            .field("class", &self.class)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// JAAS control flags (Kafka accepts all four and, for its own modules, ignores them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFlag {
    Required,
    Requisite,
    Sufficient,
    Optional,
}

/// Why a JAAS text could not be read. The message never quotes option values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JAAS config: {0}")]
pub struct JaasError(pub String);

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

/// Parses a JAAS configuration with at least one login module.
pub fn parse(text: &str) -> Result<Vec<LoginModule>, JaasError> {
    let tokens = tokenize(text)?;
    let mut it = tokens.into_iter().peekable();
    let mut modules = Vec::new();
    while let Some(token) = it.next() {
        let Token::Word(class) = token else {
            return Err(JaasError("expected a login module class name".into()));
        };
        let flag = match it.next() {
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "required" => ControlFlag::Required,
                "requisite" => ControlFlag::Requisite,
                "sufficient" => ControlFlag::Sufficient,
                "optional" => ControlFlag::Optional,
                _ => {
                    return Err(JaasError(format!(
                        "{class}: control flag must be required, requisite, sufficient or \
                         optional, not {w:?}"
                    )));
                }
            },
            _ => return Err(JaasError(format!("{class}: missing control flag"))),
        };
        let mut options = BTreeMap::new();
        loop {
            match it.next() {
                Some(Token::Semicolon) => break,
                Some(Token::Word(key)) => {
                    if it.next() != Some(Token::Equals) {
                        return Err(JaasError(format!("{class}: option {key} has no '='")));
                    }
                    let value = match it.next() {
                        Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
                        _ => return Err(JaasError(format!("{class}: option {key} has no value"))),
                    };
                    options.insert(key, value);
                }
                None => {
                    return Err(JaasError(format!("{class}: missing ';' at the end")));
                }
                Some(_) => return Err(JaasError(format!("{class}: malformed option"))),
            }
        }
        modules.push(LoginModule {
            class,
            flag,
            options,
        });
    }
    if modules.is_empty() {
        return Err(JaasError("no login module".into()));
    }
    Ok(modules)
}

fn tokenize(text: &str) -> Result<Vec<Token>, JaasError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                out.push(Token::Equals);
            }
            ';' => {
                chars.next();
                out.push(Token::Semicolon);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => s.push(e),
                            None => return Err(JaasError("unterminated quoted value".into())),
                        },
                        Some(ch) => s.push(ch),
                        None => return Err(JaasError("unterminated quoted value".into())),
                    }
                }
                out.push(Token::Quoted(s));
            }
            '/' => {
                chars.next();
                match chars.next() {
                    Some('/') => {
                        for ch in chars.by_ref() {
                            if ch == '\n' {
                                break;
                            }
                        }
                    }
                    Some('*') => {
                        let mut prev = ' ';
                        let mut closed = false;
                        for ch in chars.by_ref() {
                            if prev == '*' && ch == '/' {
                                closed = true;
                                break;
                            }
                            prev = ch;
                        }
                        if !closed {
                            return Err(JaasError("unterminated comment".into()));
                        }
                    }
                    _ => return Err(JaasError("unexpected '/'".into())),
                }
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, '=' | ';' | '"' | '/') {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                out.push(Token::Word(s));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafkas_plain_example() {
        let m = parse(
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" \
             user_alice=\"a;l=i\\\"ce\";",
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].class,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(m[0].flag, ControlFlag::Required);
        assert_eq!(m[0].options["user_alice"], "a;l=i\"ce");
        assert_eq!(m[0].options["username"], "admin");
        assert!(!format!("{m:?}").contains("admin-secret"));
    }

    #[test]
    fn several_modules_comments_and_bare_values() {
        let m = parse("/* c */ a.B optional k=v; // x\n c.D sufficient;").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].options["k"], "v");
        assert_eq!(m[1].flag, ControlFlag::Sufficient);
        assert!(m[1].options.is_empty());
    }

    #[test]
    fn malformed_texts_are_errors_without_secrets() {
        for bad in [
            "",
            "a.B required k=\"secret\"",
            "a.B mandatory;",
            "a.B required k;",
            "a.B required k=;",
            "a.B required k=\"secret;",
            "= required;",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.to_string().contains("secret"), "{bad}: {e}");
        }
    }
}
