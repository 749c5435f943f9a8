-- Accounts. Emails are stored normalized (trimmed, lower case) so the unique index is the guard
-- against two accounts with one address.
CREATE TABLE users (
    id BLOB PRIMARY KEY,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('customer', 'organizer', 'admin')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email_unique ON users (email);

-- A session is one login: a family of refresh tokens, each used once.
CREATE TABLE sessions (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Only a hash of each refresh token is kept, so a copy of the database opens no session.
CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
