//! Ticket codes: the ticket id and event id with an HMAC-SHA256 tag, so that check-in rejects a
//! forged or altered code before it looks anything up.

use base64::Engine as _;
use ring::hmac;
use uuid::Uuid;

/// Bytes of the tag kept: 128 bits, as strong as a guess of a random UUID and short enough for a
/// small QR code.
pub const TAG_BYTES: usize = 16;
const CODE_BYTES: usize = 16 + 16 + TAG_BYTES;
/// Secrets shorter than this are refused; a generated one has 32 bytes.
pub const MIN_SECRET_BYTES: usize = 32;

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

impl TicketSigner {
    pub fn new(secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "the ticket secret has {} bytes; it needs at least {MIN_SECRET_BYTES}",
            secret.len()
        );
        Ok(TicketSigner { key: hmac::Key::new(hmac::HMAC_SHA256, secret) })
    }

    fn tag(&self, ticket_id: Uuid, event_id: Uuid) -> [u8; TAG_BYTES] {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(ticket_id.as_bytes());
        context.update(event_id.as_bytes());
        let full = context.sign();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full.as_ref()[..TAG_BYTES]);
        tag
    }

    /// The code printed on (and encoded in the QR of) a ticket.
    pub fn code(&self, ticket_id: Uuid, event_id: Uuid) -> String {
        let mut bytes = Vec::with_capacity(CODE_BYTES);
        bytes.extend_from_slice(ticket_id.as_bytes());
        bytes.extend_from_slice(event_id.as_bytes());
        bytes.extend_from_slice(&self.tag(ticket_id, event_id));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The ticket and event ids of a genuine code; `None` for anything else.
    pub fn verify(&self, code: &str) -> Option<(Uuid, Uuid)> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(code.trim()).ok()?;
        if bytes.len() != CODE_BYTES {
            return None;
        }
        let ticket_id = Uuid::from_slice(&bytes[..16]).ok()?;
        let event_id = Uuid::from_slice(&bytes[16..32]).ok()?;
        let mut message = Vec::with_capacity(32);
        message.extend_from_slice(&bytes[..32]);
        // ring compares the tag in constant time.
        let full_tag_check = hmac::sign(&self.key, &message);
        let expected = &full_tag_check.as_ref()[..TAG_BYTES];
        constant_time_eq(expected, &bytes[32..]).then_some((ticket_id, event_id))
    }
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TicketSigner {
        TicketSigner::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_code_verifies_to_its_ids() {
        let (ticket, event) = (Uuid::now_v7(), Uuid::now_v7());
        let code = signer().code(ticket, event);
        assert_eq!(signer().verify(&code), Some((ticket, event)));
    }

    #[test]
    fn altered_and_foreign_codes_are_refused() {
        let (ticket, event) = (Uuid::now_v7(), Uuid::now_v7());
        let code = signer().code(ticket, event);
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&code).unwrap();
        bytes[3] ^= 1;
        let altered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(signer().verify(&altered), None);
        let other = TicketSigner::new(&[8u8; 32]).unwrap();
        assert_eq!(other.verify(&code), None);
        for junk in ["", "abc", "!!!!", &code[..code.len() - 2]] {
            assert_eq!(signer().verify(junk), None, "{junk}");
        }
        assert!(TicketSigner::new(b"short").is_err());
    }
}
