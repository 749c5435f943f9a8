//! Ticket codes, each signed with HMAC-SHA256 so that check-in refuses a forged or altered code
//! before it looks anything up. Two kinds:
//!
//! - The **static** code, printed at home: the ticket id, the event id and, once the ticket
//!   changed hands, its *generation* (how many times it did), with a tag. A transfer gives the
//!   ticket a new static code, and the door refuses the earlier generations' codes.
//! - The **rotating** code, shown on the holder's screen: the same ids and generation, a time
//!   step ([`ROTATION_STEP`], 15 seconds) and a tag made with the ticket's own secret, which the
//!   server derives from its key, the ticket and its generation and never gives out. The door
//!   accepts the current step and the previous one only, so a screenshot stops admitting
//!   within 30 seconds.
//!
//! The kinds are told apart by their length. Static codes of generation 0 are the codes every
//! ticket had before transfers existed, so those stay valid.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ring::hmac;
use uuid::Uuid;

/// Bytes of the tag kept: 128 bits, as strong as a guess of a random UUID and short enough for a
/// small QR code.
pub const TAG_BYTES: usize = 16;
/// Secrets shorter than this are refused; a generated one has 32 bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// How long a rotating code is the current one.
pub const ROTATION_STEP: chrono::Duration = chrono::Duration::seconds(15);
/// Steps a rotating code is accepted for: the current one and the one before it.
pub const ACCEPTED_STEPS: i64 = 2;

const IDS_BYTES: usize = 32;
const STATIC_BYTES: usize = IDS_BYTES + TAG_BYTES;
const STATIC_GENERATION_BYTES: usize = IDS_BYTES + 4 + TAG_BYTES;
const ROTATING_BYTES: usize = IDS_BYTES + 4 + 8 + TAG_BYTES;

/// What a genuine code says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeClaim {
    pub ticket_id: Uuid,
    pub event_id: Uuid,
    /// The ticket's generation the code was made for.
    pub generation: u32,
    pub kind: CodeKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    Static,
    /// Made for this time step.
    Rotating {
        step: i64,
    },
}

/// A rotating code and when it stops being the current one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotatingCode {
    pub code: String,
    pub step: i64,
    pub next_at: DateTime<Utc>,
}

/// The time step of `at`.
pub fn step_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(ROTATION_STEP.num_seconds())
}

/// Signs and verifies ticket codes with the bookings service's secret.
#[derive(Clone)]
pub struct TicketSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketSigner").finish_non_exhaustive()
    }
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn truncated(tag: hmac::Tag) -> [u8; TAG_BYTES] {
    let mut kept = [0u8; TAG_BYTES];
    kept.copy_from_slice(&tag.as_ref()[..TAG_BYTES]);
    kept
}

