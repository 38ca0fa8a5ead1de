//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side, as Kafka implements
//! it: no channel binding (`n,,` or `y,,` only), an authorization id must equal the user name,
//! the server nonce extends the client's, and both failure cases (unknown user, wrong proof)
//! get the same message so a client cannot probe for user names.
//!
//! Credentials are `(salt, iterations, StoredKey, ServerKey)` from the metadata image (set with
//! AlterUserScramCredentials, `metadata::scram`): the password itself is never kept. The
//! lookup happens when the client-first message names the user, so a credential changed a
//! moment ago is the one checked.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::sasl::{Exchange, Mechanism, constant_time_eq};
pub use crate::broker::{ScramCredential, ScramMechanism};

/// Looks a user's credential up (the credential store).
pub type CredentialLookup = Box<dyn Fn(&str) -> Option<ScramCredential> + Send>;

const INVALID: &str = "Authentication failed: Invalid user credentials";
const OTHER_AUTHZID: &str =
    "Authentication failed: Client requested an authorization id that is different from username";

enum Stage {
    ClientFirst,
    ClientFinal {
        user: String,
        credential: ScramCredential,
        client_first_bare: String,
        server_first: String,
        nonce: String,
    },
    Done,
}

/// One SCRAM exchange, server side.
pub struct ScramServer {
    hash: ScramMechanism,
    lookup: CredentialLookup,
    server_nonce: String,
    stage: Stage,
}

impl ScramServer {
    pub fn new(hash: ScramMechanism, lookup: CredentialLookup) -> Result<ScramServer, String> {
        // Letters and digits, like Kafka's `secureRandomString` (base 36).
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).map_err(|e| format!("no randomness for a nonce: {e}"))?;
        let nonce = raw
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        Ok(Self::with_nonce(hash, lookup, nonce))
    }

    /// With a fixed server nonce (tests against RFC vectors).
    pub fn with_nonce(
        hash: ScramMechanism,
        lookup: CredentialLookup,
        server_nonce: String,
    ) -> Self {
        ScramServer {
            hash,
            lookup,
            server_nonce,
            stage: Stage::ClientFirst,
        }
    }

    fn client_first(&mut self, token: &[u8]) -> Exchange {
        let Ok(text) = std::str::from_utf8(token) else {
            return Exchange::Failure("Invalid SCRAM client first message".into());
        };
        // gs2 header: no channel binding; optional authzid.
        let mut parts = text.splitn(3, ',');
        let (Some(cb), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next())
        else {
            return Exchange::Failure("Invalid SCRAM client first message".into());
        };
        if cb != "n" && cb != "y" {
            return Exchange::Failure("SCRAM channel binding is not supported".into());
        }
        let attrs = attributes(bare);
        let (Some(name), Some(client_nonce)) = (attr(&attrs, 'n'), attr(&attrs, 'r')) else {
            return Exchange::Failure("Invalid SCRAM client first message".into());
        };
        let Some(user) = sasl_name(name) else {
            return Exchange::Failure("Invalid SCRAM user name".into());
        };
        if let Some(a) = authzid.strip_prefix("a=")
            && sasl_name(a).as_deref() != Some(user.as_str())
        {
            return Exchange::Failure(OTHER_AUTHZID.into());
        }
        // Kafka refuses an unknown user here, at the first message; the client sees the same
        // answer as for a wrong proof (see `evaluate`).
        let Some(credential) = (self.lookup)(&user) else {
            return Exchange::Failure(INVALID.into());
        };
        if credential.iterations < crate::broker::SCRAM_MIN_ITERATIONS {
            return Exchange::Failure(format!(
                "Iterations {} is less than the minimum for {}",
                credential.iterations,
                self.hash.name()
            ));
        }
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        self.stage = Stage::ClientFinal {
            user,
            credential,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        Exchange::Challenge(server_first.into_bytes())
    }
}

impl Mechanism for ScramServer {
    /// Failures reach the client as Kafka sends them: only the authorization-id refusal has its
    /// own message; every other one (unknown user, wrong proof, malformed message) gets the
    /// same text, so nothing about the user leaks.
    fn evaluate(&mut self, token: &[u8]) -> Exchange {
        match self.step(token) {
            Exchange::Failure(reason) if reason != OTHER_AUTHZID => {
                tracing::debug!("SASL/{} authentication failed: {reason}", self.hash.name());
                Exchange::Failure(format!(
                    "Authentication failed during authentication due to invalid credentials \
                     with SASL mechanism {}",
                    self.hash.name()
                ))
            }
            other => other,
        }
    }
}

impl ScramServer {
    fn step(&mut self, token: &[u8]) -> Exchange {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::ClientFirst => self.client_first(token),
            Stage::ClientFinal {
                user,
                credential,
                client_first_bare,
                server_first,
                nonce,
            } => client_final(
                self.hash,
                token,
                user,
                credential,
                &client_first_bare,
                &server_first,
                &nonce,
            ),
            Stage::Done => Exchange::Failure("Unexpected SCRAM message".into()),
        }
    }
}

