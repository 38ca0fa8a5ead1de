//! SASL/OAUTHBEARER settings of one listener, read the way a Kafka broker reads them.
//!
//! Which validator runs depends on
//! `listener.name.<l>.oauthbearer.sasl.server.callback.handler.class`:
//! - unset: Kafka's development default, `OAuthBearerUnsecuredValidatorCallbackHandler`
//!   (unsigned `alg: none` tokens), configured by options of the `OAuthBearerLoginModule` in
//!   the listener's `oauthbearer.sasl.jaas.config`: `unsecuredValidatorPrincipalClaimName`
//!   (default `sub`), `unsecuredValidatorScopeClaimName` (default `scope`),
//!   `unsecuredValidatorRequiredScope` (space-separated), `unsecuredValidatorAllowableClockSkewMs`
//!   (default 0);
//! - `org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler` (or its
//!   older `…oauthbearer.secured.` name): signed tokens checked against the keys of
//!   `sasl.oauthbearer.jwks.endpoint.url` (only `file://` URLs here), refreshed every
//!   `sasl.oauthbearer.jwks.endpoint.refresh.ms`, with `sasl.oauthbearer.expected.audience`,
//!   `sasl.oauthbearer.expected.issuer`, `sasl.oauthbearer.sub.claim.name`,
//!   `sasl.oauthbearer.scope.claim.name` and `sasl.oauthbearer.clock.skew.seconds`.
//!
//! Each `sasl.oauthbearer.*` key is looked up as `listener.name.<l>.oauthbearer.<key>`, then
//! `listener.name.<l>.<key>`, then `<key>`. Only text is parsed here; `net::oauth` reads the
//! key file and checks tokens.

use std::path::PathBuf;

use super::ConfigError;

/// Kafka's login module for OAUTHBEARER (the JAAS entry must name it, as Kafka requires).
pub const LOGIN_MODULE: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

/// The server callback handler classes that select JWKS validation of signed tokens.
pub const JWKS_VALIDATOR_CLASSES: &[&str] = &[
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
    "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler",
];

/// Kafka's class for unsecured tokens (naming it explicitly is the same as leaving it unset).
pub const UNSECURED_VALIDATOR_CLASS: &str = "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler";

/// The broker keys of signed-token validation (each also with the listener prefixes).
pub const OAUTHBEARER_KEYS: &[&str] = &[
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.clock.skew.seconds",
];

/// How a listener validates OAUTHBEARER tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthValidation {
    /// Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler`: unsigned JWS, for development.
    Unsecured {
        principal_claim: String,
        scope_claim: String,
        required_scope: Vec<String>,
        clock_skew_ms: u64,
    },
    /// Kafka's `OAuthBearerValidatorCallbackHandler`: signed JWS checked against a JWKS.
    Jwks(JwksSettings),
}

/// Signed-token validation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSettings {
    /// The JWKS file (`sasl.oauthbearer.jwks.endpoint.url=file:///…`).
    pub path: PathBuf,
    /// `sasl.oauthbearer.jwks.endpoint.refresh.ms` (Kafka's default: one hour).
    pub refresh_ms: u64,
    /// `sasl.oauthbearer.expected.audience`: the token's `aud` must hold one of these (when
    /// set).
    pub expected_audience: Vec<String>,
    /// `sasl.oauthbearer.expected.issuer`: the token's `iss` must equal it (when set).
    pub expected_issuer: Option<String>,
    pub sub_claim: String,
    pub scope_claim: String,
    /// `sasl.oauthbearer.clock.skew.seconds` (Kafka's default: 30).
    pub clock_skew_s: u64,
}

