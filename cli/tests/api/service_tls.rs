//! TLS between services: the users, events and bookings services each in a process of its own,
//! serving gRPC over TLS with a certificate from a private authority; a gateway that reaches
//! them at `https://` URLs and trusts that authority works, and gateways that do not trust it, or
//! that speak plain HTTP/2 to them, are not ready.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{cli, fresh_settings, Backend, Children, PASSWORD};
use crate::helpers::{free_port, wait_for_port};
use crate::notifications::localhost_certificate;

/// `/readyz` of the gateway at `api`, asked until it is ready or 15 seconds have passed.
async fn readiness(api: &str) -> StatusCode {
    let started = Instant::now();
    loop {
        let status = reqwest::get(format!("{api}/readyz")).await.unwrap().status();
        if status == StatusCode::OK || started.elapsed() > Duration::from_secs(15) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_talk_over_tls_and_a_gateway_that_does_not_trust_them_is_not_ready() {
    let settings = fresh_settings(Backend::Postgres).await;
    let tls = localhost_certificate();
    let token = boxoffice_auth::random_token();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let with_services = |command: &mut Command, scheme: &str| {
        command
            .env("BOXOFFICE_INTERNAL_TOKEN", &token)
            .env("BOXOFFICE_USERS_GRPC_ADDR", format!("127.0.0.1:{}", ports[0]))
            .env("BOXOFFICE_EVENTS_GRPC_ADDR", format!("127.0.0.1:{}", ports[1]))
            .env("BOXOFFICE_BOOKINGS_GRPC_ADDR", format!("127.0.0.1:{}", ports[2]))
            .env("BOXOFFICE_USERS_URL", format!("{scheme}://localhost:{}", ports[0]))
            .env("BOXOFFICE_EVENTS_URL", format!("{scheme}://localhost:{}", ports[1]))
            .env("BOXOFFICE_BOOKINGS_URL", format!("{scheme}://localhost:{}", ports[2]));
    };
    let mut children = Children::of(&settings);
    for (service, port) in [("users", ports[0]), ("events", ports[1]), ("bookings", ports[2])] {
        let mut command = cli(&settings, &["serve", "--service", service]);
        with_services(&mut command, "https");
        command
            .env("BOXOFFICE_GRPC_TLS_CERT_FILE", tls.join("cert.pem"))
            .env("BOXOFFICE_GRPC_TLS_KEY_FILE", tls.join("key.pem"))
            .env("BOXOFFICE_GRPC_TLS_CA_FILE", tls.join("ca.pem"));
        children.push(wait_for_port(command.spawn().unwrap(), port, service));
    }
    let gateway = |scheme: &str, trust: bool| {
        let port = free_port();
        let mut command = cli(&settings, &["serve", "--service", "gateway"]);
        with_services(&mut command, scheme);
        command.env("BOXOFFICE_HTTP_ADDR", format!("127.0.0.1:{port}"));
        if trust {
            command.env("BOXOFFICE_GRPC_TLS_CA_FILE", tls.join("ca.pem"));
        }
        (wait_for_port(command.spawn().unwrap(), port, "gateway"), format!("http://127.0.0.1:{port}"))
    };

    let (child, api) = gateway("https", true);
    children.push(child);
    assert_eq!(readiness(&api).await, StatusCode::OK, "the gateway reaches every service over TLS");
    // Sign-up and login reach the users service over TLS.
    crate::helpers::signed_up_through(&api, "tls@example.com").await;
    let client = reqwest::Client::new();
    let events = client.get(format!("{api}/api/v1/events")).send().await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);

    // Without the private authority, the services' certificate is not trusted.
    let (child, untrusting) = gateway("https", false);
    children.push(child);
    assert_eq!(readiness(&untrusting).await, StatusCode::SERVICE_UNAVAILABLE);
    let refused = client
        .post(format!("{untrusting}/api/v1/auth/login"))
        .json(&json!({"email": "tls@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    // A plain HTTP/2 caller gets nothing from a TLS server.
    let (child, plain) = gateway("http", true);
    children.push(child);
    assert_eq!(readiness(&plain).await, StatusCode::SERVICE_UNAVAILABLE);
    drop(children);
    let _ = std::fs::remove_dir_all(tls);
}
