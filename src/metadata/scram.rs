//! SCRAM credentials as metadata holds them (Kafka's `UserScramCredentialRecord`): per user and
//! mechanism the salt, the iteration count, StoredKey and ServerKey (RFC 5802). Neither the
//! password nor the salted password is ever kept: AlterUserScramCredentials carries the salted
//! password, and the two keys are derived from it here, before the record is written — as
//! Kafka's controller does.
//!
//! The hash functions live here too because both sides need them: the metadata owner derives
//! keys, and the SASL exchange (`net::scram`) checks proofs against them.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use kafka_protocol::ResponseError;
use sha2::{Digest, Sha256, Sha512};

use super::image::ScramCredentials;
use super::records::MetadataRecord;

/// Kafka's SCRAM iteration bounds: `ScramMechanism.minIterations()` (4096 for both) and the
/// controller's `MAX_ITERATIONS`.
pub const MIN_ITERATIONS: i32 = 4096;
pub const MAX_ITERATIONS: i32 = 16384;

/// The two mechanisms Kafka offers, with the type ids the protocol and its records use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// The SASL mechanism name.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// Kafka's `ScramMechanism.type()`: 1 and 2 (0 is UNKNOWN).
    pub fn type_id(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_type(id: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.type_id() == id)
    }

    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => hmac_with::<Hmac<Sha256>>(key, data),
            ScramMechanism::Sha512 => hmac_with::<Hmac<Sha512>>(key, data),
        }
    }

    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// PBKDF2 with this hash's HMAC (RFC 5802's Hi()). CPU-heavy by design: callers on async
    /// workers must not run it (the metadata owner and tests do).
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

fn hmac_with<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails; an empty result would only make
    // the comparisons that use it fail.
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// What the broker keeps for one user and mechanism. `Debug` shows only the iterations.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub iterations: i32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScramCredential(iterations={})", self.iterations)
    }
}

impl ScramCredential {
    /// Derives the credential from a password (tests, tools).
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &[u8],
        salt: &[u8],
        iterations: i32,
    ) -> Self {
        let rounds = u32::try_from(iterations).unwrap_or(0);
        let salted = mechanism.salted_password(password, salt, rounds);
        Self::from_salted_password(mechanism, &salted, salt, iterations)
    }

    /// Derives StoredKey = H(HMAC(salted, "Client Key")) and ServerKey = HMAC(salted, "Server
    /// Key"), what AlterUserScramCredentials' salted password becomes.
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salted: &[u8],
        salt: &[u8],
        iterations: i32,
    ) -> Self {
        let client_key = mechanism.hmac(salted, b"Client Key");
        ScramCredential {
            salt: salt.to_vec(),
            iterations,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted, b"Server Key"),
        }
    }
}

/// One upsertion of AlterUserScramCredentials, as the client sent it (`mechanism` is the raw
/// type id: an unknown one is an answer, not a decode failure).
#[derive(Clone)]
pub struct Upsertion {
    pub user: String,
    pub mechanism: i8,
    pub iterations: i32,
    pub salt: Vec<u8>,
    pub salted_password: Vec<u8>,
}

/// One deletion of AlterUserScramCredentials.
#[derive(Debug, Clone)]
pub struct Deletion {
    pub user: String,
    pub mechanism: i8,
}

/// The answer for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterResult {
    pub user: String,
    pub error: i16,
    pub message: Option<String>,
}

const TWICE: &str = "A user credential cannot be altered twice in the same request";

