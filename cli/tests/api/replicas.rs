//! Replicas that share the load and cover for each other: two bookings replicas, each in a
//! process of its own, named together in the gateway's and the events service's
//! `BOXOFFICE_BOOKINGS_URL`. Calls go to both; after a `kill -9` of one, every call goes to the
//! other, and no buyer sees an error; one that stops answering (frozen) is left out within a
//! probe, and taken back once it answers again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::bookings::{category, id};
use crate::helpers::{cli, fresh_settings, Backend, Children};
use crate::helpers::{free_port, wait_for_port};
use crate::kafka::on_sale_through;

/// How many calls the bookings replica whose admin endpoint is `admin` has answered, leaving
/// out the readiness probes.
async fn calls_answered(admin: &str) -> f64 {
    let metrics = reqwest::get(format!("{admin}/metrics")).await.unwrap().text().await.unwrap();
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("grpc_server_duration_seconds_count{") && !line.contains("CheckReady")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Users, events, two bookings replicas (the third and fourth children) and a gateway, each a
/// process of its own, with an event on sale and a buyer.
struct Replicated {
    children: Children,
    api: String,
    admins: [String; 2],
    event: serde_json::Value,
    buyer: String,
    client: reqwest::Client,
}

impl Replicated {
    async fn start(name: &str) -> Replicated {
        let settings = fresh_settings(Backend::Postgres).await;
        let token = boxoffice_auth::random_token();
        let [users, events, first, second, gateway, first_admin, second_admin] =
            [(); 7].map(|()| free_port());
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
        let mut children = Children::of(&settings);
        children.push(spawn("users", users, None));
        children.push(spawn("events", events, None));
        children.push(spawn("bookings", first, Some(first_admin)));
        children.push(spawn("bookings", second, Some(second_admin)));
        children.push(spawn("gateway", gateway, None));
        let api = format!("http://127.0.0.1:{gateway}");
        let email = format!("{}@example.com", name.to_lowercase());
        let (event, buyer) = on_sale_through(&api, &settings, name, &email).await;
        // Longer than a readiness probe takes, shorter than a call's 10 s: a request that waits
        // out a frozen replica's time fails here.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let admins = [format!("http://127.0.0.1:{first_admin}"), format!("http://127.0.0.1:{second_admin}")];
        Replicated { children, api, admins, event, buyer, client }
    }

    /// Lists the buyer's bookings `count` times; each must be answered 200.
    async fn list(&self, count: usize) {
        for _ in 0..count {
            let answer = self
                .client
                .get(format!("{}/api/v1/bookings", self.api))
                .bearer_auth(&self.buyer)
                .send()
                .await;
            assert_eq!(answer.expect("an answer in time").status(), StatusCode::OK);
        }
    }

    async fn hold(&self) -> StatusCode {
        let items = json!([{"category_id": category(&self.event, 0), "quantity": 1}]);
        self.client
            .post(format!("{}/api/v1/bookings", self.api))
            .bearer_auth(&self.buyer)
            .json(&json!({"event_id": id(&self.event), "items": items}))
            .send()
            .await
            .expect("an answer in time")
            .status()
    }

    async fn answered(&self) -> [f64; 2] {
        [calls_answered(&self.admins[0]).await, calls_answered(&self.admins[1]).await]
    }

    /// Sends `signal` (`STOP`, `CONT`) to the bookings replica `which` (0 or 1).
    fn signal(&self, which: usize, signal: &str) {
        let pid = self.children.processes[2 + which].id().to_string();
        let status = std::process::Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap();
        assert!(status.success());
    }
}

/// Long enough for the gateway's probes to leave out a replica that stopped answering (two
/// missed in a row: `PROBE_MISSES` rounds of `PROBE_EVERY`, the last waiting `PROBE_TIMEOUT`),
/// or take back one that answers again, with room to spare.
const PROBED: Duration = Duration::from_millis(4_000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bookings_replicas_share_the_calls_and_one_covers_for_the_other_killed() {
    let mut replicated = Replicated::start("Replicated").await;
    replicated.list(20).await;
    let [before_first, before_second] = replicated.answered().await;
    assert!(
        before_first >= 5.0 && before_second >= 5.0,
        "both replicas answer: {before_first} and {before_second}"
    );

    // kill -9 of the first replica: every call goes to the second, and no buyer sees an error.
    let killed = &mut replicated.children.processes[2];
    killed.kill().unwrap();
    killed.wait().unwrap();
    replicated.list(20).await;
    assert_eq!(replicated.hold().await, StatusCode::CREATED, "a hold is made on the replica left");
    assert!(
        calls_answered(&replicated.admins[1]).await >= before_second + 21.0,
        "the second replica took every call"
    );
    let ready = replicated.client.get(format!("{}/readyz", replicated.api)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_bookings_replica_is_left_out_and_taken_back_once_it_answers() {
    let replicated = Replicated::start("Frozen").await;
    replicated.list(10).await;
    // (Read now: a frozen replica's admin endpoint does not answer either.)
    let [_, before_second] = replicated.answered().await;

    // The second replica stops answering (SIGSTOP: its connections stay open, nothing comes
    // back). Once two probes have gone unanswered, no call waits for it: every one is answered
    // in time by the first.
    replicated.signal(1, "STOP");
    tokio::time::sleep(PROBED).await;
    let before_first = calls_answered(&replicated.admins[0]).await;
    replicated.list(20).await;
    assert_eq!(replicated.hold().await, StatusCode::CREATED, "a hold is made on the replica that answers");
    assert!(
        calls_answered(&replicated.admins[0]).await >= before_first + 21.0,
        "the first replica took every call"
    );

    // It answers again: the next probe takes it back, and it gets calls.
    replicated.signal(1, "CONT");
    tokio::time::sleep(PROBED).await;
    replicated.list(20).await;
    assert!(
        calls_answered(&replicated.admins[1]).await >= before_second + 5.0,
        "the replica that answers again takes its share"
    );
}
