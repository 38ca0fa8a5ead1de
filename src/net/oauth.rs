//! SASL/OAUTHBEARER (RFC 7628) as Kafka's `OAuthBearerSaslServer` serves it, with Kafka's two
//! server-side validators:
//! - `OAuthBearerUnsecuredValidatorCallbackHandler` (the default, for development): an
//!   unsigned JWS (`alg: none`, empty signature) whose principal claim is a string, `exp`
//!   present and not passed, `iat` (if present) not in the future, `exp` after `iat`, and the
//!   required scope held — all within the allowable clock skew;
//! - `OAuthBearerValidatorCallbackHandler` with a JWKS: a JWS signed with RS256/384/512,
//!   PS256/384/512, ES256 or ES384 by a key of the JWKS file (chosen by `kid`; `alg: none` is
//!   refused), `exp` and `iat` required, `nbf` honoured, `aud`/`iss` checked when expected, the
//!   subject claim a non-blank string.
//!
//! The exchange: the client's first message is `n,[a=<authzid>],\x01auth=Bearer
//! <token>\x01[key=value\x01…]\x01`. A valid token ends the exchange (`User:<principal>`). An
//! invalid token is answered, as in Kafka, with the challenge `{"status":"invalid_token"}` (or
//! `insufficient_scope` with the required scope); the client acknowledges it with `\x01`, and
//! that fails the exchange with the same JSON as SASL_AUTHENTICATION_FAILED's message.
//! Extensions are accepted and ignored, as both of Kafka's handlers do.
//!
//! The JWKS file is read at start-up and then every `sasl.oauthbearer.jwks.endpoint.refresh.ms`
//! on its own thread, never on the async workers; a refresh that fails keeps the previous keys.
//! Token checks are pure functions of the token, the settings and the time passed in.

use std::path::Path;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

use crate::config::oauth::{JwksSettings, OAuthValidation};

/// The largest JWKS file read, and the most keys kept from it.
const JWKS_FILE_BYTES_MAX: u64 = 1024 * 1024;
const JWKS_KEYS_MAX: usize = 64;

/// How a listener checks tokens: built once per listener at start-up, shared by its
/// connections.
pub struct Validator {
    validation: OAuthValidation,
    /// The JWKS keys (empty for unsecured validation).
    keys: Arc<RwLock<Vec<Jwk>>>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("validation", &self.validation)
            .finish()
    }
}

impl Validator {
    /// Builds the validator; with a JWKS, reads the file (blocking: call it off the async
    /// workers) and starts the thread that refreshes it.
    pub fn start(validation: &OAuthValidation) -> Result<Arc<Validator>, String> {
        let keys = match validation {
            OAuthValidation::Unsecured { .. } => Vec::new(),
            OAuthValidation::Jwks(j) => load_jwks(&j.path)?,
        };
        let validator = Arc::new(Validator {
            validation: validation.clone(),
            keys: Arc::new(RwLock::new(keys)),
        });
        if let OAuthValidation::Jwks(j) = validation {
            spawn_refresher(Arc::downgrade(&validator.keys), j.clone());
        }
        Ok(validator)
    }

    /// A validator for unsecured tokens or with the given keys, without a refresher (tests).
    pub fn with_keys(validation: OAuthValidation, jwks_json: &[u8]) -> Result<Validator, String> {
        let keys = match validation {
            OAuthValidation::Unsecured { .. } => Vec::new(),
            OAuthValidation::Jwks(_) => parse_jwks(jwks_json)?,
        };
        Ok(Validator {
            validation,
            keys: Arc::new(RwLock::new(keys)),
        })
    }

    /// Checks a token at `now_ms` (milliseconds since the epoch).
    pub fn validate(&self, token: &str, now_ms: u64) -> Result<Token, Refusal> {
        match &self.validation {
            OAuthValidation::Unsecured {
                principal_claim,
                scope_claim,
                required_scope,
                clock_skew_ms,
            } => validate_unsecured(
                token,
                principal_claim,
                scope_claim,
                required_scope,
                *clock_skew_ms,
                now_ms,
            ),
            OAuthValidation::Jwks(settings) => {
                let keys = self
                    .keys
                    .read()
                    .map_err(|_| invalid("key store poisoned"))?;
                validate_signed(token, settings, &keys, now_ms)
            }
        }
    }
}

