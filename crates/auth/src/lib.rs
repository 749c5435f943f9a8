//! Access tokens: the claims, signing by the users service and verification at the gateway.
//!
//! Tokens are JWTs signed with HS256 (HMAC-SHA256) under a secret that the users service and the
//! gateway share (see [`TokenKey`] for why not a key pair). The `jsonwebtoken` crate writes and
//! checks them; verification accepts that one algorithm only and requires and checks `iss`,
//! `aud`, `exp` and `nbf`.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use boxoffice_types::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "boxoffice";
pub const AUDIENCE: &str = "boxoffice-api";
/// Access tokens are short-lived; revocation covers the rest of their life.
pub const ACCESS_TOKEN_TTL_S: i64 = 15 * 60;
/// A session's refresh token lives this long unless it is used or revoked first (the web app's
/// refresh cookie as long).
pub const REFRESH_TOKEN_TTL_S: u64 = 30 * 24 * 60 * 60;
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
///
/// The JWT itself is written and checked by the `jsonwebtoken` crate; this type only configures it
/// (HS256 alone, the required claims, the leeway) and adds the two checks it does not make: a size
/// limit and the refusal of `crit` headers.
#[derive(Clone)]
pub struct TokenKey {
    /// The keys and the validation rules are built once, and the gateway clones the key into its
    /// state, so they sit behind one shared pointer and a clone costs a reference count.
    inner: Arc<KeyInner>,
}

struct KeyInner {
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
    header: jsonwebtoken::Header,
    validation: jsonwebtoken::Validation,
    key_id: String,
    /// Signs the gateway's other short-lived proofs (a waiting room's admission passes), under
    /// a key derived from the same secret for that use alone.
    proofs: ring::hmac::Key,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey").finish_non_exhaustive()
    }
}

/// The shortest secret accepted, in characters (the secret's UTF-8 text is the HMAC key, and
/// HMAC-SHA256 wants a key at least as long as its output).
pub const MIN_SECRET_CHARS: usize = 32;

/// `{"typ":"JWT","alg":"HS256"}`, the header `jsonwebtoken` writes for HS256 and so the header of
/// every token we sign, as it is sent. A token carrying exactly this header has no `crit` member,
/// so verification need not decode it a second time.
const HEADER_SEGMENT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

/// Tokens longer than this are not ours and are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 4_096;

/// The claims `jsonwebtoken` must find in every token before it checks them: without them a
/// token could not be refused for its issuer, audience or lifetime.
const REQUIRED_CLAIMS: [&str; 4] = ["iss", "aud", "exp", "nbf"];

/// The one header member `jsonwebtoken` 9 does not model: extensions the verifier must
/// understand (RFC 7515 §4.1.11). We understand none, so any `crit` member, even `null` or an
/// empty list, refuses the token.
#[derive(Deserialize)]
struct CriticalHeader {
    #[serde(default, deserialize_with = "member_present")]
    crit: bool,
}

