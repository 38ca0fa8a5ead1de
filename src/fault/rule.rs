//! One fault rule: what it matches and what it does, parsed from `key=value` pairs (the
//! `--fault` flag) or a JSON object (`POST /v1/faults`) with the same keys.
//!
//! | key | meaning |
//! |---|---|
//! | `api` | the API key the rule applies to, by name (`Produce`) or number (`0`) |
//! | `error` | answer with this Kafka error, by name (`NOT_LEADER_OR_FOLLOWER`) or code (`6`) |
//! | `delay_ms` | hold the request this long before serving it (that connection only) |
//! | `drop` | `true`: close the connection instead of answering |
//! | `count` | how many matching requests the rule acts on (default 1) |
//! | `topic`, `partition`, `client_id` | narrow the match |
//! | `leader_unavailable_ms` | with `topic` (and `partition`): no leader for this long |
//! | `disk_full_ms` | appends fail with KAFKA_STORAGE_ERROR for this long |
//! | `fsync_delay_ms` + `duration_ms` | every fsync takes this much longer, for that long |

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

use super::respond;

/// The most requests one rule may act on, and the longest delay or duration it may set: a
/// typo must not wedge a test suite for days.
pub const MAX_COUNT: u64 = 1_000_000;
pub const MAX_DURATION_MS: u64 = 3_600_000;

/// What a request rule does to the requests it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer with this error code, in the places the API carries errors.
    Error(i16),
    /// Serve the request after this many milliseconds.
    Delay(u64),
    /// Close the connection without answering.
    Drop,
}

/// Narrows a request rule; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub topic: Option<String>,
    pub partition: Option<i32>,
    pub client_id: Option<String>,
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The next `count` requests of `api` that pass `filter` get `action`.
    Request {
        api: ApiKey,
        action: Action,
        count: u64,
        filter: Filter,
    },
    /// `topic`'s partition (every partition when `None`) has no leader for `duration_ms`.
    LeaderUnavailable {
        topic: String,
        partition: Option<i32>,
        duration_ms: u64,
    },
    /// Appends fail as on a full disk for `duration_ms`.
    DiskFull { duration_ms: u64 },
    /// Every fsync takes `delay_ms` longer, for `duration_ms`.
    SlowFsync { delay_ms: u64, duration_ms: u64 },
}

/// Every key a rule may have; the first [`REQUEST_KEYS`] are those of a request rule.
const KEYS: [&str; 12] = [
    "api",
    "error",
    "delay_ms",
    "drop",
    "count",
    "topic",
    "partition",
    "client_id",
    "leader_unavailable_ms",
    "disk_full_ms",
    "fsync_delay_ms",
    "duration_ms",
];
const REQUEST_KEYS: usize = 8;

