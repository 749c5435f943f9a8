//! What the users service does, independent of how it is called.
//!
//! Roles obey one rule besides who may change them (admins, checked by the gateway): an admin
//! always remains, so that someone can still manage the accounts. The last admin can neither be
//! demoted nor deleted (409 `conflict`); the store keeps the rule atomically (see
//! [`crate::store`]).

use std::time::Duration;

use base64::Engine as _;
use boxoffice_auth::{Claims, TokenKey, ACCESS_TOKEN_TTL_S, REFRESH_TOKEN_TTL_S, REVOCATION_TTL_S};
use boxoffice_errors::{Code, Error};
use boxoffice_kv::Kv;
use boxoffice_types::limits::accounts::EMAIL_MAX_CHARS;
use boxoffice_types::limits::PageSize;
use boxoffice_types::Role;
use chrono::Utc;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use uuid::Uuid;

use crate::domain::{Email, Password, PersonName};
use crate::password::PasswordHasher;
use crate::store::{Guarded, NewRefreshToken, Rotation, SessionRecord, UserRecord, UserStore};

/// A refresh token opens new access tokens for this long after it was issued.
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(REFRESH_TOKEN_TTL_S);
pub const REFRESH_TOKEN_BYTES: usize = 32;
/// A token longer than this is not one of ours and is refused without hashing it.
const REFRESH_TOKEN_MAX_CHARS: usize = 128;
/// Failed logins for one email within [`FAILED_LOGIN_WINDOW`] that lock it.
pub const MAX_FAILED_LOGINS: u64 = 5;
/// Marks a cursor of the accounts' list (which holds the last email of a page).
const USERS_CURSOR_PREFIX: &str = "users:";
/// An account's sessions an admin sees at most, the newest.
pub const MAX_LISTED_SESSIONS: u32 = 50;
pub const FAILED_LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
pub const LOCKOUT_DURATION: Duration = Duration::from_secs(15 * 60);

/// What a successful login or refresh hands out.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in_s: i64,
    pub user: UserRecord,
}

/// The new account's fields, not yet parsed.
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: Role,
}

#[derive(Clone)]
pub struct Users {
    store: Arc<dyn UserStore>,
    kv: Kv,
    tokens: TokenKey,
    hasher: PasswordHasher,
}

fn failures_key(email: &str) -> String {
    format!("login-failures:{email}")
}

fn lock_key(email: &str) -> String {
    format!("login-lock:{email}")
}

fn locked(left: Duration) -> Error {
    Error::rate_limited(
        "too many failed logins for this account; try again later",
        left.max(Duration::from_secs(1)),
    )
}

fn invalid_credentials() -> Error {
    Error::new(Code::InvalidCredentials, "the email or the password is wrong")
}

/// The refusal of a change that would leave no admin.
fn last_admin(what: &str) -> Error {
    Error::new(
        Code::Conflict,
        format!("this account is the only admin; make another account admin before {what} it"),
    )
}

fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn kv_error(error: anyhow::Error) -> Error {
    Error::unavailable(format!("{error:#}"))
}

impl Users {
    pub fn new(store: Arc<dyn UserStore>, kv: Kv, tokens: TokenKey) -> Self {
        Users { store, kv, tokens, hasher: PasswordHasher::default() }
    }

    /// Names the secret this service signs access tokens with (see [`TokenKey::key_id`]).
    pub fn token_key_id(&self) -> String {
        self.tokens.key_id()
    }