fn client_final(
    hash: ScramMechanism,
    token: &[u8],
    user: String,
    credential: ScramCredential,
    client_first_bare: &str,
    server_first: &str,
    nonce: &str,
) -> Exchange {
    let Ok(text) = std::str::from_utf8(token) else {
        return Exchange::Failure("Invalid SCRAM client final message".into());
    };
    let Some((without_proof, proof)) = text.rsplit_once(",p=") else {
        return Exchange::Failure("Invalid SCRAM client final message".into());
    };
    let attrs = attributes(without_proof);
    // Kafka checks only that the client's nonce ends with the server-first nonce, and
    // librdkafka 2.0.x depends on it: it sends its own nonce twice (client + whole nonce).
    if !attr(&attrs, 'r').is_some_and(|r| r.ends_with(nonce)) {
        return Exchange::Failure("Invalid SCRAM nonce".into());
    }
    // c= must be the base64 of the gs2 header without channel binding.
    if !matches!(attr(&attrs, 'c'), Some("biws") | Some("eSws")) {
        return Exchange::Failure("Invalid SCRAM channel binding".into());
    }
    let Ok(proof) = B64.decode(proof) else {
        return Exchange::Failure(INVALID.into());
    };
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hash.hmac(&credential.stored_key, auth_message.as_bytes());
    if proof.len() != signature.len() {
        return Exchange::Failure(INVALID.into());
    }
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
    if !constant_time_eq(&hash.hash(&client_key), &credential.stored_key) {
        return Exchange::Failure(INVALID.into());
    }
    let server_signature = hash.hmac(&credential.server_key, auth_message.as_bytes());
    Exchange::Success {
        response: format!("v={}", B64.encode(server_signature)).into_bytes(),
        user,
    }
}

/// `k=v,k=v` attributes in order.
fn attributes(text: &str) -> Vec<(char, &str)> {
    text.split(',')
        .filter_map(|a| {
            let mut chars = a.chars();
            let k = chars.next()?;
            let v = a.get(1..)?.strip_prefix('=')?;
            Some((k, v))
        })
        .collect()
}

fn attr<'a>(attrs: &[(char, &'a str)], key: char) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// RFC 5802 saslname: `=2C` is `,` and `=3D` is `=`; any other `=` is invalid.
fn sasl_name(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3)?;
        out.push(match esc {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(hash: ScramMechanism, nonce: &str, credential: ScramCredential) -> ScramServer {
        ScramServer::with_nonce(
            hash,
            Box::new(move |u| (u == "user").then(|| credential.clone())),
            nonce.to_string(),
        )
    }

    #[test]
    fn rfc7677_sha256_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = ScramCredential::from_password(ScramMechanism::Sha256, b"pencil", &salt, 4096);
        let mut s = server(
            ScramMechanism::Sha256,
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            cred,
        );
        let Exchange::Challenge(first) = s.evaluate(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO") else {
            panic!()
        };
        assert_eq!(
            String::from_utf8(first).unwrap(),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let last = s.evaluate(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
              p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        );
        assert_eq!(
            last,
            Exchange::Success {
                response: b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec(),
                user: "user".into()
            }
        );
    }

    #[test]
    fn wrong_proof_and_unknown_user_fail_alike() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = ScramCredential::from_password(ScramMechanism::Sha256, b"pencil", &salt, 4096);
        let kafkas = "Authentication failed during authentication due to invalid credentials \
                      with SASL mechanism SCRAM-SHA-256";
        // A wrong proof fails at the final message.
        let mut s = server(ScramMechanism::Sha256, "XYZ", cred.clone());
        assert!(matches!(
            s.evaluate(b"n,,n=user,r=abc"),
            Exchange::Challenge(_)
        ));
        assert_eq!(
            s.evaluate(b"c=biws,r=abcXYZ,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            Exchange::Failure(kafkas.into())
        );
        // An unknown user at the first, as in Kafka, with the same answer.
        let mut s = server(ScramMechanism::Sha256, "XYZ", cred.clone());
        assert_eq!(
            s.evaluate(b"n,,n=nobody,r=abc"),
            Exchange::Failure(kafkas.into())
        );
        // librdkafka 2.0.x repeats its own nonce before the whole one; Kafka accepts that.
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let good = ScramCredential::from_password(ScramMechanism::Sha256, b"pencil", &salt, 4096);
        let mut s = server(ScramMechanism::Sha256, "XYZ", good.clone());
        let Exchange::Challenge(first) = s.evaluate(b"n,,n=user,r=abc") else {
            panic!()
        };
        let first = String::from_utf8(first).unwrap();
        let without_proof = "c=biws,r=abcabcXYZ";
        let auth = format!("n=user,r=abc,{first},{without_proof}");
        let salted = ScramMechanism::Sha256.salted_password(b"pencil", &salt, 4096);
        let client_key = ScramMechanism::Sha256.hmac(&salted, b"Client Key");
        let signature = ScramMechanism::Sha256.hmac(&good.stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let last = format!("{without_proof},p={}", B64.encode(proof));
        assert!(matches!(
            s.evaluate(last.as_bytes()),
            Exchange::Success { .. }
        ));
        // A nonce that is not the server's, garbage: the same.
        let mut s = server(ScramMechanism::Sha256, "XYZ", cred.clone());
        assert!(matches!(
            s.evaluate(b"n,,n=user,r=abc"),
            Exchange::Challenge(_)
        ));
        assert_eq!(
            s.evaluate(b"c=biws,r=abcQQQ,p=AAAA"),
            Exchange::Failure(kafkas.into())
        );
        let mut s = server(ScramMechanism::Sha256, "XYZ", cred.clone());
        assert_eq!(s.evaluate(b"\xff"), Exchange::Failure(kafkas.into()));
        // Only the authorization-id refusal has its own message.
        let mut s = server(ScramMechanism::Sha256, "XYZ", cred);
        assert_eq!(
            s.evaluate(b"n,a=other,n=user,r=abc"),
            Exchange::Failure(OTHER_AUTHZID.into())
        );
    }

    #[test]
    fn sha512_round_trip_and_names() {
        let cred = ScramCredential::from_password(ScramMechanism::Sha512, b"pw", b"salt", 4096);
        assert_eq!(cred.stored_key.len(), 64);
        assert_eq!(sasl_name("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(sasl_name("a=b"), None);
        assert!(!format!("{cred:?}").contains("stored"));
    }
}
