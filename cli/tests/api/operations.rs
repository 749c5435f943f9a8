//! What an operator does: restart, migrate up and down, create accounts from the command line.

use boxoffice::ServiceName;
use boxoffice_proto::user as pb;
use boxoffice_proto::user::user_service_client::UserServiceClient;
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    assert_problem, cli, free_port, fresh_settings, query_text, Backend, Children, RemovedAtEnd, TestApp,
    PASSWORD,
};
use crate::on_both_backends;

on_both_backends!(
    accounts_and_tokens_survive_a_restart,
    migrations_revert_and_reapply,
    the_cli_refuses_bad_accounts_with_a_clear_message,
    revocations_survive_a_restart_and_a_lost_store,
    operator_commands_say_which_database_they_wrote_to,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_or_redis_url_of_another_kind_is_refused_naming_the_setting() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for (variable, url) in [
        ("BOXOFFICE_DATABASE_URL", "mysql://root@127.0.0.1/boxoffice"),
        ("BOXOFFICE_DATABASE_URL", "sqlite://boxoffice.db"),
        ("BOXOFFICE_DATABASE_URL", "not a url"),
        ("BOXOFFICE_REDIS_URL", "memcached://127.0.0.1:11211"),
    ] {
        // Before any other missing setting: no secret is given here.
        let output = app.cli(&["serve", "--service", "bookings"]).env(variable, url).output().unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{url}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_in_one_process_serves_the_admin_endpoint_too() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for path in ["/healthz", "/readyz"] {
        let response = reqwest::get(app.admin_url(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let metrics = reqwest::get(app.admin_url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("# TYPE"), "{metrics}");
    // The public port keeps its health checks.
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    let health = app.cli(&["health", "--url", &app.admin_url("/readyz")]).output().unwrap();
    assert!(health.status.success());
}

/// An on-sale's story in `/metrics`: every metric has its help text and is one of the
/// catalog's (which the dashboard and the alert rules are checked against), and a sale, a
/// sold-out refusal, a declined payment and a failed login each show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_tell_the_story_of_a_sale_each_with_its_help() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (_, event) = crate::bookings::on_sale(&app, 1, 0).await;
    let body = json!({"event_id": crate::bookings::id(&event), "items": [{"category_id": crate::bookings::category(&event, 0), "quantity": 1}]});
    let (_, first) = app.customer().await;
    let held = app.hold_ok(&first.access, body.clone()).await;
    let declined = app.confirm(&first.access, &crate::bookings::id(&held), "tok_declined").await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        app.confirm(&first.access, &crate::bookings::id(&held), "tok_ok").await.status(),
        StatusCode::OK
    );
    let (_, second) = app.customer().await;
    let refused = app.post("/api/v1/bookings", body, Some(&second.access)).await;
    assert_problem(refused, StatusCode::CONFLICT, "sold_out").await;
    let (email, _) = app.customer().await;
    assert_eq!(app.login(&email, "not the password").await.status(), StatusCode::UNAUTHORIZED);

    let metrics = reqwest::get(app.admin_url("/metrics")).await.unwrap().text().await.unwrap();
    let families: Vec<&str> =
        metrics.lines().filter_map(|line| line.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    for family in &families {
        assert!(
            metrics.lines().any(|line| line.starts_with(&format!("# HELP {family} "))),
            "{family} has no help:\n{metrics}"
        );
        assert!(boxoffice_telemetry::catalog::find(family).is_some(), "{family} is not in the catalog");
    }
    for series in [
        r#"bookings_holds_total{outcome="held"}"#,
        r#"bookings_holds_total{outcome="sold_out"}"#,
        "bookings_payment_declines_total ",
        "bookings_confirmed_total ",
        "users_login_failures_total ",
        "grpc_client_duration_seconds_bucket{",
        r#"db_pool_connections{service="bookings",state="in_use"}"#,
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        r#"http_request_duration_seconds_bucket{"#,
    ] {
        assert!(metrics.lines().any(|line| line.starts_with(series)), "no {series} in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_command_answers_for_a_running_server_and_fails_without_one() {
    let app = TestApp::spawn(Backend::Embedded).await;
    // All services in one process: /readyz on the public address.
    let up = app
        .cli(&["health"])
        .env("BOXOFFICE_HTTP_ADDR", app.url("").trim_start_matches("http://").trim_end_matches('/'))
        .env("BOXOFFICE_ADMIN_ADDR", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let down = app.cli(&["health", "--url", "http://127.0.0.1:1/readyz"]).output().unwrap();
    assert!(!down.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_the_same_data_directory_is_refused_with_a_clear_message() {
    let app = TestApp::spawn(Backend::Embedded).await;
    // Another process, as an operator would start it by mistake: same data, another port.
    let second = app.cli(&["serve"]).env("BOXOFFICE_HTTP_ADDR", "127.0.0.1:0").output().unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("already serving the data directory"), "{stderr}");
    assert!(stderr.contains(&app.settings.data_dir.display().to_string()), "{stderr}");
    // In this process too, and the first one keeps serving.
    let error = boxoffice::start(&app.settings, None, CancellationToken::new()).await.err().unwrap();
    assert!(format!("{error:#}").contains("already serving"), "{error:#}");
    app.customer().await;
    // Once the first one has stopped, the data directory is free again.
    let settings = app.stop().await;
    let app = TestApp::start(settings).await;
    app.customer().await;
}

async fn operator_commands_say_which_database_they_wrote_to(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let add = |email: &str| {
        app.cli(&["users", "add", "--email", email, "--password", PASSWORD, "--role", "organizer"])
            .output()
            .unwrap()
    };
    let output = add("where@example.com");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    match backend {
        Backend::Embedded => {
            let file = std::path::absolute(app.settings.data_dir.join("users.db")).unwrap();
            assert!(stdout.contains(&format!("users: SQLite {}", file.display())), "{stdout}");
        }
        Backend::Postgres => {
            assert!(stdout.contains("users: PostgreSQL postgres://"), "{stdout}");
            assert!(stdout.contains("(schema users)"), "{stdout}");
        }
    }
    assert!(!stdout.contains("note:"), "the server's data directory exists: {stdout}");

    // Run from elsewhere, the embedded default makes a new data directory: it says so.
    if backend == Backend::Embedded {
        let elsewhere = std::env::temp_dir().join(format!("boxoffice-elsewhere-{}", uuid::Uuid::new_v4()));
        let output = app
            .cli(&["users", "add", "--email", "lost@example.com", "--password", PASSWORD, "--role", "admin"])
            .env("BOXOFFICE_DATA_DIR", &elsewhere)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(&format!("note: the data directory {} did not exist", elsewhere.display())),
            "{stdout}"
        );
        // Readable by this user only: it holds the password hashes and the secrets.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
        std::fs::remove_dir_all(&elsewhere).unwrap();

        // `migrate` says the same, for every service's database.
        let output = app.cli(&["migrate"]).env("BOXOFFICE_DATA_DIR", &elsewhere).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let bookings = elsewhere.join("bookings.db");
        assert!(stdout.contains(&format!("bookings: SQLite {}", bookings.display())), "{stdout}");
        assert!(stdout.contains("note: the data directory"), "{stdout}");
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }
}

async fn accounts_and_tokens_survive_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, tokens) = app.customer().await;
    let settings = app.stop().await;

    let app = TestApp::start(settings).await;
    // The signing key persisted too, so the access token from before the restart still works.
    app.me(&tokens.access).await;
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
}

async fn migrations_revert_and_reapply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.customer().await;
    // Reverting drops the tables the server uses, so the server is stopped first.
    let settings = app.stop().await;
    let tables_sql = if backend == Backend::Postgres { TABLES_SQL[0] } else { TABLES_SQL[1] };

    let down = cli(&settings, &["migrate", "--down-to", "0"]).output().unwrap();
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let event_tables_sql = EVENT_TABLES_SQL[if backend == Backend::Postgres { 0 } else { 1 }];
    let booking_tables_sql = BOOKING_TABLES_SQL[if backend == Backend::Postgres { 0 } else { 1 }];
    let tables = query_text(&settings, "users", tables_sql).await;
    for table in ["users", "sessions", "refresh_tokens"] {
        assert!(!tables.iter().any(|name| name == table), "{table} in {tables:?}");
    }
    let event_tables = query_text(&settings, "events", event_tables_sql).await;
    assert!(event_tables.is_empty(), "{event_tables:?}");
    let booking_tables = query_text(&settings, "bookings", booking_tables_sql).await;
    assert!(booking_tables.is_empty(), "{booking_tables:?}");

    let up = cli(&settings, &["migrate"]).output().unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let tables = query_text(&settings, "users", tables_sql).await;
    for table in ["users", "sessions", "refresh_tokens"] {
        assert!(tables.iter().any(|name| name == table), "{table} missing from {tables:?}");
    }
    let event_tables = query_text(&settings, "events", event_tables_sql).await;
    for table in ["venues", "events"] {
        assert!(event_tables.iter().any(|name| name == table), "{table} missing from {event_tables:?}");
    }
    let booking_tables = query_text(&settings, "bookings", booking_tables_sql).await;
    for table in ["bookings", "booking_units", "tickets", "idempotency_keys"] {
        assert!(booking_tables.iter().any(|name| name == table), "{table} missing from {booking_tables:?}");
    }

    // The server starts on the re-migrated, empty database.
    let app = TestApp::start(settings).await;
    app.customer().await;
}

/// A migration that alters a table a long transaction is reading waits for that transaction, and
/// every query on the table queues behind the migration. On PostgreSQL it gives up its wait after
/// `boxoffice_db::MIGRATION_LOCK_TIMEOUT`, so the replicas still serving go on, and tries again
/// until the transaction is over. Before, the query here waited as long as the transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_behind_a_long_transaction_does_not_stop_the_traffic() {
    use sqlx::Connection as _;
    let app = TestApp::spawn(Backend::Postgres).await;
    let settings = app.stop().await;
    // Back to before the bookings service's last migration, which alters `tickets`.
    let down = cli(&settings, &["migrate", "--down-to", "20261206000001"]).output().unwrap();
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let url = settings.database_url.clone().expect("a PostgreSQL test");
    let mut long = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut long).await.unwrap();
    sqlx::query("SELECT count(*) FROM bookings.tickets").execute(&mut long).await.unwrap();

    // Killed, with the data folder removed, if the test fails before it ends.
    let mut children = Children::of(&settings);
    children.push(
        cli(&settings, &["migrate"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut serving = sqlx::PgConnection::connect(&url).await.unwrap();
    const WAITING: &str = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                           JOIN pg_namespace n ON n.oid = c.relnamespace \
                           WHERE NOT l.granted AND n.nspname = 'bookings' AND c.relname = 'tickets'";
    let mut seen = false;
    for _ in 0..600 {
        let (waiting,): (i64,) = sqlx::query_as(WAITING).fetch_one(&mut serving).await.unwrap();
        if waiting > 0 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "the migration never waited for the transaction");
    // A replica still serving reads the table, and `bookings`, which the migration locked before
    // it began to wait for `tickets`: each is answered once the migration's wait ends, long
    // before the transaction does.
    for table in ["tickets", "bookings"] {
        let read = format!("SELECT count(*) FROM bookings.{table}");
        let read = sqlx::query(&read).execute(&mut serving);
        let read = tokio::time::timeout(std::time::Duration::from_secs(30), read).await;
        assert!(read.is_ok(), "a read of {table} queued behind the migration for 30 s");
    }

    sqlx::query("COMMIT").execute(&mut long).await.unwrap();
    let upgrade = children.processes.pop().unwrap();
    let output = tokio::task::spawn_blocking(move || upgrade.wait_with_output().unwrap()).await.unwrap();
    let printed =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("a lock the migrations need is held by another session"), "{printed}");
    let applied = query_text(
        &settings,
        "bookings",
        "SELECT version::text FROM _sqlx_migrations WHERE version = 20261207000001 AND success",
    )
    .await;
    assert_eq!(applied.len(), 1, "the migration was applied once the transaction ended");

    let app = TestApp::start(settings).await;
    app.customer().await;
}

/// The events service's tables: its schema on PostgreSQL, its own file embedded.
const EVENT_TABLES_SQL: [&str; 2] = [
    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'events' AND table_name IN ('venues', 'events')",
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('venues', 'events')",
];

/// The bookings service's tables.
const BOOKING_TABLES_SQL: [&str; 2] = [
    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'bookings' AND table_name <> '_sqlx_migrations'",
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> '_sqlx_migrations'",
];

const TABLES_SQL: [&str; 2] = [
    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'users'",
    "SELECT name FROM sqlite_master WHERE type = 'table'",
];

async fn the_cli_refuses_bad_accounts_with_a_clear_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let weak = app
        .cli(&["users", "add", "--email", "x@example.com", "--password", "short", "--role", "admin"])
        .output()
        .unwrap();
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("password"),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );
    let role = app
        .cli(&["users", "add", "--email", "x@example.com", "--password", PASSWORD, "--role", "root"])
        .output()
        .unwrap();
    assert!(!role.status.success());
    let (email, _) = app.user_with_role("organizer").await;
    let taken = app
        .cli(&["users", "add", "--email", &email, "--password", PASSWORD, "--role", "admin"])
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

/// `serve --service users|events|gateway` as separate deployments would run them: servers
/// sharing PostgreSQL and Redis, the gateway calling the services over gRPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_service_and_the_gateway_run_as_separate_processes() {
    let mut settings = fresh_settings(Backend::Postgres).await;
    let _folder = RemovedAtEnd(settings.data_dir.clone());
    settings.users_grpc_addr = ([127, 0, 0, 1], 0).into();
    settings.admin_addr = ([127, 0, 0, 1], 0).into();
    settings.internal_token = Some(boxoffice_auth::random_token());
    let users_shutdown = CancellationToken::new();
    let users = boxoffice::start(&settings, Some(ServiceName::Users), users_shutdown.clone()).await.unwrap();
    assert!(users.http_addr.is_none(), "the users service has no public API");
    settings.users_url = format!("http://{}", users.users_grpc_addr.unwrap());
    // The events and bookings services call each other, so each needs the other's address
    // before it starts: reserve two free ports.
    let (events_port, bookings_port) = (free_port(), free_port());
    settings.events_grpc_addr = ([127, 0, 0, 1], events_port).into();
    settings.bookings_grpc_addr = ([127, 0, 0, 1], bookings_port).into();
    settings.events_url = format!("http://127.0.0.1:{events_port}");
    settings.bookings_url = format!("http://127.0.0.1:{bookings_port}");
    let shutdown = CancellationToken::new();
    let events = boxoffice::start(&settings, Some(ServiceName::Events), shutdown.clone()).await.unwrap();
    let bookings = boxoffice::start(&settings, Some(ServiceName::Bookings), shutdown.clone()).await.unwrap();
    let gateway = boxoffice::start(&settings, Some(ServiceName::Gateway), shutdown.clone()).await.unwrap();
    let api = format!("http://{}", gateway.http_addr.unwrap());
    let client = reqwest::Client::new();

    let access = crate::helpers::signed_up_through(&api, "split@example.com").await;
    let access = access.as_str();
    let me = client.get(format!("{api}/api/v1/users/me")).bearer_auth(access).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let logout = client.post(format!("{api}/api/v1/auth/logout")).bearer_auth(access).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let me = client.get(format!("{api}/api/v1/users/me")).bearer_auth(access).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "the gateway sees the users service's revocation");

    let admin = format!("http://{}", users.admin_addr.unwrap());
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = client.get(format!("{admin}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path} on the users service");
    }
    assert_eq!(client.get(format!("{api}/readyz")).send().await.unwrap().status(), StatusCode::OK);

    // A caller without the internal token is refused by the users service itself.
    let mut stranger = UserServiceClient::connect(settings.users_url.clone()).await.unwrap();
    let request = pb::CreateUserRequest {
        email: "intruder@example.com".into(),
        password: PASSWORD.into(),
        first_name: "I".into(),
        last_name: "X".into(),
        role: boxoffice_proto::WireEnum::to_wire(boxoffice_types::Role::Admin),
    };
    let refused = stranger.create_user(request).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    // A gateway configured with another token secret would refuse every token the users service
    // signs: it says it is not ready.
    let mut mismatched = settings.clone();
    mismatched.jwt_secret = Some(boxoffice_auth::TokenKey::generate_secret());
    mismatched.http_addr = ([127, 0, 0, 1], 0).into();
    let other_gateway =
        boxoffice::start(&mismatched, Some(ServiceName::Gateway), shutdown.clone()).await.unwrap();
    let other_api = format!("http://{}", other_gateway.http_addr.unwrap());
    let not_ready = client.get(format!("{other_api}/readyz")).send().await.unwrap();
    assert_problem(not_ready, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    // With the users service gone, the gateway is alive but not ready.
    users_shutdown.cancel();
    users.wait().await.unwrap();
    assert_eq!(client.get(format!("{api}/healthz")).send().await.unwrap().status(), StatusCode::OK);
    let not_ready = client.get(format!("{api}/readyz")).send().await.unwrap();
    assert_problem(not_ready, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    shutdown.cancel();
    gateway.wait().await.unwrap();
    other_gateway.wait().await.unwrap();
    events.wait().await.unwrap();
    bookings.wait().await.unwrap();
}

#[tokio::test]
async fn a_service_on_its_own_needs_the_shared_store_and_the_internal_token() {
    let mut settings = fresh_settings(Backend::Embedded).await;
    settings.internal_token = Some(boxoffice_auth::random_token());
    for service in [ServiceName::Users, ServiceName::Events, ServiceName::Bookings, ServiceName::Gateway] {
        let error = boxoffice::start(&settings, Some(service), CancellationToken::new()).await.err().unwrap();
        assert!(format!("{error:#}").contains("BOXOFFICE_REDIS_URL"), "{error:#}");
    }
    // The notifications service keeps nothing in the shared store, but learns everything from
    // Kafka: alone without it, it would never send anything.
    let error = boxoffice::start(&settings, Some(ServiceName::Notifications), CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert!(format!("{error:#}").contains("BOXOFFICE_KAFKA_BROKERS"), "{error:#}");
    let _ = std::fs::remove_dir_all(&settings.data_dir);

    let mut settings = fresh_settings(Backend::Postgres).await;
    settings.users_grpc_addr = ([127, 0, 0, 1], 0).into();
    settings.admin_addr = ([127, 0, 0, 1], 0).into();
    for token in [None, Some("too short".to_owned())] {
        settings.internal_token = token;
        for service in [
            ServiceName::Users,
            ServiceName::Events,
            ServiceName::Bookings,
            ServiceName::Notifications,
            ServiceName::Gateway,
        ] {
            let error =
                boxoffice::start(&settings, Some(service), CancellationToken::new()).await.err().unwrap();
            assert!(format!("{error:#}").contains("BOXOFFICE_INTERNAL_TOKEN"), "{error:#}");
        }
    }

    // The users service signs tokens and the gateway verifies them: both need the same secret,
    // which each would otherwise generate on its own.
    let mut settings = fresh_settings(Backend::Embedded).await;
    settings.redis_url = Some(crate::helpers::redis_url());
    settings.internal_token = Some(boxoffice_auth::random_token());
    for service in [ServiceName::Users, ServiceName::Gateway] {
        let error = boxoffice::start(&settings, Some(service), CancellationToken::new()).await.err().unwrap();
        assert!(format!("{error:#}").contains("BOXOFFICE_JWT_SECRET"), "{error:#}");
    }
    let _ = std::fs::remove_dir_all(&settings.data_dir);
}

async fn revocations_survive_a_restart_and_a_lost_store(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, logged_out) = app.customer().await;
    let still_in = app.tokens(&email).await;
    let logout = app.post("/api/v1/auth/logout", json!({}), Some(&logged_out.access)).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let mut settings = app.stop().await;
    // A new key prefix is a Redis that lost everything; the embedded store starts empty anyway.
    settings.redis_key_prefix = format!("boxoffice-test:{}:", uuid::Uuid::new_v4());

    let app = TestApp::start(settings).await;
    app.assert_token_refused(&logged_out.access).await;
    app.me(&still_in.access).await;
}
