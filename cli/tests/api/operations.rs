//! What an operator does: restart, migrate up and down, create accounts from the command line.

use reqwest::StatusCode;

use crate::helpers::{assert_problem, cli, query_text, Backend, TestApp, PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    accounts_and_tokens_survive_a_restart,
    migrations_revert_and_reapply,
    the_cli_refuses_bad_accounts_with_a_clear_message,
);

async fn accounts_and_tokens_survive_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, tokens) = app.customer().await;
    let settings = app.stop().await;

    let app = TestApp::start(backend, settings).await;
    // The signing key persisted too, so the access token from before the restart still works.
    assert_eq!(
        app.get("/api/v1/users/me", Some(&tokens.access))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
}

async fn migrations_revert_and_reapply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.customer().await;
    // Reverting drops the tables the server uses, so the server is stopped first.
    let settings = app.stop().await;
    let tables_sql = if backend == Backend::Postgres {
        TABLES_SQL[0]
    } else {
        TABLES_SQL[1]
    };

    let down = cli(&settings, &["migrate", "--down-to", "0"])
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let tables = query_text(&settings, tables_sql).await;
    for table in ["users", "sessions", "refresh_tokens"] {
        assert!(
            !tables.iter().any(|name| name == table),
            "{table} in {tables:?}"
        );
    }

    let up = cli(&settings, &["migrate"]).output().unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let tables = query_text(&settings, tables_sql).await;
    for table in ["users", "sessions", "refresh_tokens"] {
        assert!(
            tables.iter().any(|name| name == table),
            "{table} missing from {tables:?}"
        );
    }

    // The server starts on the re-migrated, empty database.
    let app = TestApp::start(backend, settings).await;
    app.customer().await;
}

const TABLES_SQL: [&str; 2] = [
    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'users'",
    "SELECT name FROM sqlite_master WHERE type = 'table'",
];

async fn the_cli_refuses_bad_accounts_with_a_clear_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let weak = app
        .cli(&[
            "users",
            "add",
            "--email",
            "x@example.com",
            "--password",
            "short",
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("password"),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );
    let role = app
        .cli(&[
            "users",
            "add",
            "--email",
            "x@example.com",
            "--password",
            PASSWORD,
            "--role",
            "root",
        ])
        .output()
        .unwrap();
    assert!(!role.status.success());
    let (email, _) = app.user_with_role("organizer").await;
    let taken = app
        .cli(&[
            "users",
            "add",
            "--email",
            &email,
            "--password",
            PASSWORD,
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(!taken.status.success());
    assert!(String::from_utf8_lossy(&taken.stderr).contains("already exists"));
    assert_problem(
        app.login("x@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}
