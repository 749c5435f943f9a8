//! Access tokens: the claims, signing by the users service and verification at the gateway.
//!
//! Tokens are JWTs signed with HS256 (HMAC-SHA256) under a secret that the users service and the
//! gateway share (see [`TokenKey`] for why not a key pair). Verification accepts that one
//! algorithm only and checks `iss`, `aud`, `exp` and `nbf`.

use std::fmt;

use base64::Engine as _;
use boxoffice_types::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "boxoffice";
pub const AUDIENCE: &str = "boxoffice-api";
/// Access tokens are short-lived; revocation covers the rest of their life.
pub const ACCESS_TOKEN_TTL_S: i64 = 15 * 60;
/// Clock skew tolerated between the users service and the gateway.
pub const CLOCK_LEEWAY_S: u64 = 5;
pub const ALGORITHM_NAME: &str = "HS256";
/// How long a revoked session stays on the revocation list: as long as any access token of it
/// may still be valid.
pub const REVOCATION_TTL_S: u64 = ACCESS_TOKEN_TTL_S as u64 + CLOCK_LEEWAY_S;

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

/// The secret that signs and verifies access tokens (HMAC-SHA256). The users service signs with
/// it; the gateway, the only place tokens are checked, verifies with it.
///
/// A shared secret rather than a key pair, because nothing outside boxoffice verifies tokens: the
/// gateway already holds the internal token that every service trusts, so a public key would
/// protect nothing more, while an Ed25519 check costs about 36 µs per request and an HMAC about
/// one. The secret is configuration (`BOXOFFICE_JWT_SECRET`), at least [`MIN_SECRET_CHARS`] long.
#[derive(Clone)]
pub struct TokenKey {
    key: ring::hmac::Key,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey").finish_non_exhaustive()
    }
}

/// The shortest secret accepted, in characters (the secret's UTF-8 text is the HMAC key, and
/// HMAC-SHA256 wants a key at least as long as its output).
pub const MIN_SECRET_CHARS: usize = 32;

/// `{"alg":"HS256","typ":"JWT"}`, the header of every token, as it is sent.
const HEADER_SEGMENT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Tokens longer than this are not ours and are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 4_096;

#[derive(Deserialize)]
struct Header {
    alg: String,
    /// Extensions the verifier must understand (RFC 7515 §4.1.11): this one understands none.
    crit: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

impl TokenKey {
    /// A key from the secret's text (what configuration and the key file hold).
    pub fn new(secret: &str) -> anyhow::Result<Self> {
        let secret = secret.trim();
        anyhow::ensure!(
            secret.chars().count() >= MIN_SECRET_CHARS,
            "the access token secret must be at least {MIN_SECRET_CHARS} characters long; create one \
             with `boxoffice keys generate`"
        );
        Ok(TokenKey { key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()) })
    }

