//! Replicas that share the load and cover for each other: two bookings replicas, each in a
//! process of its own, named together in the gateway's and the events service's
//! `BOXOFFICE_BOOKINGS_URL`. Calls go to both; after a `kill -9` of one, every call goes to the
//! other, and no buyer sees an error.

use reqwest::StatusCode;
use serde_json::json;

use crate::bookings::{category, id};
use crate::helpers::{cli, fresh_settings, Backend, Children};
use crate::helpers::{free_port, wait_for_port};
use crate::kafka::on_sale_through;

/// How many calls the bookings replica whose admin endpoint is `admin` has answered.
async fn calls_answered(admin: &str) -> f64 {
    let metrics = reqwest::get(format!("{admin}/metrics")).await.unwrap().text().await.unwrap();
    metrics
        .lines()
        .filter(|line| line.starts_with("grpc_server_duration_seconds_count{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bookings_replicas_share_the_calls_and_one_covers_for_the_other_killed() {
    let settings = fresh_settings(Backend::Postgres).await;
    let token = boxoffice_auth::random_token();
    let [users, events, first, second, gateway, first_admin, second_admin] = [(); 7].map(|()| free_port());
    let bookings_urls = format!("http://127.0.0.1:{first},http://127.0.0.1:{second}");
    let spawn = |service: &str, grpc: u16, admin: Option<u16>| {
        let mut command = cli(&settings, &["serve", "--service", service]);
        command
            .env("BOXOFFICE_INTERNAL_TOKEN", &token)
            .env("BOXOFFICE_USERS_GRPC_ADDR", format!("127.0.0.1:{users}"))
            .env("BOXOFFICE_EVENTS_GRPC_ADDR", format!("127.0.0.1:{events}"))
            .env("BOXOFFICE_BOOKINGS_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
            .env("BOXOFFICE_USERS_URL", format!("http://127.0.0.1:{users}"))
            .env("BOXOFFICE_EVENTS_URL", format!("http://127.0.0.1:{events}"))
            .env("BOXOFFICE_BOOKINGS_URL", &bookings_urls)
            .env("BOXOFFICE_HTTP_ADDR", format!("127.0.0.1:{gateway}"));
        if let Some(admin) = admin {
            command.env("BOXOFFICE_ADMIN_ADDR", format!("127.0.0.1:{admin}"));
        }
        wait_for_port(command.spawn().unwrap(), grpc, service)
    };
    let mut children = Children(Vec::new());
    children.0.push(spawn("users", users, None));
    children.0.push(spawn("events", events, None));
    children.0.push(spawn("bookings", first, Some(first_admin)));
    children.0.push(spawn("bookings", second, Some(second_admin)));
    children.0.push(spawn("gateway", gateway, None));
    let api = format!("http://127.0.0.1:{gateway}");
    let (event, buyer) = on_sale_through(&api, &settings, "Replicated", "replicas@example.com").await;
    let client = reqwest::Client::new();
    let list = || client.get(format!("{api}/api/v1/bookings")).bearer_auth(&buyer).send();

    for _ in 0..20 {
        assert_eq!(list().await.unwrap().status(), StatusCode::OK);
    }
    let (first_admin, second_admin) =
        (format!("http://127.0.0.1:{first_admin}"), format!("http://127.0.0.1:{second_admin}"));
    let (before_first, before_second) =
        (calls_answered(&first_admin).await, calls_answered(&second_admin).await);
    assert!(
        before_first >= 5.0 && before_second >= 5.0,
        "both replicas answer: {before_first} and {before_second}"
    );

    // kill -9 of the first replica: every call goes to the second, and no buyer sees an error.
    let killed = &mut children.0[2];
    killed.kill().unwrap();
    killed.wait().unwrap();
    for _ in 0..20 {
        assert_eq!(list().await.unwrap().status(), StatusCode::OK);
    }
    let hold = client
        .post(format!("{api}/api/v1/bookings"))
        .bearer_auth(&buyer)
        .json(
            &json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(hold.status(), StatusCode::CREATED, "a hold is made on the replica left");
    assert!(
        calls_answered(&second_admin).await >= before_second + 21.0,
        "the second replica took every call"
    );
    assert_eq!(reqwest::get(format!("{api}/readyz")).await.unwrap().status(), StatusCode::OK);
}
