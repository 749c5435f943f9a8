//! Access tokens: the claims, signing with the users service's Ed25519 key and verification at
//! the gateway.
//!
//! Tokens are JWTs signed with EdDSA (Ed25519). Verification accepts that one algorithm only
//! (so `alg: none` or an HMAC token made with the public key are refused) and checks `iss`,
//! `aud`, `exp` and `nbf`. The gateway needs only the public key, which it fetches from the users
//! service once at start.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "boxoffice";
pub const AUDIENCE: &str = "boxoffice-api";
/// Access tokens are short-lived; revocation covers the rest of their life.
pub const ACCESS_TOKEN_TTL_S: i64 = 15 * 60;
/// Clock skew tolerated between the users service and the gateway.
pub const CLOCK_LEEWAY_S: u64 = 5;
pub const ALGORITHM_NAME: &str = "EdDSA";
/// How long a revoked session stays on the revocation list: as long as any access token of it
/// may still be valid.
pub const REVOCATION_TTL_S: u64 = ACCESS_TOKEN_TTL_S as u64 + CLOCK_LEEWAY_S;

/// The key, in the shared store, that marks a session revoked. The users service writes it on
/// logout and revocation; the gateway refuses every access token whose `sid` has it.
pub fn revoked_session_key(session_id: Uuid) -> String {
    format!("revoked-session:{session_id}")
}

/// What an account may do. New accounts are customers; only an admin or an operator changes this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Organizer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Organizer => "organizer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}`; expected customer, organizer or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "customer" => Ok(Role::Customer),
            "organizer" => Ok(Role::Organizer),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// A random secret of 32 bytes, as URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the system's random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    pub role: Role,
    /// The session (refresh-token family) this token belongs to; revoking it revokes the token.
    pub sid: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

impl Claims {
    pub fn new(user_id: Uuid, role: Role, session_id: Uuid, now: DateTime<Utc>) -> Self {
        let iat = now.timestamp();
        Claims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: user_id,
            role,
            sid: session_id,
            jti: Uuid::now_v7(),
            iat,
            nbf: iat,
            exp: iat + ACCESS_TOKEN_TTL_S,
        }
    }
}

/// The users service's private key. Its PKCS#8 form is what configuration and the key file hold.
pub struct SigningKey {
    encoding: EncodingKey,
    public_key: Vec<u8>,
    pkcs8: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> anyhow::Result<Self> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| anyhow::anyhow!("generating an Ed25519 key fails"))?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> anyhow::Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|error| anyhow::anyhow!("the key is not an Ed25519 PKCS#8 key: {error}"))?;
        Ok(SigningKey {
            encoding: EncodingKey::from_ed_der(pkcs8),
            public_key: pair.public_key().as_ref().to_vec(),
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// Reads the base64 (standard alphabet) PKCS#8 form that `boxoffice keys generate` prints.
    pub fn from_base64(text: &str) -> anyhow::Result<Self> {
        let pkcs8 = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|error| anyhow::anyhow!("the key is not valid base64: {error}"))?;
        Self::from_pkcs8(&pkcs8)
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.pkcs8)
    }

    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::EdDSA), claims, &self.encoding)
            .map_err(|error| anyhow::anyhow!("signing an access token fails: {error}"))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

