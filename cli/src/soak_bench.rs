//! `boxoffice bench soak`: a long, steady sale, to see that nothing grows or slows with time.
//!
//! One general-admission event; new buyers arrive at `--rate` a second for `--minutes`, each
//! with a token of its own, spread over the gateways (`--url` again for each). Each asks for 1
//! to `--max-per-buyer` tickets. Of the holds granted, `--confirm-share` are paid after a pause
//! (a buyer typing a card number), `--cancel-share` are cancelled, and the rest are left to
//! expire (run the server with a short `BOXOFFICE_HOLD_MINUTES` to see them expire within the
//! run). Of the bookings paid, `--refund-share` are cancelled again later, so tickets keep
//! coming back to sale and the sale never settles into "sold out" alone.
//!
//! Every minute one JSON line goes to stdout: the requests of that minute by kind and outcome,
//! the hold latencies (p50, p99, max) and the payments' p99. The run ends with the read-back of
//! the event's counts (`sold + held + available = capacity`, and sold equal to the payments
//! less the refunds when no request failed), as its last JSON line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use boxoffice_auth::TokenKey;
use boxoffice_config::Settings;
use boxoffice_types::Role;
use rand::Rng as _;
use reqwest::{Client, Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::bench::{create_sale, mint, mint_as, percentiles_ms, Api, FlashSaleOptions};

/// How long a buyer takes to pay, at most (each waits a random part of it).
const PAYING_TIME: Duration = Duration::from_secs(20);
/// How long after paying a buyer who asks for a refund does so, at most.
const REFUND_AFTER: Duration = Duration::from_secs(60);
/// Error descriptions kept per minute.
const ERROR_SAMPLES: usize = 3;

#[derive(Clone, Debug, clap::Args)]
pub struct SoakOptions {
    /// A gateway's base URL; give it again for each replica. Defaults to http://<BOXOFFICE_HTTP_ADDR>.
    #[arg(long)]
    pub url: Vec<String>,
    /// How long the sale lasts.
    #[arg(long, default_value_t = 10)]
    pub minutes: u32,
    /// New buyers (hold attempts) per second.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Tickets on sale.
    #[arg(long, default_value_t = 10_000)]
    pub units: u32,
    /// Requests in flight at most; a buyer who would exceed it waits, and the minute's
    /// attempts then fall short of the rate.
    #[arg(long, default_value_t = 512)]
    pub concurrency: usize,
    /// Each buyer asks for 1 to this many tickets.
    #[arg(long, default_value_t = 2)]
    pub max_per_buyer: u32,
    /// The share (0 to 1) of granted holds that are paid for.
    #[arg(long, default_value_t = 0.4)]
    pub confirm_share: f64,
    /// The share (0 to 1) of granted holds that are cancelled; the rest expire.
    #[arg(long, default_value_t = 0.2)]
    pub cancel_share: f64,
    /// The share (0 to 1) of paid bookings refunded later.
    #[arg(long, default_value_t = 0.5)]
    pub refund_share: f64,
}

impl SoakOptions {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.minutes >= 1, "--minutes must be at least 1");
        anyhow::ensure!(self.rate >= 1, "--rate must be at least 1");
        anyhow::ensure!(self.concurrency >= 1, "--concurrency must be at least 1");
        anyhow::ensure!(self.units >= 1, "--units must be at least 1");
        for (name, share) in [
            ("--confirm-share", self.confirm_share),
            ("--cancel-share", self.cancel_share),
            ("--refund-share", self.refund_share),
        ] {
            anyhow::ensure!((0.0..=1.0).contains(&share), "{name} must be 0 to 1");
        }
        anyhow::ensure!(
            self.confirm_share + self.cancel_share <= 1.0,
            "--confirm-share and --cancel-share add up to more than 1"
        );
        Ok(())
    }
}

/// What one minute of the soak saw.
#[derive(Debug, Default, Serialize)]
pub struct Minute {
    pub minute: u32,
    pub attempts: u64,
    pub holds: u64,
    pub sold_out: u64,
    pub confirms: u64,
    /// Payments refused because the hold had expired (a buyer too slow).
    pub expired_before_paying: u64,
    pub cancels: u64,
    pub refunds: u64,
    /// Answers other than the expected ones, and requests without an answer.
    pub errors: u64,
    pub hold_p50_ms: f64,
    pub hold_p99_ms: f64,
    pub hold_max_ms: f64,
    pub confirm_p99_ms: f64,
    pub error_samples: Vec<String>,
    #[serde(skip)]
    hold_latencies_us: Vec<u64>,
    #[serde(skip)]
    confirm_latencies_us: Vec<u64>,
}

/// The read-back at the end.
#[derive(Debug, Serialize)]
pub struct Ending {
    pub capacity: u64,
    pub sold: u64,
    pub held: u64,
    pub available: u64,
    /// Units the buyers were told they paid for, less those refunded.
    pub paid_less_refunded: u64,
    pub errors: u64,
    pub consistent: bool,
    pub problems: Vec<String>,
}

