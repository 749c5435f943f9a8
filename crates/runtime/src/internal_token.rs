//! The shared secret that every internal gRPC call carries, so that only boxoffice's own services
//! (and not any process that can reach a service's port) may call it.

use std::sync::Arc;

use subtle::ConstantTimeEq as _;
use tonic::service::Interceptor;
use tonic::{Request, Status};

pub const METADATA_KEY: &str = "x-boxoffice-internal-token";
/// Shorter secrets are refused at start; a generated one has 43 characters.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The internal token of this deployment.
#[derive(Clone)]
pub struct InternalToken(Arc<str>);

impl std::fmt::Debug for InternalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalToken(..)")
    }
}

impl InternalToken {
    /// A configured token: at least [`MIN_TOKEN_CHARS`] characters of visible ASCII, which is
    /// what a metadata value may carry.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            text.chars().count() >= MIN_TOKEN_CHARS && text.bytes().all(|byte| byte.is_ascii_graphic()),
            "the internal token must be at least {MIN_TOKEN_CHARS} characters of visible ASCII (for \
             example from `boxoffice keys generate`)"
        );
        Ok(InternalToken(text.into()))
    }

    /// The value of the metadata entry a call carries.
    pub(crate) fn header_value(&self) -> http::HeaderValue {
        http::HeaderValue::from_str(&self.0).expect("checked to be visible ASCII")
    }

    /// The server side: a check that refuses every call without this token.
    pub fn require(&self) -> RequireToken {
        RequireToken(self.0.clone())
    }
}

/// Server side: refuses every call without the token.
#[derive(Clone)]
pub struct RequireToken(Arc<str>);

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let presented = request.metadata().get(METADATA_KEY).map(|value| value.as_bytes());
        // Compared in constant time, so the time taken reveals nothing about how much of a guess
        // was right.
        match presented {
            Some(presented) if bool::from(presented.ct_eq(self.0.as_bytes())) => Ok(request),
            _ => Err(Status::unauthenticated("internal calls need the internal token")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_token(token: &str) -> Request<()> {
        let mut request = Request::new(());
        request.metadata_mut().insert(METADATA_KEY, token.parse().unwrap());
        request
    }

    #[test]
    fn only_the_right_token_passes() {
        let token = InternalToken::parse("s3cret-s3cret-s3cret-s3cret-s3cret").unwrap();
        let mut require = token.require();
        assert!(require.call(with_token("s3cret-s3cret-s3cret-s3cret-s3cret")).is_ok());
        assert!(require.call(with_token("s3cret-s3cret-s3cret-s3cret-s3creT")).is_err());
        assert!(require.call(with_token("s3cret")).is_err());
        assert!(require.call(Request::new(())).is_err());
    }

    #[test]
    fn short_or_unprintable_tokens_are_refused() {
        assert!(InternalToken::parse("short").is_err());
        assert!(InternalToken::parse(&format!("{}\n", "x".repeat(40))).is_err());
        assert!(InternalToken::parse(&"é".repeat(40)).is_err());
    }
}