/// A validated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub principal: String,
    /// When the token expires (milliseconds since the epoch).
    pub expiry_ms: u64,
}

/// Why a token was refused: what the client is told, and why (logged, never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Kafka's JSON error: `{"status":"invalid_token"}` or, for a missing scope,
    /// `{"status":"insufficient_scope", "scope":"[a, b]"}`.
    pub json: String,
    pub reason: String,
}

fn invalid(reason: impl Into<String>) -> Refusal {
    Refusal {
        json: r#"{"status":"invalid_token"}"#.into(),
        reason: reason.into(),
    }
}

/// The server side of one OAUTHBEARER exchange.
pub struct OAuthBearer {
    validator: Arc<Validator>,
    /// The JSON error sent as a challenge, awaiting the client's `\x01`.
    pending_error: Option<String>,
    expiry_ms: Option<u64>,
    now_ms: fn() -> u64,
}

impl OAuthBearer {
    pub fn new(validator: Arc<Validator>) -> OAuthBearer {
        OAuthBearer::with_clock(validator, wall_clock_ms)
    }

    /// With a given clock (tests drive time).
    pub fn with_clock(validator: Arc<Validator>, now_ms: fn() -> u64) -> OAuthBearer {
        OAuthBearer {
            validator,
            pending_error: None,
            expiry_ms: None,
            now_ms,
        }
    }
}

/// Milliseconds since the epoch.
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Kafka's answer to a client message that is not RFC 7628 (a `SaslException` there).
pub const MALFORMED_MESSAGE: &str = "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER";

/// The outcome of one client message (`net::sasl` maps it onto its `Exchange`).
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes (Kafka's JSON error) and wait for the client's `\x01`.
    Challenge(Vec<u8>),
    /// Authenticated as this principal name; the server's final message is empty.
    Success(String),
    /// The exchange failed with this client-facing message.
    Failure(String),
}

impl OAuthBearer {
    /// One client message of the exchange.
    pub fn step(&mut self, token: &[u8]) -> Step {
        if token == [0x01]
            && let Some(json) = self.pending_error.take()
        {
            return Step::Failure(json);
        }
        self.pending_error = None;
        let response = match ClientResponse::parse(token) {
            Ok(r) => r,
            Err(why) => {
                tracing::debug!("OAUTHBEARER: {why}");
                return Step::Failure(MALFORMED_MESSAGE.into());
            }
        };
        match self.validator.validate(&response.token, (self.now_ms)()) {
            Ok(t) => {
                if !response.authzid.is_empty() && response.authzid != t.principal {
                    return Step::Failure(format!(
                        "Authentication failed: Client requested an authorization id ({}) that \
                         is different from the token's principal name ({})",
                        response.authzid, t.principal
                    ));
                }
                self.expiry_ms = Some(t.expiry_ms);
                Step::Success(t.principal)
            }
            Err(refusal) => {
                tracing::debug!("OAUTHBEARER token refused: {}", refusal.reason);
                let challenge = refusal.json.clone().into_bytes();
                self.pending_error = Some(refusal.json);
                Step::Challenge(challenge)
            }
        }
    }

    /// The accepted token's expiry (ms since the epoch).
    pub fn expiry_ms(&self) -> Option<u64> {
        self.expiry_ms
    }
}

/// The client's first message (RFC 7628 section 3.1).
#[derive(Debug, PartialEq, Eq)]
pub struct ClientResponse {
    pub authzid: String,
    pub token: String,
    pub extensions: Vec<(String, String)>,
}