/// AlterUserScramCredentials as Kafka's controller decides it (`ScramControlManager`): a user
/// may be named once per request (DUPLICATE_RESOURCE for every naming otherwise, whatever the
/// mechanisms); an empty user is UNACCEPTABLE_CREDENTIAL, an unknown mechanism
/// UNSUPPORTED_SASL_MECHANISM, iterations outside 4096..=16384 UNACCEPTABLE_CREDENTIAL, deleting
/// a credential that does not exist RESOURCE_NOT_FOUND. Returns the records of the accepted
/// alterations and one result per user: deletions first, then upsertions, then refusals.
pub fn alter(
    current: &ScramCredentials,
    upsertions: &[Upsertion],
    deletions: &[Deletion],
) -> (Vec<MetadataRecord>, Vec<AlterResult>) {
    let mut to_delete: Vec<(String, ScramMechanism)> = Vec::new();
    let mut to_upsert: Vec<(&Upsertion, ScramMechanism)> = Vec::new();
    let mut refused: BTreeMap<String, (ResponseError, Option<String>)> = BTreeMap::new();
    let refuse = |refused: &mut BTreeMap<_, _>, user: &str, e: ResponseError, m: &str| {
        refused.insert(user.to_string(), (e, Some(m.to_string())));
    };
    for d in deletions {
        if refused.contains_key(&d.user) {
            continue;
        }
        if let Some(at) = to_delete.iter().position(|(u, _)| *u == d.user) {
            to_delete.remove(at);
            refuse(
                &mut refused,
                &d.user,
                ResponseError::DuplicateResource,
                TWICE,
            );
            continue;
        }
        match check_user_and_mechanism(&d.user, d.mechanism) {
            Err((e, m)) => refuse(&mut refused, &d.user, e, m),
            Ok(mechanism) => {
                let exists = current
                    .get(&d.user)
                    .is_some_and(|m| m.contains_key(&mechanism));
                if exists {
                    to_delete.push((d.user.clone(), mechanism));
                } else {
                    refuse(
                        &mut refused,
                        &d.user,
                        ResponseError::ResourceNotFound,
                        "Attempt to delete a user credential that does not exist",
                    );
                }
            }
        }
    }
    for u in upsertions {
        if refused.contains_key(&u.user) {
            continue;
        }
        let deleted = to_delete.iter().position(|(user, _)| *user == u.user);
        let upserted = to_upsert.iter().position(|(x, _)| x.user == u.user);
        if deleted.is_some() || upserted.is_some() {
            if let Some(at) = deleted {
                to_delete.remove(at);
            }
            if let Some(at) = upserted {
                to_upsert.remove(at);
            }
            refuse(
                &mut refused,
                &u.user,
                ResponseError::DuplicateResource,
                TWICE,
            );
            continue;
        }
        match check_upsertion(u) {
            Err((e, m)) => refuse(&mut refused, &u.user, e, m),
            Ok(mechanism) => to_upsert.push((u, mechanism)),
        }
    }
    let mut records = Vec::new();
    let mut results = Vec::new();
    let ok = |user: &str| AlterResult {
        user: user.to_string(),
        error: 0,
        message: None,
    };
    for (user, mechanism) in to_delete {
        results.push(ok(&user));
        records.push(MetadataRecord::RemoveScramCredential { user, mechanism });
    }
    for (u, mechanism) in to_upsert {
        // Java's HMAC refuses an empty key; Kafka answers that with UNKNOWN_SERVER_ERROR.
        if u.salted_password.is_empty() {
            refused.insert(u.user.clone(), (ResponseError::UnknownServerError, None));
            continue;
        }
        results.push(ok(&u.user));
        records.push(MetadataRecord::ScramCredential {
            user: u.user.clone(),
            mechanism,
            credential: ScramCredential::from_salted_password(
                mechanism,
                &u.salted_password,
                &u.salt,
                u.iterations,
            ),
        });
    }
    for (user, (error, message)) in refused {
        results.push(AlterResult {
            user,
            error: error.code(),
            message,
        });
    }
    (records, results)
}

type Refusal = (ResponseError, &'static str);

fn check_user_and_mechanism(user: &str, mechanism: i8) -> Result<ScramMechanism, Refusal> {
    if user.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "Username must not be empty",
        ));
    }
    ScramMechanism::from_type(mechanism).ok_or((
        ResponseError::UnsupportedSaslMechanism,
        "Unknown SCRAM mechanism",
    ))
}