impl Rule {
    /// Parses the `--fault` form: `api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3`.
    pub fn parse_flag(text: &str) -> Result<Rule, String> {
        let pairs = text
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| format!("expected key=value, got {p:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Rule::from_pairs(&pairs)
    }

    /// Parses the JSON form: `{"api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "count": 3}`.
    pub fn parse_json(body: &[u8]) -> Result<Rule, String> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let object = value
            .as_object()
            .ok_or("expected a JSON object such as {\"api\": \"Produce\", \"error\": 6}")?;
        let mut pairs = Vec::with_capacity(object.len());
        for (key, value) in object {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return Err(format!("{key}: expected a string, number or boolean")),
            };
            pairs.push((key.clone(), text));
        }
        Rule::from_pairs(&pairs)
    }

    fn from_pairs(pairs: &[(String, String)]) -> Result<Rule, String> {
        for (i, (key, _)) in pairs.iter().enumerate() {
            if !KEYS.contains(&key.as_str()) {
                return Err(format!("unknown key {key:?}; keys are {}", KEYS.join(", ")));
            }
            if pairs[..i].iter().any(|(k, _)| k == key) {
                return Err(format!("{key} given twice"));
            }
        }
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let millis = |key: &str| -> Result<Option<u64>, String> {
            get(key)
                .map(|v| {
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| *n <= MAX_DURATION_MS)
                        .ok_or_else(|| format!("{key}: expected 0..={MAX_DURATION_MS}, got {v:?}"))
                })
                .transpose()
        };
        let partition = get("partition")
            .map(|v| {
                v.parse::<i32>()
                    .ok()
                    .filter(|p| *p >= 0)
                    .ok_or_else(|| format!("partition: expected a partition number, got {v:?}"))
            })
            .transpose()?;
        let topic = get("topic").map(str::to_string);
        let only = |allowed: &[&str], what: &str| -> Result<(), String> {
            match pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
                Some((k, _)) => Err(format!("{k} does not go with {what}")),
                None => Ok(()),
            }
        };

        if let Some(duration_ms) = millis("leader_unavailable_ms")? {
            only(
                &["leader_unavailable_ms", "topic", "partition"],
                "leader_unavailable_ms",
            )?;
            let topic = topic.ok_or("leader_unavailable_ms needs a topic")?;
            return Ok(Rule::LeaderUnavailable {
                topic,
                partition,
                duration_ms,
            });
        }
        if let Some(duration_ms) = millis("disk_full_ms")? {
            only(&["disk_full_ms"], "disk_full_ms")?;
            return Ok(Rule::DiskFull { duration_ms });
        }
        if let Some(delay_ms) = millis("fsync_delay_ms")? {
            only(&["fsync_delay_ms", "duration_ms"], "fsync_delay_ms")?;
            let duration_ms = millis("duration_ms")?.ok_or("fsync_delay_ms needs duration_ms")?;
            return Ok(Rule::SlowFsync {
                delay_ms,
                duration_ms,
            });
        }

        only(&KEYS[..REQUEST_KEYS], "a request rule")?;
        let api = parse_api(get("api").ok_or(
            "a rule needs api (with error, delay_ms or drop), or one of leader_unavailable_ms, \
             disk_full_ms, fsync_delay_ms",
        )?)?;
        let error = get("error").map(parse_error).transpose()?;
        let delay = millis("delay_ms")?;
        let drop = match get("drop") {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => return Err(format!("drop: expected true or false, got {v:?}")),
        };
        let action = match (error, delay, drop) {
            (Some(code), None, false) => Action::Error(code),
            (None, Some(ms), false) => Action::Delay(ms),
            (None, None, true) => Action::Drop,
            _ => {
                return Err(
                    "a request rule takes exactly one of error, delay_ms, drop=true".into(),
                );
            }
        };
        let count = match get("count") {
            None => 1,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_COUNT).contains(n))
                .ok_or_else(|| format!("count: expected 1..={MAX_COUNT}, got {v:?}"))?,
        };
        if partition.is_some() && topic.is_none() {
            return Err("partition needs topic".into());
        }
        if topic.is_some() && !respond::names_topics(api) {
            return Err(format!(
                "{api:?} requests name no topic: drop the topic/partition filter"
            ));
        }
        if let Action::Error(_) = action
            && !respond::carries_errors(api)
        {
            return Err(format!(
                "errors cannot be injected into {api:?} responses (supported: {}); \
                 delay_ms and drop work for every API",
                respond::ERROR_APIS
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Rule::Request {
            api,
            action,
            count,
            filter: Filter {
                topic,
                partition,
                client_id: get("client_id").map(str::to_string),
            },
        })
    }

    /// The rule as JSON, in the keys it was written with.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        let mut out = serde_json::Map::new();
        let mut put = |k: &str, v: Value| {
            out.insert(k.to_string(), v);
        };
        match self {
            Rule::Request {
                api,
                action,
                count,
                filter,
            } => {
                put("api", Value::from(format!("{api:?}")));
                match action {
                    Action::Error(code) => {
                        put("error", Value::from(error_name(*code)));
                        put("error_code", Value::from(*code));
                    }
                    Action::Delay(ms) => put("delay_ms", Value::from(*ms)),
                    Action::Drop => put("drop", Value::from(true)),
                }
                put("count", Value::from(*count));
                if let Some(t) = &filter.topic {
                    put("topic", Value::from(t.as_str()));
                }
                if let Some(p) = filter.partition {
                    put("partition", Value::from(p));
                }
                if let Some(c) = &filter.client_id {
                    put("client_id", Value::from(c.as_str()));
                }
            }
            Rule::LeaderUnavailable {
                topic,
                partition,
                duration_ms,
            } => {
                put("topic", Value::from(topic.as_str()));
                if let Some(p) = partition {
                    put("partition", Value::from(*p));
                }
                put("leader_unavailable_ms", Value::from(*duration_ms));
            }
            Rule::DiskFull { duration_ms } => put("disk_full_ms", Value::from(*duration_ms)),
            Rule::SlowFsync {
                delay_ms,
                duration_ms,
            } => {
                put("fsync_delay_ms", Value::from(*delay_ms));
                put("duration_ms", Value::from(*duration_ms));
            }
        }
        out
    }
}

