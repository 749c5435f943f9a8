//! Taking money. Every charge and refund carries the booking id as its idempotency key, so a
//! retried confirmation or cancellation never charges or refunds twice.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

/// What a provider answers when it takes no money.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PaymentError {
    #[error("the payment was declined")]
    Declined,
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Charges `amount_cents` of `currency` with the client's `token`, once per `idempotency_key`:
    /// a repeated call returns the first charge's id.
    async fn charge(
        &self,
        idempotency_key: Uuid,
        amount_cents: i64,
        currency: &str,
        token: &str,
    ) -> Result<String, PaymentError>;

    /// Refunds the charge made with `idempotency_key`, once; refunding twice is a no-op.
    async fn refund(&self, idempotency_key: Uuid) -> Result<(), PaymentError>;
}

/// The built-in `test` provider of API.md: `tok_ok` is approved, `tok_declined` (and anything
/// else) declined. It keeps its ledger in memory, which is enough for tests and demos.
#[derive(Default)]
pub struct TestPaymentProvider {
    ledger: Mutex<HashMap<Uuid, TestCharge>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCharge {
    pub id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub refunded: bool,
}

pub const APPROVED_TOKEN: &str = "tok_ok";
pub const DECLINED_TOKEN: &str = "tok_declined";

impl TestPaymentProvider {
    pub fn new() -> Self {
        Self::default()
    }

    /// The charge made for `idempotency_key`, if any.
    pub fn charge_of(&self, idempotency_key: Uuid) -> Option<TestCharge> {
        self.lock().get(&idempotency_key).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, TestCharge>> {
        self.ledger.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl PaymentProvider for TestPaymentProvider {
    async fn charge(
        &self,
        idempotency_key: Uuid,
        amount_cents: i64,
        currency: &str,
        token: &str,
    ) -> Result<String, PaymentError> {
        let mut ledger = self.lock();
        if let Some(charge) = ledger.get(&idempotency_key) {
            return Ok(charge.id.clone());
        }
        if token != APPROVED_TOKEN {
            return Err(PaymentError::Declined);
        }
        let charge = TestCharge {
            id: format!("ch_test_{}", Uuid::now_v7().simple()),
            amount_cents,
            currency: currency.to_owned(),
            refunded: false,
        };
        let id = charge.id.clone();
        ledger.insert(idempotency_key, charge);
        Ok(id)
    }

    async fn refund(&self, idempotency_key: Uuid) -> Result<(), PaymentError> {
        if let Some(charge) = self.lock().get_mut(&idempotency_key) {
            charge.refunded = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_test_provider_charges_once_per_key_and_declines_the_declined_token() {
        let provider = TestPaymentProvider::new();
        let key = Uuid::now_v7();
        assert_eq!(provider.charge(key, 100, "EUR", DECLINED_TOKEN).await, Err(PaymentError::Declined));
        assert_eq!(provider.charge_of(key), None, "a decline charges nothing");
        let first = provider.charge(key, 100, "EUR", APPROVED_TOKEN).await.unwrap();
        let again = provider.charge(key, 100, "EUR", APPROVED_TOKEN).await.unwrap();
        assert_eq!(first, again);
        provider.refund(key).await.unwrap();
        provider.refund(key).await.unwrap();
        assert!(provider.charge_of(key).unwrap().refunded);
    }
}