/// True whatever the value is: a member that is there, even as `null`, counts.
fn member_present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// Whether a header segment, as sent, names critical extensions. A segment that is not base64 of
/// a JSON object counts as one that does, since such a token is refused anyway.
fn names_critical_extensions(header_segment: &str) -> bool {
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header_segment)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<CriticalHeader>(&bytes).ok());
    // `Option::is_none_or` would say this in one call, but it needs Rust 1.82 and the workspace
    // declares 1.80.
    match header {
        Some(header) => header.crit,
        None => true,
    }
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
        // HS256 and nothing else: `jsonwebtoken` refuses a token whose header names any other
        // algorithm (or none, or one it does not know) before it looks at the signature.
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.algorithms = vec![jsonwebtoken::Algorithm::HS256];
        validation.set_required_spec_claims(&REQUIRED_CLAIMS);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_aud = true;
        validation.validate_exp = true;
        // `jsonwebtoken` leaves `nbf` unchecked unless asked.
        validation.validate_nbf = true;
        // A token is good until `exp` plus the leeway, and from `nbf` minus it, as before the move
        // to `jsonwebtoken`; none is refused for expiring soon.
        validation.leeway = CLOCK_LEEWAY_S;
        validation.reject_tokens_expiring_in_less_than = 0;
        Ok(TokenKey {
            inner: Arc::new(KeyInner {
                encoding: jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
                decoding: jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
                header: jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                validation,
                key_id: key_id(secret),
                proofs: proof_key(secret),
            }),
        })
    }

    /// A name for this secret that reveals nothing of it (the start of an HMAC of a fixed
    /// text), so that two processes can check that they share it.
    pub fn key_id(&self) -> String {
        self.inner.key_id.clone()
    }

    /// A tag over `text` that only holders of the secret can make: `purpose` keeps the tags of
    /// different uses apart (a tag for one never verifies for another). Base64url, 43 characters.
    pub fn sign_proof(&self, purpose: &str, text: &str) -> String {
        let tag = ring::hmac::sign(&self.inner.proofs, proof_message(purpose, text).as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `tag` is [`TokenKey::sign_proof`]'s for this purpose and text (compared in
    /// constant time by `ring`).
    pub fn verify_proof(&self, purpose: &str, text: &str, tag: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else { return false };
        ring::hmac::verify(&self.inner.proofs, proof_message(purpose, text).as_bytes(), &tag).is_ok()
    }

    /// A new random secret, in the text form [`TokenKey::new`] reads.
    pub fn generate_secret() -> String {
        random_token()
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let inner = &*self.inner;
        Ok(jsonwebtoken::encode(&inner.header, claims, &inner.encoding)?)
    }

    /// Checks a token with `jsonwebtoken`: the header must name HS256 (nothing else, so
    /// `alg: none` and tokens of other algorithms are refused), the signature must match
    /// (compared in constant time), then `iss`, `aud`, `exp` and `nbf` must be there and are
    /// checked, with [`CLOCK_LEEWAY_S`] of leeway on the times.
    ///
    /// Around that, tokens longer than [`MAX_TOKEN_BYTES`] are refused before any decoding, and
    /// so are headers with a `crit` member. An `exp` of `i64::MAX` is accepted (never expires)
    /// without overflowing; negative times are refused as missing, since `jsonwebtoken` reads
    /// `exp` and `nbf` as unsigned numbers.
    pub fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::Invalid);
        }
        // A compact JWS has three segments. Checking that here means the header looked at for
        // `crit` is the one `jsonwebtoken` reads, whatever the token holds.
        let mut segments = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (segments.next(), segments.next(), segments.next(), segments.next())
        else {
            return Err(VerifyError::Invalid);
        };
        if header != HEADER_SEGMENT && names_critical_extensions(header) {
            return Err(VerifyError::Invalid);
        }
        let inner = &*self.inner;
        jsonwebtoken::decode::<Claims>(token, &inner.decoding, &inner.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => VerifyError::Expired,
                _ => VerifyError::Invalid,
            })
    }
}

/// The first 8 bytes of HMAC-SHA256 of a fixed text under the secret, in hex.
/// The key of [`TokenKey::sign_proof`]: an HMAC of a fixed label under the secret, so that it
/// differs from the key of access tokens while every holder of the secret derives the same one.
fn proof_key(secret: &str) -> ring::hmac::Key {
    let derived = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
        b"boxoffice proofs v1",
    );
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref())
}

fn proof_message(purpose: &str, text: &str) -> String {
    format!("{}:{purpose}|{text}", purpose.len())
}