/// `Produce`, `produce` or `0`.
pub fn parse_api(text: &str) -> Result<ApiKey, String> {
    if let Ok(n) = text.parse::<i16>() {
        return ApiKey::try_from(n).map_err(|_| format!("api: no API key {n}"));
    }
    let wanted = squash(text);
    ApiKey::iter()
        .find(|k| squash(&format!("{k:?}")) == wanted)
        .ok_or_else(|| format!("api: no API named {text:?}"))
}

/// `NOT_LEADER_OR_FOLLOWER`, `NotLeaderOrFollower` or `6`.
pub fn parse_error(text: &str) -> Result<i16, String> {
    if let Ok(code) = text.parse::<i16>() {
        return match ResponseError::try_from_code(code) {
            Some(ResponseError::Unknown(_)) | None => {
                Err(format!("error: {code} is no Kafka error code"))
            }
            Some(_) => Ok(code),
        };
    }
    let wanted = squash(text);
    (-1..=i16::from(u8::MAX))
        .find(|code| {
            ResponseError::try_from_code(*code).is_some_and(|e| {
                !matches!(e, ResponseError::Unknown(_)) && squash(&e.to_string()) == wanted
            })
        })
        .ok_or_else(|| format!("error: no Kafka error named {text:?}"))
}

/// Kafka's name of an error code: 6 → `NOT_LEADER_OR_FOLLOWER`.
pub fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE".into(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_{c}"),
        Some(e) => {
            let mut out = String::new();
            for (i, c) in e.to_string().chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
    }
}

/// Lower case without underscores, so `NOT_LEADER_OR_FOLLOWER` meets `NotLeaderOrFollower`.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_and_json_forms_parse_to_the_same_rule() {
        let flag =
            Rule::parse_flag("api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3,topic=t").unwrap();
        let json =
            Rule::parse_json(br#"{"api": 0, "error": 6, "count": 3, "topic": "t"}"#).unwrap();
        assert_eq!(flag, json);
        assert_eq!(
            flag,
            Rule::Request {
                api: ApiKey::Produce,
                action: Action::Error(6),
                count: 3,
                filter: Filter {
                    topic: Some("t".into()),
                    ..Filter::default()
                },
            }
        );
    }

    #[test]
    fn error_names_round_trip() {
        assert_eq!(parse_error("NOT_LEADER_OR_FOLLOWER").unwrap(), 6);
        assert_eq!(parse_error("TopicAuthorizationFailed").unwrap(), 29);
        assert_eq!(parse_error("UNKNOWN_SERVER_ERROR").unwrap(), -1);
        assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_name(16), "NOT_COORDINATOR");
        assert!(parse_error("NO_SUCH_THING").is_err());
        assert!(parse_error("0").is_err());
        assert!(parse_error("9999").is_err());
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for (text, why) in [
            ("api=Produce", "exactly one of"),
            ("api=Produce,error=6,delay_ms=5", "exactly one of"),
            ("api=Heartbeat,error=6,topic=t", "name no topic"),
            ("api=Metadata,error=6", "cannot be injected"),
            ("api=Produce,error=6,count=0", "count"),
            ("api=Produce,error=6,colour=red", "unknown key"),
            ("api=Nope,error=6", "no API named"),
            ("leader_unavailable_ms=100", "needs a topic"),
            ("fsync_delay_ms=100", "needs duration_ms"),
            ("disk_full_ms=100,api=Produce", "does not go with"),
            ("api=Produce,delay_ms=99999999", "delay_ms"),
            ("api=Produce,error=6,partition=1", "partition needs topic"),
        ] {
            let err = Rule::parse_flag(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn metadata_accepts_delay_and_drop() {
        assert!(Rule::parse_flag("api=Metadata,delay_ms=100").is_ok());
        assert!(Rule::parse_flag("api=3,drop=true,count=2").is_ok());
    }
}