impl TicketSigner {
    pub fn new(secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "the ticket secret has {} bytes; it needs at least {MIN_SECRET_BYTES}",
            secret.len()
        );
        Ok(TicketSigner { key: hmac::Key::new(hmac::HMAC_SHA256, secret) })
    }

    /// The secret of one generation of a ticket, which its rotating codes are signed with.
    fn ticket_secret(&self, ticket_id: Uuid, generation: u32) -> hmac::Key {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(b"rotating-ticket-secret");
        context.update(ticket_id.as_bytes());
        context.update(&generation.to_be_bytes());
        hmac::Key::new(hmac::HMAC_SHA256, context.sign().as_ref())
    }

    /// The static code printed on (and encoded in the QR of) a ticket of `generation`.
    pub fn code(&self, ticket_id: Uuid, event_id: Uuid, generation: u32) -> String {
        let mut bytes = Vec::with_capacity(STATIC_GENERATION_BYTES);
        bytes.extend_from_slice(ticket_id.as_bytes());
        bytes.extend_from_slice(event_id.as_bytes());
        if generation > 0 {
            bytes.extend_from_slice(&generation.to_be_bytes());
        }
        let tag = truncated(hmac::sign(&self.key, &bytes));
        bytes.extend_from_slice(&tag);
        encode(&bytes)
    }

    /// The rotating code of a ticket of `generation` at `now`.
    pub fn rotating_code(
        &self,
        ticket_id: Uuid,
        event_id: Uuid,
        generation: u32,
        now: DateTime<Utc>,
    ) -> RotatingCode {
        let step = step_of(now);
        let mut bytes = Vec::with_capacity(ROTATING_BYTES);
        bytes.extend_from_slice(ticket_id.as_bytes());
        bytes.extend_from_slice(event_id.as_bytes());
        bytes.extend_from_slice(&generation.to_be_bytes());
        bytes.extend_from_slice(&step.to_be_bytes());
        let tag = truncated(hmac::sign(&self.ticket_secret(ticket_id, generation), &bytes));
        bytes.extend_from_slice(&tag);
        let next_at = DateTime::from_timestamp((step + 1) * ROTATION_STEP.num_seconds(), 0).unwrap_or(now);
        RotatingCode { code: encode(&bytes), step, next_at }
    }

    /// What a genuine code says; `None` for anything else. Whether its generation and step are
    /// still good is the caller's to check.
    pub fn verify(&self, code: &str) -> Option<CodeClaim> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(code.trim()).ok()?;
        let ticket_id = Uuid::from_slice(bytes.get(..16)?).ok()?;
        let event_id = Uuid::from_slice(bytes.get(16..IDS_BYTES)?).ok()?;
        let generation =
            |bytes: &[u8]| Some(u32::from_be_bytes(bytes.get(IDS_BYTES..IDS_BYTES + 4)?.try_into().ok()?));
        let (signed, tag) = bytes.split_at(bytes.len().checked_sub(TAG_BYTES)?);
        let (key, claim) = match bytes.len() {
            STATIC_BYTES => {
                (self.key.clone(), CodeClaim { ticket_id, event_id, generation: 0, kind: CodeKind::Static })
            }
            STATIC_GENERATION_BYTES => {
                let generation = generation(&bytes).filter(|generation| *generation > 0)?;
                (self.key.clone(), CodeClaim { ticket_id, event_id, generation, kind: CodeKind::Static })
            }
            ROTATING_BYTES => {
                let generation = generation(&bytes)?;
                let step = i64::from_be_bytes(bytes.get(IDS_BYTES + 4..IDS_BYTES + 12)?.try_into().ok()?);
                let kind = CodeKind::Rotating { step };
                (
                    self.ticket_secret(ticket_id, generation),
                    CodeClaim { ticket_id, event_id, generation, kind },
                )
            }
            _ => return None,
        };
        // ring compares the full tag in constant time; the code carries its first TAG_BYTES.
        let expected = hmac::sign(&key, signed);
        bool::from(subtle::ConstantTimeEq::ct_eq(&expected.as_ref()[..TAG_BYTES], tag)).then_some(claim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TicketSigner {
        TicketSigner::new(&[7u8; 32]).unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn a_static_code_verifies_to_its_ids_and_generation() {
        let (ticket, event) = (Uuid::now_v7(), Uuid::now_v7());
        for generation in [0, 1, 7] {
            let code = signer().code(ticket, event, generation);
            let claim = signer().verify(&code).unwrap();
            assert_eq!(
                claim,
                CodeClaim { ticket_id: ticket, event_id: event, generation, kind: CodeKind::Static }
            );
        }
        assert_ne!(signer().code(ticket, event, 0), signer().code(ticket, event, 1));
    }

    #[test]
    fn a_rotating_code_changes_every_step_and_says_its_step() {
        let (ticket, event) = (Uuid::now_v7(), Uuid::now_v7());
        // 1,000,005 s is the start of a step (66,667 × 15).
        let first = signer().rotating_code(ticket, event, 2, at(1_000_005));
        let same = signer().rotating_code(ticket, event, 2, at(1_000_019));
        let next = signer().rotating_code(ticket, event, 2, at(1_000_020));
        assert_eq!(first, same);
        assert_ne!(first.code, next.code);
        assert_eq!(next.step, first.step + 1);
        assert_eq!(first.next_at, at(1_000_020));
        let claim = signer().verify(&next.code).unwrap();
        assert_eq!(claim.kind, CodeKind::Rotating { step: next.step });
        assert_eq!(claim.generation, 2);
        // Another generation's secret signs other codes.
        assert_ne!(signer().rotating_code(ticket, event, 3, at(1_000_020)).code, next.code);
    }

    #[test]
    fn altered_and_foreign_codes_are_refused() {
        let (ticket, event) = (Uuid::now_v7(), Uuid::now_v7());
        let other = TicketSigner::new(&[8u8; 32]).unwrap();
        for code in [
            signer().code(ticket, event, 0),
            signer().code(ticket, event, 3),
            signer().rotating_code(ticket, event, 0, at(1_000_000)).code,
        ] {
            let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&code).unwrap();
            for index in [3, 20, 33, bytes.len() - 1] {
                bytes[index] ^= 1;
                assert_eq!(signer().verify(&encode(&bytes)), None, "byte {index} of {code}");
                bytes[index] ^= 1;
            }
            assert_eq!(other.verify(&code), None);
            assert_eq!(signer().verify(&code[..code.len() - 2]), None);
        }
        for junk in ["", "abc", "!!!!"] {
            assert_eq!(signer().verify(junk), None, "{junk}");
        }
        assert!(TicketSigner::new(b"short").is_err());
    }
}