    /// A name for this secret that reveals nothing of it (the start of an HMAC of a fixed
    /// text), so that two processes can check that they share it.
    pub fn key_id(&self) -> String {
        let tag = ring::hmac::sign(&self.key, b"boxoffice access token key id");
        tag.as_ref()[..8].iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// A new random secret, in the text form [`TokenKey::new`] reads.
    pub fn generate_secret() -> String {
        random_token()
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = serde_json::to_vec(claims)?;
        let mut token = String::with_capacity(HEADER_SEGMENT.len() + 2 + payload.len() * 4 / 3 + 44);
        token.push_str(HEADER_SEGMENT);
        token.push('.');
        engine.encode_string(&payload, &mut token);
        let tag = ring::hmac::sign(&self.key, token.as_bytes());
        token.push('.');
        engine.encode_string(tag.as_ref(), &mut token);
        Ok(token)
    }

    /// Checks a token as any careful JWT library would: the header must name HS256 (nothing
    /// else, so `alg: none` and tokens of other algorithms are refused), the signature must
    /// match (compared in constant time), then `iss`, `aud`, `exp` and `nbf` are checked.
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
        if header_part != HEADER_SEGMENT {
            let header: Header = engine
                .decode(header_part)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .ok_or(VerifyError::Invalid)?;
            if header.alg != ALGORITHM_NAME || header.crit.is_some() {
                return Err(VerifyError::Invalid);
            }
        }
        let signature = engine.decode(signature).map_err(|_| VerifyError::Invalid)?;
        // The signature covers `<header>.<payload>` as sent.
        let signed = &token.as_bytes()[..header_part.len() + 1 + payload.len()];
        ring::hmac::verify(&self.key, signed, &signature).map_err(|_| VerifyError::Invalid)?;
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
        if now > claims.exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if now.saturating_add(leeway) < claims.nbf {
            return Err(VerifyError::Invalid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(&TokenKey::generate_secret()).unwrap()
    }

    fn claims(role: Role) -> Claims {
        Claims::new(Uuid::now_v7(), role, Uuid::now_v7(), Utc::now())
    }

    #[test]
    fn a_signed_token_verifies_with_the_same_secret_only() {
        let key = key();
        let claims = claims(Role::Organizer);
        assert_eq!(key.verify(&key.sign(&claims).unwrap()).unwrap(), claims);
        let other = self::key();
        assert_eq!(other.verify(&key.sign(&claims).unwrap()), Err(VerifyError::Invalid));
    }

    #[test]
    fn the_header_is_the_one_jwt_libraries_write() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        assert_eq!(HEADER_SEGMENT, engine.encode(br#"{"alg":"HS256","typ":"JWT"}"#));
    }

    #[test]
    fn key_ids_tell_secrets_apart() {
        let secret = TokenKey::generate_secret();
        let key = TokenKey::new(&secret).unwrap();
        assert_eq!(key.key_id(), TokenKey::new(&secret).unwrap().key_id());
        assert_ne!(key.key_id(), self::key().key_id());
        assert_eq!(key.key_id().len(), 16);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKey::new("too short").is_err());
        assert!(TokenKey::new(&"€".repeat(MIN_SECRET_CHARS - 1)).is_err(), "characters count, not bytes");
        assert!(TokenKey::new(&"x".repeat(MIN_SECRET_CHARS)).is_ok());
    }

    #[test]
    fn tokens_of_jwt_libraries_verify_here_and_ours_verify_there() {
        let secret = TokenKey::generate_secret();
        let key = TokenKey::new(&secret).unwrap();
        let claims = claims(Role::Customer);
        // Another header (no `typ`) with the same algorithm is fine.
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"HS256"}"#);
        let payload = engine.encode(serde_json::to_vec(&claims).unwrap());
        let signed = format!("{header}.{payload}");
        let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let tag = engine.encode(ring::hmac::sign(&hmac, signed.as_bytes()).as_ref());
        assert_eq!(key.verify(&format!("{signed}.{tag}")).unwrap(), claims);
        // And ours is a standard HS256 JWT.
        let token = key.sign(&claims).unwrap();
        let (signed, tag) = token.rsplit_once('.').unwrap();
        ring::hmac::verify(&hmac, signed.as_bytes(), &engine.decode(tag).unwrap()).unwrap();
    }

    #[test]
    fn expired_and_foreign_audience_tokens_are_refused() {
        let key = key();
        let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
        let expired = Claims::new(Uuid::now_v7(), Role::Customer, Uuid::now_v7(), an_hour_ago);
        assert_eq!(key.verify(&key.sign(&expired).unwrap()), Err(VerifyError::Expired));

        let mut foreign = claims(Role::Customer);
        foreign.aud = "another-api".into();
        assert_eq!(key.verify(&key.sign(&foreign).unwrap()), Err(VerifyError::Invalid));
        let mut issuer = claims(Role::Customer);
        issuer.iss = "someone".into();
        assert_eq!(key.verify(&key.sign(&issuer).unwrap()), Err(VerifyError::Invalid));
        let mut forever = claims(Role::Customer);
        forever.exp = i64::MAX;
        assert!(key.verify(&key.sign(&forever).unwrap()).is_ok(), "no overflow");
        let mut early = claims(Role::Customer);
        early.nbf += 3600;
        assert_eq!(key.verify(&key.sign(&early).unwrap()), Err(VerifyError::Invalid));
    }

    #[test]
    fn other_algorithms_and_mangled_tokens_are_refused() {
        let secret = TokenKey::generate_secret();
        let key = TokenKey::new(&secret).unwrap();
        let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = key.sign(&claims(Role::Admin)).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        let (payload, tag) = rest.split_once('.').unwrap();
        let critical = r#"{"alg":"HS256","crit":["exp"]}"#;
        for header in
            [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"HS512"}"#, r#"{"alg":"EdDSA"}"#, "{}", critical]
        {
            let header = engine.encode(header);
            assert_eq!(key.verify(&format!("{header}.{payload}.")), Err(VerifyError::Invalid));
            // Signed with the right secret: the header alone is refused.
            let signed = format!("{header}.{payload}");
            let tag = engine.encode(ring::hmac::sign(&hmac, signed.as_bytes()).as_ref());
            assert_eq!(key.verify(&format!("{signed}.{tag}")), Err(VerifyError::Invalid), "{signed}");
        }
        let mut short_tag = tag.to_owned();
        short_tag.truncate(20);
        for mangled in [
            format!("{token}.extra"),
            token.replacen('.', "", 1),
            format!("{HEADER_SEGMENT}.{payload}.{short_tag}"),
            format!("{HEADER_SEGMENT}.{payload}x.{tag}"),
            String::new(),
            "a.b.c".to_owned(),
            "x".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert_eq!(key.verify(&mangled), Err(VerifyError::Invalid), "{mangled}");
        }
    }
}