/// Verifies access tokens with the users service's public key.
///
/// The check is written out rather than left to `jsonwebtoken`, for speed: it runs for every
/// request, and curve25519-dalek's vectorised arithmetic verifies an Ed25519 signature in about
/// half the time of ring's portable code. The rules are those of any careful JWT library: the
/// header must name EdDSA (nothing else, so `alg: none` and HMAC confusion are refused), the
/// signature must verify strictly (no malleable encodings), then `iss`, `aud`, `exp` and `nbf`
/// are checked.
#[derive(Clone)]
pub struct Verifier {
    key: ed25519_dalek::VerifyingKey,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// Tokens longer than this are not ours and are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 4_096;

impl Verifier {
    pub fn new(public_key: &[u8]) -> anyhow::Result<Self> {
        let bytes: [u8; 32] = public_key
            .try_into()
            .map_err(|_| anyhow::anyhow!("an Ed25519 public key has 32 bytes, not {}", public_key.len()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|error| anyhow::anyhow!("the key is not an Ed25519 public key: {error}"))?;
        Ok(Verifier { key })
    }

    pub fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::Invalid);
        }
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Invalid);
        };
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: Header = engine
            .decode(header_part)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(VerifyError::Invalid)?;
        if header.alg != ALGORITHM_NAME {
            return Err(VerifyError::Invalid);
        }
        let signature: [u8; 64] = engine
            .decode(signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(VerifyError::Invalid)?;
        // The signature covers `<header>.<payload>` as sent.
        let signed = &token.as_bytes()[..header_part.len() + 1 + payload.len()];
        self.key
            .verify_strict(signed, &ed25519_dalek::Signature::from_bytes(&signature))
            .map_err(|_| VerifyError::Invalid)?;
        let claims: Claims = engine
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(VerifyError::Invalid)?;
        if claims.iss != ISSUER || claims.aud != AUDIENCE {
            return Err(VerifyError::Invalid);
        }
        let now = chrono::Utc::now().timestamp();
        let leeway = CLOCK_LEEWAY_S as i64;
        if now > claims.exp + leeway {
            return Err(VerifyError::Expired);
        }
        if now + leeway < claims.nbf {
            return Err(VerifyError::Invalid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with(claims: &Claims, key: &SigningKey) -> String {
        key.sign(claims).unwrap()
    }

    #[test]
    fn a_signed_token_verifies_with_the_public_key() {
        let key = SigningKey::generate().unwrap();
        let claims = Claims::new(Uuid::now_v7(), Role::Organizer, Uuid::now_v7(), Utc::now());
        let verifier = Verifier::new(key.public_key()).unwrap();
        assert_eq!(verifier.verify(&token_with(&claims, &key)).unwrap(), claims);
    }

    #[test]
    fn the_key_survives_its_base64_form() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
    }

    #[test]
    fn a_token_from_another_key_is_invalid() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let claims = Claims::new(Uuid::now_v7(), Role::Admin, Uuid::now_v7(), Utc::now());
        let verifier = Verifier::new(key.public_key()).unwrap();
        assert_eq!(verifier.verify(&token_with(&claims, &other)), Err(VerifyError::Invalid));
    }

    #[test]
    fn expired_and_foreign_audience_tokens_are_refused() {
        let key = SigningKey::generate().unwrap();
        let verifier = Verifier::new(key.public_key()).unwrap();
        let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
        let expired = Claims::new(Uuid::now_v7(), Role::Customer, Uuid::now_v7(), an_hour_ago);
        assert_eq!(verifier.verify(&token_with(&expired, &key)), Err(VerifyError::Expired));

        let mut foreign = Claims::new(Uuid::now_v7(), Role::Customer, Uuid::now_v7(), Utc::now());
        foreign.aud = "another-api".into();
        assert_eq!(verifier.verify(&token_with(&foreign, &key)), Err(VerifyError::Invalid));
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let key = SigningKey::generate().unwrap();
        let verifier = Verifier::new(key.public_key()).unwrap();
        let claims = Claims::new(Uuid::now_v7(), Role::Admin, Uuid::now_v7(), Utc::now());
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = engine.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(verifier.verify(&format!("{header}.{payload}.")), Err(VerifyError::Invalid));
    }

    #[test]
    fn a_token_signed_by_jsonwebtoken_verifies_here_and_a_not_yet_valid_one_does_not() {
        let key = SigningKey::generate().unwrap();
        let verifier = Verifier::new(key.public_key()).unwrap();
        let mut claims = Claims::new(Uuid::now_v7(), Role::Customer, Uuid::now_v7(), Utc::now());
        claims.nbf += 3600;
        assert_eq!(verifier.verify(&token_with(&claims, &key)), Err(VerifyError::Invalid));
        let mut issuer = Claims::new(Uuid::now_v7(), Role::Customer, Uuid::now_v7(), Utc::now());
        issuer.iss = "someone".into();
        assert_eq!(verifier.verify(&token_with(&issuer, &key)), Err(VerifyError::Invalid));
        let token =
            token_with(&Claims::new(Uuid::now_v7(), Role::Customer, Uuid::now_v7(), Utc::now()), &key);
        for mangled in
            [format!("{token}.extra"), token.replacen('.', "", 1), String::new(), "a.b.c".to_owned()]
        {
            assert_eq!(verifier.verify(&mangled), Err(VerifyError::Invalid), "{mangled}");
        }
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in [Role::Customer, Role::Organizer, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
    }
}
