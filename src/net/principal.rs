//! The principal of a TLS client: the certificate's subject as RFC 2253 text (the form Java's
//! `X500Principal.getName()` gives, which Kafka uses), mapped by `ssl.principal.mapping.rules`.
//!
//! Rules, as Kafka documents them: a comma- or space-separated list of `DEFAULT` and
//! `RULE:pattern/replacement/` (optionally followed by `L` or `U` to lower- or upper-case the
//! result); `/` inside pattern or replacement is written `\/`. The first rule whose pattern
//! matches the **whole** subject wins; `DEFAULT` keeps the subject as it is. No matching rule
//! refuses the connection. Replacements refer to groups as `$1`.

use regex::Regex;
use x509_parser::prelude::FromDer;

/// One parsed rule.
#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        pattern: Regex,
        replacement: String,
        case: Option<char>,
    },
}

/// `ssl.principal.mapping.rules`, parsed.
#[derive(Debug, Clone)]
pub struct MappingRules {
    rules: Vec<Rule>,
}

impl MappingRules {
    pub fn parse(text: &str) -> Result<MappingRules, String> {
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            rest = rest.trim_start_matches([',', ' ', '\t', '\n']);
            if rest.is_empty() {
                break;
            }
            if let Some(after) = rest.strip_prefix("DEFAULT") {
                rules.push(Rule::Default);
                rest = after;
                continue;
            }
            let Some(after) = rest.strip_prefix("RULE:") else {
                return Err(format!("cannot parse rule at {rest:?}"));
            };
            let (pattern, after) = until_slash(after).ok_or("a rule needs pattern/replacement/")?;
            let (replacement, after) =
                until_slash(after).ok_or("a rule needs pattern/replacement/")?;
            let (case, after) = match after.chars().next() {
                Some(c @ ('L' | 'U')) => (Some(c), &after[1..]),
                _ => (None, after),
            };
            let pattern = Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| format!("bad pattern {pattern:?}: {e}"))?;
            rules.push(Rule::Replace {
                pattern,
                replacement: java_replacement(&replacement),
                case,
            });
            rest = after;
        }
        if rules.is_empty() {
            rules.push(Rule::Default);
        }
        Ok(MappingRules { rules })
    }

    /// The short name for `subject`, or `None` when no rule matches.
    pub fn apply(&self, subject: &str) -> Option<String> {
        for rule in &self.rules {
            match rule {
                Rule::Default => return Some(subject.to_string()),
                Rule::Replace {
                    pattern,
                    replacement,
                    case,
                } => {
                    if !pattern.is_match(subject) {
                        continue;
                    }
                    let out = pattern
                        .replace_all(subject, replacement.as_str())
                        .into_owned();
                    return Some(match case {
                        Some('L') => out.to_lowercase(),
                        Some('U') => out.to_uppercase(),
                        _ => out,
                    });
                }
            }
        }
        None
    }
}

/// Text up to the next unescaped `/` (with `\/` unescaped), and what follows it.
fn until_slash(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if text[i + 1..].starts_with('/') => {
                out.push('/');
                chars.next();
            }
            '/' => return Some((out, &text[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// Java's `$1` becomes the regex crate's `${1}` (so `$1abc` is group 1 then `abc`).
fn java_replacement(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push_str("${");
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    out.push(d);
                    chars.next();
                }
                out.push('}');
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    if n == '$' {
                        out.push_str("$$");
                    } else {
                        out.push(n);
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The certificate's subject as RFC 2253 text: the last RDN first, `,` between RDNs, `+`
/// inside one, well-known attribute types by name and others as a dotted OID with `#` and the
/// hex of the value's DER encoding.
pub fn subject_rfc2253(der: &[u8]) -> Result<String, String> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| format!("cannot parse the client certificate: {e}"))?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter() {
        let mut parts = Vec::new();
        for attr in rdn.iter() {
            let oid = attr.attr_type().to_id_string();
            let value = attr.attr_value();
            let text = match (short_name(&oid), attr.as_str()) {
                (Some(name), Ok(s)) => format!("{name}={}", escape(s)),
                (name, _) => {
                    let mut encoded = vec![value.header.tag().0 as u8];
                    push_der_len(&mut encoded, value.data.len());
                    encoded.extend_from_slice(value.data);
                    let hex: String = encoded.iter().map(|b| format!("{b:02x}")).collect();
                    format!("{}=#{hex}", name.unwrap_or(&oid))
                }
            };
            parts.push(text);
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn push_der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

/// RFC 2253 escaping of an attribute value.
fn escape(value: &str) -> String {
    let mut out = String::new();
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keeps_the_subject() {
        let r = MappingRules::parse("DEFAULT").unwrap();
        assert_eq!(r.apply("CN=a,O=b").as_deref(), Some("CN=a,O=b"));
        let r = MappingRules::parse("").unwrap();
        assert_eq!(r.apply("CN=a").as_deref(), Some("CN=a"));
    }

    #[test]
    fn rules_apply_in_order_with_case_and_groups() {
        let r = MappingRules::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$3/L, DEFAULT",
        )
        .unwrap();
        assert_eq!(
            r.apply("CN=kafka-svc,OU=ServiceUsers,O=Org").as_deref(),
            Some("kafka-svc")
        );
        assert_eq!(
            r.apply("CN=Adam,OU=Dev,O=EXAMPLE").as_deref(),
            Some("adam@example")
        );
        assert_eq!(r.apply("CN=x").as_deref(), Some("CN=x"));
        let strict = MappingRules::parse("RULE:^CN=(.*)$/$1x/U").unwrap();
        assert_eq!(strict.apply("CN=a").as_deref(), Some("AX"));
        assert_eq!(strict.apply("O=a"), None);
        let slash = MappingRules::parse(r"RULE:^CN=(.*)$/a\/$1/").unwrap();
        assert_eq!(slash.apply("CN=b").as_deref(), Some("a/b"));
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(MappingRules::parse("RULE:^CN=(.*)$").is_err());
        assert!(MappingRules::parse("SOMETHING").is_err());
        assert!(MappingRules::parse("RULE:(/x/").is_err());
    }

    #[test]
    fn escaping_follows_rfc_2253() {
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape(" a "), "\\ a\\ ");
        assert_eq!(escape("#x"), "\\#x");
    }
}