impl ClientResponse {
    pub fn parse(bytes: &[u8]) -> Result<ClientResponse, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "client message is not UTF-8")?;
        let rest = text
            .strip_prefix("n,")
            .ok_or("client message does not start with the GS2 header 'n,'")?;
        let (authz, rest) = rest.split_once(',').ok_or("GS2 header has no second ','")?;
        let authzid = match authz {
            "" => String::new(),
            a => {
                let name = a.strip_prefix("a=").ok_or("bad authorization id")?;
                if name.is_empty() || name.bytes().any(|b| b == 0 || b >= 0x80) {
                    return Err("bad authorization id".into());
                }
                name.replace("=2C", ",").replace("=3D", "=")
            }
        };
        let body = rest
            .strip_prefix('\x01')
            .and_then(|r| r.strip_suffix('\x01'))
            .ok_or("client message is not framed by \\x01")?;
        let mut token = None;
        let mut extensions = Vec::new();
        if !body.is_empty() {
            let pairs = body
                .strip_suffix('\x01')
                .ok_or("key/value pairs are not \\x01-terminated")?;
            for pair in pairs.split('\x01') {
                let (key, value) = pair.split_once('=').ok_or("key/value pair without '='")?;
                if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(format!("invalid key {key:?}"));
                }
                if value.is_empty()
                    || !value.bytes().all(|b| {
                        (0x21..=0x7e).contains(&b) || matches!(b, b' ' | b'\t' | b'\r' | b'\n')
                    })
                {
                    return Err(format!("invalid value of {key}"));
                }
                if key == "auth" {
                    token = Some(bearer_token(value)?);
                } else {
                    extensions.push((key.to_string(), value.to_string()));
                }
            }
        }
        let token = token.ok_or("'auth' not specified")?;
        Ok(ClientResponse {
            authzid,
            token,
            extensions,
        })
    }
}

/// `Bearer <token>`: the scheme case-insensitive, the token base64url characters and dots.
fn bearer_token(value: &str) -> Result<String, String> {
    let (scheme, token) = value.split_once(' ').ok_or("invalid 'auth' value")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("invalid scheme in 'auth'".into());
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty()
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("invalid token in 'auth'".into());
    }
    Ok(token.to_string())
}

/// A compact JWS split and decoded: header, claims, the signed input and the signature.
struct Jws<'a> {
    header: serde_json::Map<String, Value>,
    claims: serde_json::Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn b64url(part: &str) -> Result<Vec<u8>, Refusal> {
    URL_SAFE_NO_PAD
        .decode(part)
        .or_else(|_| URL_SAFE.decode(part))
        .map_err(|_| invalid("malformed base64url"))
}

fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, Refusal> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid("malformed JSON")),
    }
}

fn split_jws(token: &str) -> Result<Jws<'_>, Refusal> {
    if token.contains("..") {
        return Err(invalid("Malformed compact serialization contains '..'"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("Malformed compact serialization: not three parts"));
    };
    Ok(Jws {
        header: json_object(&b64url(h)?)?,
        claims: json_object(&b64url(c)?)?,
        signing_input: &token[..h.len() + 1 + c.len()],
        signature: b64url(s)?,
    })
}

/// A NumericDate claim in seconds; `Err` if present but not a number.
fn seconds(claims: &serde_json::Map<String, Value>, name: &str) -> Result<Option<f64>, Refusal> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid(format!("claim {name} is not a number"))),
    }
}

fn seconds_to_ms(s: f64) -> u64 {
    if s <= 0.0 {
        0
    } else {
        (s * 1000.0).min(u64::MAX as f64) as u64
    }
}