    /// A signup: anyone may open an account, and it is a customer's. Other roles are given by
    /// an operator (`boxoffice users add`) or an admin.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        first_name: &str,
        last_name: &str,
    ) -> Result<UserRecord, Error> {
        self.create_account(NewAccount { email, password, first_name, last_name, role: Role::Customer }).await
    }

    pub async fn create_account(&self, account: NewAccount<'_>) -> Result<UserRecord, Error> {
        let email = Email::parse(account.email)?;
        let password = Password::parse(account.password, "password")?;
        let first_name = PersonName::parse(account.first_name, "first_name")?;
        let last_name = PersonName::parse(account.last_name, "last_name")?;
        let password_hash = self.hasher.hash(&password).await?;
        let now = Utc::now();
        let user = UserRecord {
            id: Uuid::now_v7(),
            email: email.as_str().to_owned(),
            password_hash,
            first_name: first_name.as_str().to_owned(),
            last_name: last_name.as_str().to_owned(),
            role: account.role,
            created_at: now,
        };
        self.store.insert_user(&user, now).await?;
        tracing::info!(user_id = %user.id, role = %user.role, "account created");
        Ok(user)
    }

    /// Checks credentials. Unknown emails and wrong passwords get the same answer in the same
    /// time, and both count towards the email's lockout.
    pub async fn login(&self, email: &str, password: &str) -> Result<Tokens, Error> {
        // A malformed email cannot belong to an account: the answer is the same as for a wrong one.
        let Ok(email) = Email::parse(email) else {
            metrics::counter!("users_login_failures_total").increment(1);
            self.hasher.verify(password, None).await?;
            return Err(invalid_credentials());
        };
        let attempt = self.reserve_attempt(&email).await?;
        let user = self.store.user_by_email(&email).await?;
        let stored_hash = user.as_ref().map(|user| user.password_hash.as_str());
        let matches = self.hasher.verify(password, stored_hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            metrics::counter!("users_login_failures_total").increment(1);
            self.record_failure(&email, attempt).await?;
            return Err(invalid_credentials());
        };
        self.clear_attempts(&email).await?;
        let session_id = Uuid::now_v7();
        let (refresh_token, stored) = new_refresh_token();
        self.store.open_session(session_id, user.id, &stored, Utc::now()).await?;
        // A role or password change that committed while the password was being checked did not
        // see this session, so it could not revoke it: read the account again now that the
        // session exists. A change committed after this read sees the session and revokes it.
        let current = self.store.user_by_id(user.id).await?;
        match current {
            Some(current) if current.password_hash == user.password_hash => {
                self.tokens(current, session_id, refresh_token)
            }
            _ => {
                self.revoke_sessions(&[session_id]).await?;
                Err(invalid_credentials())
            }
        }
    }

    /// Counts an attempt before the password is checked, so that a burst of parallel guesses
    /// cannot all pass the lockout check while the first ones are still being hashed.
    async fn reserve_attempt(&self, email: &Email) -> Result<u64, Error> {
        if let Some(left) = self.kv.ttl(&lock_key(email.as_str())).await.map_err(kv_error)? {
            return Err(locked(left));
        }
        let attempt = self
            .kv
            .incr_in_window(&failures_key(email.as_str()), FAILED_LOGIN_WINDOW)
            .await
            .map_err(kv_error)?;
        if attempt > MAX_FAILED_LOGINS {
            self.lock(email).await?;
            return Err(locked(LOCKOUT_DURATION));
        }
        Ok(attempt)
    }

    /// A failed attempt: the last one allowed locks the email.
    async fn record_failure(&self, email: &Email, attempt: u64) -> Result<(), Error> {
        if attempt >= MAX_FAILED_LOGINS {
            self.lock(email).await?;
        }
        Ok(())
    }

    /// Locks the email. The count of attempts stays until its window ends: resetting it here
    /// would let guesses that passed the lock check a moment earlier start counting from one.
    async fn lock(&self, email: &Email) -> Result<(), Error> {
        metrics::counter!("users_lockouts_total").increment(1);
        tracing::warn!("locking an account after repeated failed logins");
        self.kv.set_ex(&lock_key(email.as_str()), "1", LOCKOUT_DURATION).await.map_err(kv_error)
    }

    /// The right password ends the count of failures.
    async fn clear_attempts(&self, email: &Email) -> Result<(), Error> {
        self.kv.delete(&failures_key(email.as_str())).await.map_err(kv_error)
    }

    fn tokens(&self, user: UserRecord, session_id: Uuid, refresh_token: String) -> Result<Tokens, Error> {
        let claims = Claims::new(user.id, user.role, session_id, Utc::now());
        let access_token = self.tokens.sign(&claims).map_err(Error::internal)?;
        Ok(Tokens { access_token, refresh_token, expires_in_s: ACCESS_TOKEN_TTL_S, user })
    }

    /// Exchanges a refresh token for a new pair. A token presented twice means it was stolen or
    /// leaked: the whole session is revoked, for the thief and the owner alike.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, Error> {
        let invalid = || Error::unauthorized("the refresh token is invalid or expired");
        if refresh_token.is_empty() || refresh_token.len() > REFRESH_TOKEN_MAX_CHARS {
            return Err(invalid());
        }
        let (next_token, next) = new_refresh_token();
        let now = Utc::now();
        match self.store.rotate_refresh_token(&hash_refresh_token(refresh_token), &next, now).await? {
            Rotation::Rotated { user, session_id } => self.tokens(user, session_id, next_token),
            Rotation::Reused { session_id } => {
                tracing::warn!(%session_id, "a used refresh token was presented; revoking its session");
                self.revoke_sessions(&[session_id]).await?;
                Err(Error::unauthorized("the refresh token was already used; the session is revoked"))
            }
            Rotation::Invalid => Err(invalid()),
        }
    }

    pub async fn logout(&self, session_id: Uuid) -> Result<(), Error> {
        self.revoke_sessions(&[session_id]).await
    }

    /// Revokes sessions in the database and puts them on the shared revocation list, which the
    /// gateway checks for every access token.
    async fn revoke_sessions(&self, session_ids: &[Uuid]) -> Result<(), Error> {
        let now = Utc::now();
        for &session_id in session_ids {
            self.store.revoke_session(session_id, now).await?;
            self.kv
                .revoke_session(session_id, Duration::from_secs(REVOCATION_TTL_S))
                .await
                .map_err(kv_error)?;
        }
        Ok(())
    }

    async fn revoke_user_sessions(&self, user_id: Uuid, except: Option<Uuid>) -> Result<(), Error> {
        let revoked = self.store.revoke_user_sessions(user_id, except, Utc::now()).await?;
        self.revoke_sessions(&revoked).await
    }

    /// A page of the accounts whose email contains `text`, by email.
    pub async fn find_users(
        &self,
        text: &str,
        limit: PageSize,
        cursor: Option<&str>,
    ) -> Result<(Vec<UserRecord>, Option<String>), Error> {
        let text = text.trim().to_lowercase();
        if text.chars().count() > EMAIL_MAX_CHARS {
            return Err(Error::validation(format!("email: at most {EMAIL_MAX_CHARS} characters")));
        }
        // The cursor is the last email of the previous page.
        let after = cursor
            .map(|cursor| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(cursor.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .and_then(|text| text.strip_prefix(USERS_CURSOR_PREFIX).map(str::to_owned))
                    .ok_or_else(|| Error::validation("cursor: not a cursor this API gave out"))
            })
            .transpose()?;
        let limit = limit.get();
        let text = (!text.is_empty()).then_some(text.as_str());
        let mut users = self.store.find_users(text, after.as_deref(), limit + 1).await?;
        let next_cursor = if users.len() > limit as usize {
            users.truncate(limit as usize);
            users.last().map(|last| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(format!("{USERS_CURSOR_PREFIX}{}", last.email))
            })
        } else {
            None
        };
        Ok((users, next_cursor))
    }

    /// The account with this email; `not_found` when there is none or the email is not one.
    pub async fn user_by_email(&self, email: &str) -> Result<UserRecord, Error> {
        let not_found = || Error::new(Code::NotFound, "email: no account has this email");
        let email = Email::parse(email)?;
        self.store.user_by_email(&email).await?.ok_or_else(not_found)
    }

    /// The account's sessions, newest first.
    pub async fn sessions(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, Error> {
        self.user(user_id).await?;
        self.store.sessions_of(user_id, MAX_LISTED_SESSIONS).await
    }

    /// Ends one session of the account: its refresh token stops working at once, and its access
    /// tokens as soon as the gateways see the revocation list.
    pub async fn revoke_session_of(&self, user_id: Uuid, session_id: Uuid) -> Result<(), Error> {
        let sessions = self.sessions(user_id).await?;
        if !sessions.iter().any(|session| session.id == session_id) {
            return Err(Error::not_found("session"));
        }
        self.revoke_sessions(&[session_id]).await?;
        tracing::info!(%user_id, %session_id, "session revoked by an admin");
        Ok(())
    }

    /// Ends every session of the account.
    pub async fn revoke_all_sessions(&self, user_id: Uuid) -> Result<(), Error> {
        self.user(user_id).await?;
        self.revoke_user_sessions(user_id, None).await?;
        tracing::info!(%user_id, "every session revoked by an admin");
        Ok(())
    }

    pub async fn user(&self, user_id: Uuid) -> Result<UserRecord, Error> {
        self.store.user_by_id(user_id).await?.ok_or_else(|| Error::not_found("user"))
    }

    pub async fn update_names(
        &self,
        user_id: Uuid,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Result<UserRecord, Error> {
        let first_name = first_name.map(|name| PersonName::parse(name, "first_name")).transpose()?;
        let last_name = last_name.map(|name| PersonName::parse(name, "last_name")).transpose()?;
        self.store
            .update_names(
                user_id,
                first_name.as_ref().map(PersonName::as_str),
                last_name.as_ref().map(PersonName::as_str),
                Utc::now(),
            )
            .await?
            .ok_or_else(|| Error::not_found("user"))
    }

    /// Deletes the account, unless it is the last admin. Its sessions end first: once the
    /// account is gone, so are their rows, which the revocation list is restored from.
    pub async fn delete(&self, user_id: Uuid) -> Result<(), Error> {
        // Checked before the sessions end, so that a refused deletion leaves the admin logged
        // in. The deletion checks again, atomically: when two admins delete themselves at once,
        // both pass here, one is deleted, and the other is refused, logged out but still admin.
        if self.store.is_last_admin(user_id).await? {
            return Err(last_admin("deleting"));
        }
        self.revoke_user_sessions(user_id, None).await?;
        match self.store.delete_user(user_id).await? {
            Guarded::Done(()) => {
                tracing::info!(%user_id, "account deleted");
                Ok(())
            }
            Guarded::NotFound => Err(Error::not_found("user")),
            Guarded::LastAdmin => Err(last_admin("deleting")),
        }
    }

    /// Changes the password and ends every other session. A wrong current password counts
    /// towards the account's lockout, like a failed login.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        current_password: &str,
        new_password: &str,
    ) -> Result<(), Error> {
        let user = self.user(user_id).await?;
        let email = Email::parse(&user.email)?;
        let attempt = self.reserve_attempt(&email).await?;
        if !self.hasher.verify(current_password, Some(&user.password_hash)).await? {
            self.record_failure(&email, attempt).await?;
            return Err(Error::validation("current_password: does not match the account's password"));
        }
        self.clear_attempts(&email).await?;
        let new_password = Password::parse(new_password, "new_password")?;
        let hash = self.hasher.hash(&new_password).await?;
        if !self.store.update_password_hash(user_id, &hash, Utc::now()).await? {
            return Err(Error::not_found("user"));
        }
        self.revoke_user_sessions(user_id, Some(session_id)).await
    }

    /// Changes a role, unless that takes it from the last admin. The user's sessions end, so
    /// that no access token keeps the old role.
    pub async fn set_role(&self, user_id: Uuid, role: Role) -> Result<UserRecord, Error> {
        // Setting the role an account has changes nothing, so it ends no session: the sessions
        // end because their tokens carry the old role. (A change racing this read is ordered
        // after it, as if this request had come first.)
        let current = self.store.user_by_id(user_id).await?.ok_or_else(|| Error::not_found("user"))?;
        if current.role == role {
            return Ok(current);
        }
        let user = match self.store.set_role(user_id, role, Utc::now()).await? {
            Guarded::Done(user) => user,
            Guarded::NotFound => return Err(Error::not_found("user")),
            Guarded::LastAdmin => return Err(last_admin("demoting")),
        };
        self.revoke_user_sessions(user_id, None).await?;
        tracing::info!(%user_id, %role, "role changed");
        Ok(user)
    }

    /// Puts the sessions revoked within the life of an access token back on the revocation list.
    /// The in-memory store of the embedded default starts empty after a restart, and Redis may
    /// have lost its data; without this, a logged-out token would work again until it expired.
    pub async fn restore_revocations(&self) -> Result<usize, Error> {
        let lifetime = chrono::Duration::seconds(REVOCATION_TTL_S as i64);
        let revoked = self.store.sessions_revoked_since(Utc::now() - lifetime).await?;
        for &session_id in &revoked {
            self.kv
                .revoke_session(session_id, Duration::from_secs(REVOCATION_TTL_S))
                .await
                .map_err(kv_error)?;
        }
        Ok(revoked.len())
    }

    /// This service's outbox, for its relay.
    pub fn outbox(&self) -> boxoffice_outbox::Outbox {
        let (db, handle) = self.store.outbox();
        boxoffice_outbox::Outbox { service: "users", db, handle }
    }

    pub async fn check_ready(&self) -> Result<(), Error> {
        self.store.ping().await?;
        self.kv.ping().await.map_err(kv_error)
    }
}

fn new_refresh_token() -> (String, NewRefreshToken) {
    let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let expires_at =
        Utc::now() + chrono::Duration::from_std(REFRESH_TOKEN_TTL).expect("the refresh token lifetime fits");
    let stored = NewRefreshToken { token_hash: hash_refresh_token(&token), expires_at };
    (token, stored)
}