struct Shared {
    client: Client,
    bookings_urls: Vec<String>,
    key: TokenKey,
    event_id: String,
    category_id: String,
    options: SoakOptions,
    slots: Semaphore,
    minute: Mutex<Minute>,
    /// Units paid and not refunded, and every error, over the whole run.
    totals: Mutex<(u64, u64)>,
}

enum Kind {
    Hold,
    Confirm,
    Cancel,
    Refund,
}

impl Shared {
    fn record(&self, kind: Kind, latency: Duration, status: Option<StatusCode>, body: &str) {
        let mut minute = self.minute.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let mut error = false;
        match (kind, status) {
            (Kind::Hold, Some(status)) => {
                minute.attempts += 1;
                minute.hold_latencies_us.push(micros);
                match status {
                    StatusCode::CREATED => minute.holds += 1,
                    StatusCode::CONFLICT if body.contains("sold_out") => minute.sold_out += 1,
                    _ => error = true,
                }
            }
            (Kind::Confirm, Some(status)) => {
                minute.confirm_latencies_us.push(micros);
                match status {
                    StatusCode::OK => minute.confirms += 1,
                    StatusCode::CONFLICT if body.contains("hold_expired") => {
                        minute.expired_before_paying += 1
                    }
                    _ => error = true,
                }
            }
            (Kind::Cancel, Some(StatusCode::OK)) => minute.cancels += 1,
            (Kind::Refund, Some(StatusCode::OK)) => minute.refunds += 1,
            (Kind::Hold, None) => {
                minute.attempts += 1;
                error = true;
            }
            _ => error = true,
        }
        if error {
            minute.errors += 1;
            if minute.error_samples.len() < ERROR_SAMPLES {
                let status = status.map_or_else(|| "no answer".to_owned(), |status| status.to_string());
                minute
                    .error_samples
                    .push(format!("{status}: {}", body.chars().take(200).collect::<String>()));
            }
        }
    }

    /// Sends one request in a slot of its own; the latency, the status (none without an
    /// answer) and the body.
    async fn send(&self, request: reqwest::RequestBuilder) -> (Duration, Option<StatusCode>, String) {
        let _slot = self.slots.acquire().await.expect("the slots stay open");
        let started = Instant::now();
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                (started.elapsed(), Some(status), body)
            }
            Err(error) => (started.elapsed(), None, error.to_string()),
        }
    }

    /// One buyer, from the hold to what becomes of it.
    async fn buyer(self: Arc<Self>, index: u64) {
        let url = &self.bookings_urls[index as usize % self.bookings_urls.len()];
        let Ok(token) = mint_as(&self.key, Uuid::now_v7(), Role::Customer) else { return };
        let quantity = rand::thread_rng().gen_range(1..=self.options.max_per_buyer);
        let body = json!({"event_id": self.event_id, "items": [{"category_id": self.category_id, "quantity": quantity}]});
        let (latency, status, text) = self.send(self.client.post(url).bearer_auth(&token).json(&body)).await;
        self.record(Kind::Hold, latency, status, &text);
        if status != Some(StatusCode::CREATED) {
            return;
        }
        let Some(booking_id) = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|booking| booking["id"].as_str().map(str::to_owned))
        else {
            return;
        };
        let (choice, pause, refunds) = {
            let mut random = rand::thread_rng();
            (random.gen::<f64>(), random.gen_range(Duration::ZERO..PAYING_TIME), random.gen::<f64>())
        };
        if choice < self.options.confirm_share {
            tokio::time::sleep(pause).await;
            let confirm = self
                .client
                .post(format!("{url}/{booking_id}/confirm"))
                .bearer_auth(&token)
                .json(&json!({"payment_token": "tok_ok"}));
            let (latency, status, text) = self.send(confirm).await;
            self.record(Kind::Confirm, latency, status, &text);
            if status != Some(StatusCode::OK) {
                return;
            }
            self.add_totals(i64::from(quantity), 0);
            if refunds < self.options.refund_share {
                tokio::time::sleep(pause.mul_f64(REFUND_AFTER.as_secs_f64() / PAYING_TIME.as_secs_f64()))
                    .await;
                let refund = self
                    .client
                    .post(format!("{url}/{booking_id}/cancel"))
                    .bearer_auth(&token)
                    .json(&json!({}));
                let (latency, status, text) = self.send(refund).await;
                self.record(Kind::Refund, latency, status, &text);
                if status == Some(StatusCode::OK) {
                    self.add_totals(-i64::from(quantity), 0);
                }
            }
        } else if choice < self.options.confirm_share + self.options.cancel_share {
            tokio::time::sleep(pause).await;
            let cancel =
                self.client.post(format!("{url}/{booking_id}/cancel")).bearer_auth(&token).json(&json!({}));
            let (latency, status, text) = self.send(cancel).await;
            self.record(Kind::Cancel, latency, status, &text);
        }
    }

    fn add_totals(&self, paid: i64, errors: u64) {
        let mut totals = self.totals.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        totals.0 = totals.0.saturating_add_signed(paid);
        totals.1 += errors;
    }

    /// Closes the current minute: its figures, with the latencies summed up.
    fn close_minute(&self, number: u32) -> Minute {
        let mut minute =
            std::mem::take(&mut *self.minute.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        minute.minute = number;
        let [p50, _, p99, max] = percentiles_ms(std::mem::take(&mut minute.hold_latencies_us));
        (minute.hold_p50_ms, minute.hold_p99_ms, minute.hold_max_ms) = (p50, p99, max);
        minute.confirm_p99_ms = percentiles_ms(std::mem::take(&mut minute.confirm_latencies_us))[2];
        self.add_totals(0, minute.errors);
        minute
    }
}

