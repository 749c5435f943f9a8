//! `boxoffice bench queue`: a waiting room under an on-sale's rush, through one or more
//! gateways (`--url` again and again; give two replicas on one PostgreSQL and Redis to see that
//! they share one queue).
//!
//! An event with a waiting room goes on sale `--sale-in` seconds ahead. Every buyer joins at
//! once (joins per second), then, from the start, buyers poll their place for `--seconds`
//! (polls per second and their latency, round-robin over the gateways); the admissions the
//! gateways report (`let_in`) over that window give the measured rate, against the configured
//! one. Last, waiting buyers try to hold without a pass: every try must be refused.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use boxoffice_config::Settings;
use boxoffice_types::Role;
use chrono::{SecondsFormat, Utc};
use reqwest::{Client, Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use crate::bench::{mint, mint_customers, percentiles_ms, Api};

/// Waiting buyers that try to hold without a pass at the end.
const HOLD_TRIES: usize = 200;

#[derive(Clone, Debug, clap::Args)]
pub struct QueueOptions {
    /// A gateway's base URL; give it again for each replica. Defaults to http://<BOXOFFICE_HTTP_ADDR>.
    #[arg(long)]
    pub url: Vec<String>,
    /// Buyers who join.
    #[arg(long, default_value_t = 200_000)]
    pub buyers: u32,
    /// The room's admissions per minute.
    #[arg(long, default_value_t = 6_000)]
    pub rate: u32,
    /// Seconds from the event's creation to the sale's start (the joins happen before it).
    #[arg(long, default_value_t = 60)]
    pub sale_in: u32,
    /// Seconds of polling from the start.
    #[arg(long, default_value_t = 60)]
    pub seconds: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
}

#[derive(Debug, Serialize)]
pub struct QueueReport {
    pub gateways: usize,
    pub buyers: u32,
    pub joins_ok: u64,
    pub joins_failed: u64,
    pub joins_per_second: f64,
    pub polls: u64,
    pub polls_failed: u64,
    pub polls_per_second: f64,
    pub poll_ms_p50: f64,
    pub poll_ms_p99: f64,
    pub configured_per_minute: u32,
    pub measured_per_minute: f64,
    /// Measured against configured, in percent.
    pub rate_off_percent: f64,
    pub holds_without_pass: usize,
    pub holds_without_pass_refused: usize,
}

impl QueueReport {
    pub fn table(&self) -> String {
        format!(
            "gateways: {}; buyers: {}\n\
             joins: {} ok, {} failed, {:.0}/s\n\
             polls: {} ({} failed), {:.0}/s, p50 {} ms, p99 {} ms\n\
             admissions: {:.1}/min measured, {} configured ({:+.2}%)\n\
             holds without a pass: {} of {} refused\n",
            self.gateways,
            self.buyers,
            self.joins_ok,
            self.joins_failed,
            self.joins_per_second,
            self.polls,
            self.polls_failed,
            self.polls_per_second,
            self.poll_ms_p50,
            self.poll_ms_p99,
            self.measured_per_minute,
            self.configured_per_minute,
            self.rate_off_percent,
            self.holds_without_pass_refused,
            self.holds_without_pass,
        )
    }

    pub fn json_line(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }
}

pub async fn queue(options: &QueueOptions, settings: &Settings) -> anyhow::Result<QueueReport> {
    anyhow::ensure!(options.buyers > 0 && options.rate > 0 && options.seconds > 0, "counts are positive");
    let urls: Vec<String> = if options.url.is_empty() {
        vec![format!("http://{}", settings.http_addr)]
    } else {
        options.url.iter().map(|url| url.trim_end_matches('/').to_owned()).collect()
    };
    let key = crate::token_key(settings)?;
    let client = Client::builder().http1_only().no_proxy().tcp_nodelay(true).build()?;
    let api = Api { client: client.clone(), base_url: urls[0].clone() };
    let organizer = mint(&key, Role::Organizer)?;
    let now = Utc::now();
    let time = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let sale_starts = now + chrono::Duration::seconds(i64::from(options.sale_in));
    let event = json!({
        "name": format!("Queue bench {}", uuid::Uuid::now_v7().simple()),
        "description": "Created by boxoffice bench queue",
        "city": "Benchville",
        "starts_at": time(now + chrono::Duration::days(30)),
        "ends_at": time(now + chrono::Duration::days(30) + chrono::Duration::hours(3)),
        "sale_starts_at": time(sale_starts),
        "max_tickets_per_booking": 1,
        "categories": [{"name": "Standing", "price_cents": 1000, "currency": "EUR", "capacity": 1_000_000}],
        "waiting_room": {"opens_at": time(now), "admissions_per_minute": options.rate,
                         "admission_minutes": 10, "max_admitted": 100_000},
    });
    let event =
        api.call(Method::POST, "/api/v1/events", &organizer, Some(event), StatusCode::CREATED).await?;
    let event_id = event["id"].as_str().context("the event has an id")?.to_owned();
    let category_id = event["categories"][0]["id"].as_str().context("the event has a category")?.to_owned();
    let path = format!("/api/v1/events/{event_id}/publish");
    api.call(Method::POST, &path, &organizer, Some(json!({})), StatusCode::OK).await?;
    let buyers = options.buyers as usize;
    let tokens = Arc::new(tokio::task::spawn_blocking(move || mint_customers(&key, buyers)).await??);
    let queue_path = format!("/api/v1/events/{event_id}/queue");
    let urls = Arc::new(urls);

    // Joins: every buyer, as fast as the gateways take them.
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (client, urls, tokens, path, ok, failed, next) = (
            client.clone(),
            urls.clone(),
            tokens.clone(),
            queue_path.clone(),
            ok.clone(),
            failed.clone(),
            next.clone(),
        );
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(i) else { break };
                let url = format!("{}{path}", urls[i % urls.len()]);
                match client.post(url).bearer_auth(token).json(&json!({})).send().await {
                    Ok(response) if response.status() == StatusCode::OK => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let join_seconds = started.elapsed().as_secs_f64();
    let (joins_ok, joins_failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let wait = (sale_starts - Utc::now()).to_std().unwrap_or_default();
    anyhow::ensure!(
        !wait.is_zero(),
        "the joins outlasted --sale-in ({join_seconds:.0} s): give it more time"
    );
    tokio::time::sleep(wait).await;

    // Polls, from the start, for the window; `let_in` read at its two ends.
    let let_in = |answer: &Value| answer["let_in"].as_u64().unwrap_or(0);
    let read = |i: usize| {
        let (client, url, token) =
            (client.clone(), format!("{}{queue_path}", urls[i % urls.len()]), tokens[i].clone());
        async move { client.get(url).bearer_auth(token).send().await?.json::<Value>().await }
    };
    let first = read(0).await?;
    let window_start = Instant::now();
    let let_in_start = let_in(&first);
    let polls = Arc::new(AtomicU64::new(0));
    let polls_failed = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let until = window_start + Duration::from_secs(u64::from(options.seconds));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..options.concurrency {
        let (client, urls, tokens, path, polls, polls_failed, latencies) = (
            client.clone(),
            urls.clone(),
            tokens.clone(),
            queue_path.clone(),
            polls.clone(),
            polls_failed.clone(),
            latencies.clone(),
        );
        workers.spawn(async move {
            let mut mine = Vec::new();
            let mut i = worker;
            while Instant::now() < until {
                let url = format!("{}{path}", urls[i % urls.len()]);
                let sent = Instant::now();
                match client.get(url).bearer_auth(&tokens[i % tokens.len()]).send().await {
                    Ok(response) if response.status() == StatusCode::OK => {
                        mine.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                        polls.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        polls_failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 7919;
            }
            latencies.lock().expect("never poisoned").extend(mine);
        });
    }
    while workers.join_next().await.is_some() {}
    let last = read(1).await?;
    let window = window_start.elapsed().as_secs_f64();
    let measured = (let_in(&last) - let_in_start) as f64 / window * 60.0;
    let latencies = std::mem::take(&mut *latencies.lock().expect("never poisoned"));
    let [p50, _, p99, _] = percentiles_ms(latencies);

    // Holds without a pass, by buyers still waiting at the back of the queue.
    let mut refused = 0;
    let hold = json!({"event_id": event_id, "items": [{"category_id": category_id, "quantity": 1}]});
    let tries = HOLD_TRIES.min(buyers);
    for i in (buyers - tries)..buyers {
        let url = format!("{}/api/v1/bookings", urls[i % urls.len()]);
        let response = client.post(url).bearer_auth(&tokens[i]).json(&hold).send().await?;
        if response.status() == StatusCode::FORBIDDEN {
            refused += 1;
        }
    }
    let polls_done = polls.load(Ordering::Relaxed);
    Ok(QueueReport {
        gateways: urls.len(),
        buyers: options.buyers,
        joins_ok,
        joins_failed,
        joins_per_second: joins_ok as f64 / join_seconds,
        polls: polls_done,
        polls_failed: polls_failed.load(Ordering::Relaxed),
        polls_per_second: polls_done as f64 / window,
        poll_ms_p50: p50,
        poll_ms_p99: p99,
        configured_per_minute: options.rate,
        measured_per_minute: measured,
        rate_off_percent: (measured / f64::from(options.rate) - 1.0) * 100.0,
        holds_without_pass: tries,
        holds_without_pass_refused: refused,
    })
}