fn key_id(secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, b"boxoffice access token key id");
    tag.as_ref()[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(&TokenKey::generate_secret()).unwrap()
    }

    #[test]
    fn a_proof_verifies_for_its_purpose_and_text_only() {
        let key = key();
        let tag = key.sign_proof("pass", "event|user|1");
        assert!(key.verify_proof("pass", "event|user|1", &tag));
        assert!(!key.verify_proof("pass", "event|user|2", &tag));
        assert!(!key.verify_proof("other", "event|user|1", &tag));
        assert!(!key.verify_proof("pass", "event|user|1", "not base64!"));
        let other = TokenKey::new(&TokenKey::generate_secret()).unwrap();
        assert!(!other.verify_proof("pass", "event|user|1", &tag));
        // A purpose cannot be shifted into the text.
        assert_ne!(key.sign_proof("a", "b|c"), key.sign_proof("a|b", "c"));
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

    /// A token with the given header and payload, signed with HS256 under the secret whatever
    /// the header says, as a forger who knows the secret would write it.
    fn forge(secret: &str, header: &str, payload: &serde_json::Value) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signed = format!("{}.{}", engine.encode(header), engine.encode(payload.to_string()));
        let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let tag = engine.encode(ring::hmac::sign(&hmac, signed.as_bytes()).as_ref());
        format!("{signed}.{tag}")
    }

    #[test]
    fn the_header_is_the_one_jwt_libraries_write() {
        // `jsonwebtoken` writes `typ` before `alg`; the members are the standard two.
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: serde_json::Value =
            serde_json::from_slice(&engine.decode(HEADER_SEGMENT).unwrap()).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "HS256", "typ": "JWT"}));
        assert_eq!(header["alg"], ALGORITHM_NAME);
        let token = key().sign(&claims(Role::Customer)).unwrap();
        assert_eq!(token.split('.').next(), Some(HEADER_SEGMENT));
    }

    #[test]
    fn key_ids_tell_secrets_apart() {
        let secret = TokenKey::generate_secret();
        let key = TokenKey::new(&secret).unwrap();
        assert_eq!(key.key_id(), TokenKey::new(&secret).unwrap().key_id());
        assert_ne!(key.key_id(), self::key().key_id());
        assert_eq!(key.key_id().len(), 16);
        // The same text as before the move to `jsonwebtoken`: HMAC-SHA256 of the fixed text, so
        // a gateway and a users service of different versions still agree.
        assert_eq!(TokenKey::new(&"x".repeat(32)).unwrap().key_id(), "d479f2ef5e609de1");
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
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512"}"#,
            r#"{"alg":"EdDSA"}"#,
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"alg":"hs256","typ":"JWT"}"#,
            r#"{"typ":"JWT"}"#,
            "{}",
            critical,
            r#"{"alg":"HS256","typ":"JWT","crit":[]}"#,
            r#"{"alg":"HS256","typ":"JWT","crit":null}"#,
        ] {
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

    #[test]
    fn a_lower_case_algorithm_name_is_refused() {
        let secret = TokenKey::generate_secret();
        let key = TokenKey::new(&secret).unwrap();
        let payload = serde_json::to_value(claims(Role::Customer)).unwrap();
        assert!(key.verify(&forge(&secret, r#"{"alg":"HS256","typ":"JWT"}"#, &payload)).is_ok());
        let lower = forge(&secret, r#"{"alg":"hs256","typ":"JWT"}"#, &payload);
        assert_eq!(key.verify(&lower), Err(VerifyError::Invalid));
    }

    #[test]
    fn tokens_missing_a_required_claim_are_refused() {
        let secret = TokenKey::generate_secret();
        let key = TokenKey::new(&secret).unwrap();
        for claim in ["iss", "aud", "exp", "nbf"] {
            let mut payload = serde_json::to_value(claims(Role::Customer)).unwrap();
            payload.as_object_mut().unwrap().remove(claim);
            let token = forge(&secret, r#"{"alg":"HS256","typ":"JWT"}"#, &payload);
            assert_eq!(key.verify(&token), Err(VerifyError::Invalid), "without {claim}");
        }
    }

    #[test]
    fn times_of_another_type_are_refused() {
        // GHSA-h395-gr6q-cpjc: `jsonwebtoken` before 10.3 skips a time it cannot read unless the
        // claim is required. Both are required here, so such a token must still be refused.
        let secret = TokenKey::generate_secret();
        let key = TokenKey::new(&secret).unwrap();
        let header = r#"{"alg":"HS256","typ":"JWT"}"#;
        for (claim, value) in [
            ("nbf", serde_json::json!("99999999999")),
            ("exp", serde_json::json!("never")),
            ("exp", serde_json::json!(null)),
            ("exp", serde_json::json!(-1)),
            ("nbf", serde_json::json!(-1)),
        ] {
            let mut payload = serde_json::to_value(claims(Role::Customer)).unwrap();
            payload[claim] = value.clone();
            let token = forge(&secret, header, &payload);
            assert_eq!(key.verify(&token), Err(VerifyError::Invalid), "{claim}: {value}");
        }
    }

    #[test]
    fn the_clock_leeway_applies_to_exp_and_nbf() {
        let key = key();
        let leeway = CLOCK_LEEWAY_S as i64;
        let now = Utc::now().timestamp();
        let mut just_expired = claims(Role::Customer);
        just_expired.exp = now - leeway + 2;
        assert!(key.verify(&key.sign(&just_expired).unwrap()).is_ok());
        just_expired.exp = now - leeway - 5;
        assert_eq!(key.verify(&key.sign(&just_expired).unwrap()), Err(VerifyError::Expired));
        let mut nearly_valid = claims(Role::Customer);
        nearly_valid.nbf = now + leeway - 2;
        assert!(key.verify(&key.sign(&nearly_valid).unwrap()).is_ok());
        nearly_valid.nbf = now + leeway + 5;
        assert_eq!(key.verify(&key.sign(&nearly_valid).unwrap()), Err(VerifyError::Invalid));
    }

    #[test]
    fn the_key_can_be_shared_between_tasks() {
        // The gateway keeps the key in state that every request handler clones.
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<TokenKey>();
    }

    #[test]
    fn the_key_is_not_printed() {
        let secret = TokenKey::generate_secret();
        let printed = format!("{:?}", TokenKey::new(&secret).unwrap());
        assert!(!printed.contains(&secret), "{printed}");
    }
}
