//! Password hashing with argon2id, bounded so that a burst of logins cannot exhaust memory.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use boxoffice_errors::Error;
use tokio::sync::Semaphore;

use crate::domain::Password;

/// OWASP's argon2id parameters: 19 MiB of memory, two passes, one lane.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_PARALLELISM: u32 = 1;
/// Hashes computed at once. Each takes 19 MiB and a core for tens of milliseconds; more at once
/// only queue on the cores and multiply the memory.
pub const MAX_CONCURRENT_HASHES: usize = 8;

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, None)
        .expect("the argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords on the blocking pool, a bounded number at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher { permits: Arc::new(Semaphore::new(MAX_CONCURRENT_HASHES)) }
    }
}

impl PasswordHasher {
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        let password = password.expose().to_owned();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(Error::internal)
        })
        .await
    }

    /// Checks `candidate` against `stored_hash`. With no stored hash (an unknown email) it
    /// verifies against a dummy hash, so that both answers take the same time.
    pub async fn verify(&self, candidate: &str, stored_hash: Option<&str>) -> Result<bool, Error> {
        let candidate = candidate.to_owned();
        let known = stored_hash.is_some();
        let stored = stored_hash.map_or_else(|| dummy_hash().to_owned(), str::to_owned);
        self.run(move || {
            let parsed = PasswordHash::new(&stored).map_err(Error::internal)?;
            let matches = argon2().verify_password(candidate.as_bytes(), &parsed).is_ok();
            Ok(matches && known)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(Error::internal)?
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"no account has this password", &salt)
            .expect("hashing a constant succeeds")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let hasher = PasswordHasher::default();
        let password = Password::parse("correct horse battery", "password").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse battery", None).await.unwrap());
    }
}