/// Runs the soak, printing each minute's line as it closes; returns the read-back.
pub async fn soak(options: &SoakOptions, settings: &Settings) -> anyhow::Result<Ending> {
    options.check()?;
    let base_urls: Vec<String> = if options.url.is_empty() {
        vec![format!("http://{}", settings.http_addr)]
    } else {
        options.url.iter().map(|url| url.trim_end_matches('/').to_owned()).collect()
    };
    let key = crate::token_key(settings)?;
    let client = Client::builder()
        .http1_only()
        .no_proxy()
        .pool_max_idle_per_host(options.concurrency)
        .pool_idle_timeout(crate::bench::IDLE_CONNECTION_TIMEOUT)
        .timeout(crate::bench::REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let api = Api { client: client.clone(), base_url: base_urls[0].clone() };
    let organizer = mint(&key, Role::Organizer)?;
    let sale_options = FlashSaleOptions {
        units: options.units,
        max_per_buyer: options.max_per_buyer,
        ..FlashSaleOptions::default()
    };
    let sale = create_sale(&api, &organizer, &sale_options).await?;
    let shared = Arc::new(Shared {
        client,
        bookings_urls: base_urls.iter().map(|url| format!("{url}/api/v1/bookings")).collect(),
        key,
        event_id: sale.event_id.clone(),
        category_id: sale.category_id.clone(),
        options: options.clone(),
        slots: Semaphore::new(options.concurrency),
        minute: Mutex::new(Minute::default()),
        totals: Mutex::new((0, 0)),
    });

    let started = tokio::time::Instant::now();
    let mut buyers = tokio::task::JoinSet::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(10));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent: u64 = 0;
    let mut minute_number = 1;
    let end = started + Duration::from_secs(u64::from(options.minutes) * 60);
    while tokio::time::Instant::now() < end {
        ticks.tick().await;
        let due = (started.elapsed().as_secs_f64() * f64::from(options.rate)) as u64;
        while sent < due {
            buyers.spawn(shared.clone().buyer(sent));
            sent += 1;
        }
        while buyers.try_join_next().is_some() {}
        if started.elapsed() >= Duration::from_secs(u64::from(minute_number) * 60) {
            println!("{}", serde_json::to_string(&shared.close_minute(minute_number))?);
            minute_number += 1;
        }
    }
    if minute_number <= options.minutes {
        println!("{}", serde_json::to_string(&shared.close_minute(minute_number))?);
    }
    // The buyers still paying or waiting to be refunded finish; their answers make one more
    // line, numbered after the last minute.
    while buyers.join_next().await.is_some() {}
    println!("{}", serde_json::to_string(&shared.close_minute(options.minutes + 1))?);

    let availability = api
        .call(
            Method::GET,
            &format!("/api/v1/events/{}/availability", sale.event_id),
            &organizer,
            None,
            StatusCode::OK,
        )
        .await?;
    let category = availability["categories"]
        .as_array()
        .and_then(|categories| categories.iter().find(|category| category["id"] == sale.category_id.as_str()))
        .context("the availability lists the event's category")?;
    let count = |field: &str| category[field].as_u64().with_context(|| format!("reading `{field}`"));
    let (sold, held, available) = (count("sold")?, count("held")?, count("available")?);
    let (paid_less_refunded, errors) = *shared.totals.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let capacity = u64::from(options.units);
    let mut problems = Vec::new();
    if sold + held + available != capacity {
        problems.push(format!(
            "sold {sold} + held {held} + available {available} is not the capacity {capacity}"
        ));
    }
    if errors == 0 && sold != paid_less_refunded {
        problems
            .push(format!("{sold} sold, but buyers were told of {paid_less_refunded} payments not refunded"));
    }
    Ok(Ending {
        capacity,
        sold,
        held,
        available,
        paid_less_refunded,
        errors,
        consistent: problems.is_empty(),
        problems,
    })
}