fn check_upsertion(u: &Upsertion) -> Result<ScramMechanism, Refusal> {
    let mechanism = check_user_and_mechanism(&u.user, u.mechanism)?;
    if u.iterations < MIN_ITERATIONS {
        return Err((ResponseError::UnacceptableCredential, "Too few iterations"));
    }
    if u.iterations > MAX_ITERATIONS {
        return Err((ResponseError::UnacceptableCredential, "Too many iterations"));
    }
    Ok(mechanism)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(user: &str, mechanism: i8, iterations: i32) -> Upsertion {
        Upsertion {
            user: user.into(),
            mechanism,
            iterations,
            salt: b"salt".to_vec(),
            salted_password: vec![7; 32],
        }
    }

    fn del(user: &str, mechanism: i8) -> Deletion {
        Deletion {
            user: user.into(),
            mechanism,
        }
    }

    fn codes(results: &[AlterResult]) -> Vec<(&str, i16)> {
        results.iter().map(|r| (r.user.as_str(), r.error)).collect()
    }

    #[test]
    fn alter_validates_as_kafkas_controller() {
        let mut current = ScramCredentials::new();
        current.entry("old".into()).or_default().insert(
            ScramMechanism::Sha256,
            ScramCredential::from_salted_password(ScramMechanism::Sha256, b"k", b"s", 4096),
        );
        let (records, results) = alter(
            &current,
            &[
                up("a", 1, 4096),
                up("b", 2, 16384),
                up("few", 1, 4095),
                up("many", 2, 16385),
                up("", 1, 8192),
                up("mech", 3, 8192),
                up("twice", 1, 8192),
                up("twice", 2, 8192),
                up("old", 1, 8192),
            ],
            &[del("old", 1), del("ghost", 1)],
        );
        assert_eq!(
            codes(&results),
            vec![
                ("a", 0),
                ("b", 0),
                ("", ResponseError::UnacceptableCredential.code()),
                ("few", ResponseError::UnacceptableCredential.code()),
                ("ghost", ResponseError::ResourceNotFound.code()),
                ("many", ResponseError::UnacceptableCredential.code()),
                ("mech", ResponseError::UnsupportedSaslMechanism.code()),
                ("old", ResponseError::DuplicateResource.code()),
                ("twice", ResponseError::DuplicateResource.code()),
            ]
        );
        let message = |u: &str| {
            results
                .iter()
                .find(|r| r.user == u)
                .and_then(|r| r.message.clone())
                .unwrap_or_default()
        };
        assert_eq!(message("few"), "Too few iterations");
        assert_eq!(message("many"), "Too many iterations");
        assert_eq!(message("twice"), TWICE);
        assert_eq!(
            message("ghost"),
            "Attempt to delete a user credential that does not exist"
        );
        assert_eq!(records.len(), 2, "only a and b are written: {records:?}");
        let MetadataRecord::ScramCredential { credential, .. } = &records[1] else {
            panic!("{records:?}")
        };
        assert_eq!(
            credential,
            &ScramCredential::from_salted_password(
                ScramMechanism::Sha512,
                &[7; 32],
                b"salt",
                16384
            ),
            "the keys come from the salted password; the salt is kept as sent"
        );
    }

    #[test]
    fn deleting_an_existing_credential_and_an_empty_salted_password() {
        let mut current = ScramCredentials::new();
        current.entry("u".into()).or_default().insert(
            ScramMechanism::Sha512,
            ScramCredential::from_salted_password(ScramMechanism::Sha512, b"k", b"s", 4096),
        );
        let mut empty = up("e", 1, 4096);
        empty.salted_password.clear();
        let (records, results) = alter(&current, &[empty], &[del("u", 2)]);
        assert_eq!(
            records,
            vec![MetadataRecord::RemoveScramCredential {
                user: "u".into(),
                mechanism: ScramMechanism::Sha512
            }]
        );
        assert_eq!(
            codes(&results),
            vec![("u", 0), ("e", ResponseError::UnknownServerError.code())]
        );
    }

    #[test]
    fn type_ids_and_names_are_kafkas() {
        assert_eq!(ScramMechanism::from_type(1), Some(ScramMechanism::Sha256));
        assert_eq!(ScramMechanism::from_type(2), Some(ScramMechanism::Sha512));
        assert_eq!(ScramMechanism::from_type(0), None);
        assert_eq!(
            ScramMechanism::from_name("SCRAM-SHA-512"),
            Some(ScramMechanism::Sha512)
        );
        let c = ScramCredential::from_password(ScramMechanism::Sha512, b"pw", b"salt", 4096);
        assert_eq!((c.stored_key.len(), c.server_key.len()), (64, 64));
        assert!(!format!("{c:?}").contains("stored"));
    }
}