/// Reads the OAUTHBEARER settings of listener `listener`; `lookup(key)` resolves a key with
/// the listener prefix (`listener.name.<l>.<key>`, then `<key>`), returning the key it found.
pub fn settings(
    listener: &str,
    lookup: &dyn Fn(&str) -> Option<(String, String)>,
) -> Result<OAuthValidation, ConfigError> {
    let prefix = format!("listener.name.{}.", listener.to_ascii_lowercase());
    // Kafka's mechanism-prefixed key first, then the listener's, then the broker's.
    let get = |key: &str| lookup(&format!("oauthbearer.{key}")).or_else(|| lookup(key));
    let jaas = lookup("oauthbearer.sasl.jaas.config").or_else(|| lookup("sasl.jaas.config"));
    let Some((jaas_key, jaas)) = jaas else {
        return Err(ConfigError::Invalid(
            format!("{prefix}oauthbearer.sasl.jaas.config"),
            format!(
                "listener {listener} enables OAUTHBEARER but has no JAAS config with the {LOGIN_MODULE}"
            ),
        ));
    };
    let modules = super::jaas::parse(&jaas)
        .map_err(|e| ConfigError::Invalid(jaas_key.clone(), e.to_string()))?;
    let Some(module) = modules.iter().find(|m| m.class == LOGIN_MODULE) else {
        return Err(ConfigError::Invalid(
            jaas_key,
            format!("no {LOGIN_MODULE} for OAUTHBEARER on listener {listener}"),
        ));
    };
    let handler =
        lookup("oauthbearer.sasl.server.callback.handler.class").map(|(_, v)| v.trim().to_string());
    let jwks = match handler.as_deref() {
        None | Some(UNSECURED_VALIDATOR_CLASS) => false,
        Some(c) if JWKS_VALIDATOR_CLASSES.contains(&c) => true,
        Some(c) => {
            return Err(ConfigError::Invalid(
                format!("{prefix}oauthbearer.sasl.server.callback.handler.class"),
                format!("{c} is not a callback handler Vltava has"),
            ));
        }
    };
    if !jwks {
        let option = |name: &str| {
            module
                .options
                .get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let clock_skew_ms = match option("unsecuredValidatorAllowableClockSkewMs") {
            None => 0,
            Some(v) => v.parse::<u64>().map_err(|_| {
                ConfigError::Invalid(
                    jaas_key.clone(),
                    format!("unsecuredValidatorAllowableClockSkewMs must be a non-negative integer, not {v:?}"),
                )
            })?,
        };
        return Ok(OAuthValidation::Unsecured {
            principal_claim: option("unsecuredValidatorPrincipalClaimName")
                .unwrap_or_else(|| "sub".into()),
            scope_claim: option("unsecuredValidatorScopeClaimName")
                .unwrap_or_else(|| "scope".into()),
            required_scope: option("unsecuredValidatorRequiredScope")
                .map(|s| {
                    s.split(' ')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            clock_skew_ms,
        });
    }

    let url_key = "sasl.oauthbearer.jwks.endpoint.url";
    let Some((_, url)) = get(url_key) else {
        return Err(ConfigError::Invalid(
            format!("{prefix}oauthbearer.{url_key}"),
            format!("listener {listener} validates signed OAUTHBEARER tokens but has no JWKS URL"),
        ));
    };
    let url = url.trim();
    let Some(path) = url.strip_prefix("file://").filter(|p| p.starts_with('/')) else {
        return Err(ConfigError::Invalid(
            url_key.into(),
            format!("{url:?}: only file:///absolute/path JWKS URLs are supported"),
        ));
    };
    let number = |key: &str, default: u64| -> Result<u64, ConfigError> {
        match get(key) {
            None => Ok(default),
            Some((k, v)) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| ConfigError::Invalid(k, v)),
        }
    };
    let text = |key: &str, default: &str| -> String {
        get(key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    Ok(OAuthValidation::Jwks(JwksSettings {
        path: PathBuf::from(path),
        refresh_ms: number("sasl.oauthbearer.jwks.endpoint.refresh.ms", 3_600_000)?.max(1),
        expected_audience: get("sasl.oauthbearer.expected.audience")
            .map(|(_, v)| {
                v.split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        expected_issuer: get("sasl.oauthbearer.expected.issuer")
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty()),
        sub_claim: text("sasl.oauthbearer.sub.claim.name", "sub"),
        scope_claim: text("sasl.oauthbearer.scope.claim.name", "scope"),
        clock_skew_s: number("sasl.oauthbearer.clock.skew.seconds", 30)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn read(pairs: &[(&str, &str)]) -> Result<OAuthValidation, ConfigError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |key: &str| {
            let prefixed = format!("listener.name.sasl_plaintext.{key}");
            map.get(&prefixed)
                .map(|v| (prefixed.clone(), v.clone()))
                .or_else(|| map.get(key).map(|v| (key.to_string(), v.clone())))
        };
        settings("SASL_PLAINTEXT", &lookup)
    }

    const JAAS: &str = "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config";

    #[test]
    fn unsecured_options_come_from_the_login_module() {
        let v = read(&[(
            JAAS,
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredValidatorPrincipalClaimName=\"who\" unsecuredValidatorRequiredScope=\"a b\" \
             unsecuredValidatorAllowableClockSkewMs=\"1500\";",
        )])
        .unwrap();
        assert_eq!(
            v,
            OAuthValidation::Unsecured {
                principal_claim: "who".into(),
                scope_claim: "scope".into(),
                required_scope: vec!["a".into(), "b".into()],
                clock_skew_ms: 1500,
            }
        );
        assert!(read(&[]).is_err(), "Kafka needs the JAAS entry");
        assert!(
            read(&[(JAAS, "x.Y required;")]).is_err(),
            "the entry must be the OAuthBearerLoginModule"
        );
    }

    #[test]
    fn jwks_settings_with_kafkas_prefixes_and_defaults() {
        let login = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;";
        let handler = "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class";
        let class = JWKS_VALIDATOR_CLASSES[0];
        let v = read(&[
            (JAAS, login),
            (handler, class),
            (
                "sasl.oauthbearer.jwks.endpoint.url",
                "file:///etc/jwks.json",
            ),
            (
                "listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.expected.audience",
                "kafka, other",
            ),
        ])
        .unwrap();
        let OAuthValidation::Jwks(j) = v else {
            panic!("{v:?}")
        };
        assert_eq!(j.path, PathBuf::from("/etc/jwks.json"));
        assert_eq!(j.expected_audience, vec!["kafka", "other"]);
        assert_eq!((j.refresh_ms, j.clock_skew_s), (3_600_000, 30));
        assert_eq!((j.sub_claim.as_str(), j.expected_issuer), ("sub", None));

        let no_url = read(&[(JAAS, login), (handler, class)]);
        assert!(no_url.is_err());
        let http = read(&[
            (JAAS, login),
            (handler, class),
            ("sasl.oauthbearer.jwks.endpoint.url", "https://idp/jwks"),
        ]);
        assert!(http.unwrap_err().to_string().contains("file://"));
        assert!(read(&[(JAAS, login), (handler, "com.example.Mine")]).is_err());
    }
}