/// The scope claim: a space-separated string or a list of strings.
fn scope(claims: &serde_json::Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn validate_unsecured(
    token: &str,
    principal_claim: &str,
    scope_claim: &str,
    required_scope: &[String],
    skew_ms: u64,
    now_ms: u64,
) -> Result<Token, Refusal> {
    let jws = split_jws(token)?;
    if jws.header.get("alg").and_then(Value::as_str) != Some("none") {
        return Err(invalid("Unsecured JWS must have 'none' for an algorithm"));
    }
    if !jws.signature.is_empty() {
        return Err(invalid(
            "Unsecured JWS must not contain a digital signature",
        ));
    }
    let exp = seconds(&jws.claims, "exp")?.ok_or_else(|| invalid("No expiration time in JWT"))?;
    let principal = match jws.claims.get(principal_claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(invalid(format!(
                "No principal name in JWT claim: {principal_claim}"
            )));
        }
    };
    let iat = seconds(&jws.claims, "iat")?;
    if let Some(iat) = iat
        && seconds_to_ms(iat) > now_ms.saturating_add(skew_ms)
    {
        return Err(invalid(
            "The Issued At value was after the indicated time plus allowable clock skew",
        ));
    }
    let expiry_ms = seconds_to_ms(exp);
    if now_ms.saturating_sub(skew_ms) >= expiry_ms {
        return Err(invalid(
            "The indicated time minus allowable clock skew was on or after the Expiration Time value",
        ));
    }
    if let Some(iat) = iat
        && exp <= iat
    {
        return Err(invalid(
            "The Expiration Time was not after the Issued At time",
        ));
    }
    let held = scope(&jws.claims, scope_claim);
    if let Some(missing) = required_scope.iter().find(|s| !held.contains(s)) {
        let required = format!("[{}]", required_scope.join(", "));
        return Err(Refusal {
            json: format!(r#"{{"status":"insufficient_scope", "scope":"{required}"}}"#),
            reason: format!(
                "The provided scope ({held:?}) was missing a required scope ({missing})"
            ),
        });
    }
    Ok(Token {
        principal,
        expiry_ms,
    })
}

fn validate_signed(
    token: &str,
    settings: &JwksSettings,
    keys: &[Jwk],
    now_ms: u64,
) -> Result<Token, Refusal> {
    let jws = split_jws(token)?;
    let alg = jws
        .header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("JWS header has no alg"))?;
    let algorithm = Algorithm::from_name(alg)
        .ok_or_else(|| invalid(format!("JWS algorithm {alg} is not allowed")))?;
    let kid = jws.header.get("kid").and_then(Value::as_str);
    let verified = keys
        .iter()
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg))
        .any(|k| k.verify(algorithm, jws.signing_input.as_bytes(), &jws.signature));
    if !verified {
        return Err(invalid(format!(
            "no key of the JWKS verifies the signature (alg {alg}, kid {kid:?})"
        )));
    }
    let skew_ms = settings.clock_skew_s.saturating_mul(1000);
    let exp = seconds(&jws.claims, "exp")?
        .ok_or_else(|| invalid("No Expiration Time (exp) claim present"))?;
    let expiry_ms = seconds_to_ms(exp);
    if now_ms.saturating_sub(skew_ms) >= expiry_ms {
        return Err(invalid("The JWT is no longer valid (exp passed)"));
    }
    if seconds(&jws.claims, "iat")?.is_none() {
        return Err(invalid("No Issued At (iat) claim present"));
    }
    if let Some(nbf) = seconds(&jws.claims, "nbf")?
        && now_ms.saturating_add(skew_ms) < seconds_to_ms(nbf)
    {
        return Err(invalid("The JWT is not yet valid (nbf)"));
    }
    if !settings.expected_audience.is_empty() {
        let aud: Vec<&str> = match jws.claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !aud
            .iter()
            .any(|a| settings.expected_audience.iter().any(|e| e == a))
        {
            return Err(invalid(format!("audience {aud:?} is not an expected one")));
        }
    }
    if let Some(expected) = &settings.expected_issuer
        && jws.claims.get("iss").and_then(Value::as_str) != Some(expected.as_str())
    {
        return Err(invalid("issuer is not the expected one"));
    }
    let principal = match jws.claims.get(&settings.sub_claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            return Err(invalid(format!(
                "{} value must be a non-blank string",
                settings.sub_claim
            )));
        }
    };
    Ok(Token {
        principal,
        expiry_ms,
    })
}

/// The JWS algorithms accepted for signed tokens.
#[derive(Clone, Copy)]
enum Algorithm {
    Rsa(&'static signature::RsaParameters),
    Ec(&'static signature::EcdsaVerificationAlgorithm, Curve),
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "RS256" => Algorithm::Rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
            "RS384" => Algorithm::Rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
            "RS512" => Algorithm::Rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
            "PS256" => Algorithm::Rsa(&signature::RSA_PSS_2048_8192_SHA256),
            "PS384" => Algorithm::Rsa(&signature::RSA_PSS_2048_8192_SHA384),
            "PS512" => Algorithm::Rsa(&signature::RSA_PSS_2048_8192_SHA512),
            "ES256" => Algorithm::Ec(&signature::ECDSA_P256_SHA256_FIXED, Curve::P256),
            "ES384" => Algorithm::Ec(&signature::ECDSA_P384_SHA384_FIXED, Curve::P384),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// One verification key of a JWKS.
#[derive(Debug, Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key: PublicKey,
}

#[derive(Debug, Clone)]
enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed point: `0x04 || x || y`.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
}

impl Jwk {
    fn verify(&self, algorithm: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        match (&self.key, algorithm) {
            (PublicKey::Rsa { n, e }, Algorithm::Rsa(params)) => RsaPublicKeyComponents { n, e }
                .verify(params, message, sig)
                .is_ok(),
            (PublicKey::Ec { curve, point }, Algorithm::Ec(alg, want)) if *curve == want => {
                UnparsedPublicKey::new(alg, point)
                    .verify(message, sig)
                    .is_ok()
            }
            _ => false,
        }
    }

    fn from_json(v: &Value) -> Option<Jwk> {
        let field = |name: &str| v.get(name).and_then(Value::as_str);
        if field("use").is_some_and(|u| u != "sig") {
            return None;
        }
        let bytes = |name: &str| field(name).and_then(|s| b64url(s).ok());
        let key = match field("kty")? {
            "RSA" => PublicKey::Rsa {
                n: bytes("n")?,
                e: bytes("e")?,
            },
            "EC" => {
                let (curve, len) = match field("crv")? {
                    "P-256" => (Curve::P256, 32),
                    "P-384" => (Curve::P384, 48),
                    _ => return None,
                };
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != len || y.len() != len {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicKey::Ec { curve, point }
            }
            _ => return None,
        };
        Some(Jwk {
            kid: field("kid").map(String::from),
            alg: field("alg").map(String::from),
            key,
        })
    }
}

/// The verification keys of a JWKS document (`{"keys": [...]}`); keys Vltava cannot use
/// (other key types or curves, encryption keys) are skipped.
pub fn parse_jwks(bytes: &[u8]) -> Result<Vec<Jwk>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("JWKS is not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("JWKS has no \"keys\" array")?;
    Ok(keys
        .iter()
        .filter_map(Jwk::from_json)
        .take(JWKS_KEYS_MAX)
        .collect())
}

/// Reads and parses a JWKS file (blocking).
fn load_jwks(path: &Path) -> Result<Vec<Jwk>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("JWKS {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(JWKS_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("JWKS {}: {e}", path.display()))?;
    if bytes.len() as u64 > JWKS_FILE_BYTES_MAX {
        return Err(format!(
            "JWKS {} is larger than {JWKS_FILE_BYTES_MAX} bytes",
            path.display()
        ));
    }
    let keys = parse_jwks(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if keys.is_empty() {
        tracing::warn!("JWKS {} has no usable verification key", path.display());
    }
    Ok(keys)
}

/// Re-reads the JWKS every `refresh_ms` until the validator is dropped.
fn spawn_refresher(keys: Weak<RwLock<Vec<Jwk>>>, settings: JwksSettings) {
    let step = Duration::from_millis(settings.refresh_ms.min(1000));
    let spawned = std::thread::Builder::new()
        .name("jwks-refresh".into())
        .spawn(move || {
            let mut waited = Duration::ZERO;
            loop {
                std::thread::sleep(step);
                waited += step;
                let Some(keys) = keys.upgrade() else { return };
                if waited.as_millis() < u128::from(settings.refresh_ms) {
                    continue;
                }
                waited = Duration::ZERO;
                match load_jwks(&settings.path) {
                    Ok(fresh) => {
                        if let Ok(mut k) = keys.write() {
                            *k = fresh;
                        }
                    }
                    Err(e) => tracing::warn!("JWKS refresh failed, keeping the previous keys: {e}"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the JWKS refresh thread: {e}");
    }
}
