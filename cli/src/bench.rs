//! `boxoffice bench flash-sale`: a load generator for the moment an on-sale opens.
//!
//! Setup happens before the clock starts: an organizer token and B customer tokens are minted
//! with the server's own signing key (read from the same configuration as `serve`), and a
//! published event with one category of N units is created over the public API. Minting is
//! deliberate: the gateway knows users only by the id in their token, and hashing 100,000
//! passwords (or logging in through the per-address rate limit) is not what is measured. The
//! organizer is minted too, so the tool needs no database access and can drive any deployment
//! whose key it holds; the event's `organizer_id` is then an id without an account row.
//!
//! Then every buyer tries, at once, to hold 1 to `max-per-buyer` tickets, with at most C
//! requests in flight; a share of the successful holds is confirmed with the test provider's
//! `tok_ok`. Finally the tool reads the event back over the API and checks the inventory
//! invariants: `sold + held + available = capacity`, the organizer's stats agree, the live
//! bookings add up to what is held and sold, and no seat is in two live bookings.
//!
//! For the fault runs (`scripts/faults`), `--rate` spreads the requests over time and
//! `--retries` has a buyer send a hold or payment that failed again, with the same
//! Idempotency-Key, as a real client would; the read-back then also checks every buyer: one
//! told their hold failed has no booking, one told it succeeded has it, and one told they paid
//! has a confirmed booking with its tickets.
//!
//! Why one file of about 1,000 lines: it is one run, read from top to bottom (options, setup,
//! the sale, the check, the report), and nothing else in the binary uses its parts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use boxoffice_auth::{Claims, TokenKey};
use boxoffice_config::Settings;
// The API's own limits, checked here so that a bad option fails before any setup.
use boxoffice_types::limits::events::{MAX_GENERAL_ADMISSION_CAPACITY, MAX_TICKETS_PER_BOOKING};
use boxoffice_types::limits::MAX_PAGE_SIZE;
use boxoffice_types::Role;
use rand::seq::SliceRandom as _;
use rand::Rng as _;
use reqwest::{Client, Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const DEFAULT_UNITS: u32 = 10_000;
pub const DEFAULT_BUYERS: u32 = 100_000;
pub const DEFAULT_CONCURRENCY: u32 = 256;
pub const DEFAULT_CONFIRM_SHARE: f64 = 0.1;
pub const DEFAULT_MAX_PER_BUYER: u32 = 4;
/// The largest venue, in the type of the options.
const MAX_SEATS_PER_VENUE_U32: u32 = boxoffice_types::limits::events::MAX_SEATS_PER_VENUE as u32;
/// The venue of a seated run: rows of at most this many seats...
pub const SEATS_PER_ROW: u32 = 100;
/// ...in sections of at most this many rows.
pub const ROWS_PER_SECTION: u32 = 50;
/// Far more buyers than this is a typo, and each costs a token in memory.
pub const MAX_BUYERS: u32 = 10_000_000;
/// More requests in flight than this exhausts the client's ports and file descriptors.
pub const MAX_CONCURRENCY: u32 = 10_000;
/// A request slower than this counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the generator keeps an idle connection to a gateway.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a buyer waits before sending a failed request again (`--retries`).
pub const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// More retries than this per request is a typo.
pub const MAX_RETRIES: u32 = 100;
/// How often the progress line on stderr is redrawn.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
/// Error descriptions kept for the report; the rest are only counted.
pub const MAX_ERROR_SAMPLES: usize = 5;
pub const PRICE_CENTS: u64 = 5_000;

/// The options of `boxoffice bench flash-sale`.
#[derive(Clone, Debug, clap::Args)]
pub struct FlashSaleOptions {
    /// The gateway's base URL; defaults to http://<BOXOFFICE_HTTP_ADDR>. Given again for each
    /// replica, the buyers are spread over them in turn (the sale is set up through the first).
    #[arg(long)]
    pub url: Vec<String>,
    /// Tickets on sale (general-admission units, or seats with --seated).
    #[arg(long, default_value_t = DEFAULT_UNITS)]
    pub units: u32,
    /// Buyers, each of whom tries one hold.
    #[arg(long, default_value_t = DEFAULT_BUYERS)]
    pub buyers: u32,
    /// Requests in flight at most.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: u32,
    /// Sell seats ("best available") instead of general-admission units.
    #[arg(long)]
    pub seated: bool,
    /// The share (0 to 1) of successful holds that are then paid for.
    #[arg(long, default_value_t = DEFAULT_CONFIRM_SHARE)]
    pub confirm_share: f64,
    /// Each buyer asks for 1 to this many tickets; also the event's max_tickets_per_booking.
    #[arg(long, default_value_t = DEFAULT_MAX_PER_BUYER)]
    pub max_per_buyer: u32,
    /// Print no progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Before the sale, measure the floor: as many requests of the same shape (a buyer's token,
    /// the same client, the same number in flight) to `GET /healthz`, which does no work. The
    /// attempts per second are then also given as a share of it: what the machine's HTTP stack
    /// and this generator allow at all.
    #[arg(long)]
    pub floor: bool,
    /// Start at most this many requests per second in each phase, spreading the sale over time
    /// (a fault run injects its fault while it lasts); unlimited when absent.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Send a hold or payment that got no answer or a 5xx again, after a pause, up to this many
    /// times. Holds then carry an Idempotency-Key, so that a retry returns the booking its
    /// first attempt made.
    #[arg(long, default_value_t = 0)]
    pub retries: u32,
}

impl Default for FlashSaleOptions {
    fn default() -> Self {
        FlashSaleOptions {
            url: Vec::new(),
            units: DEFAULT_UNITS,
            buyers: DEFAULT_BUYERS,
            concurrency: DEFAULT_CONCURRENCY,
            seated: false,
            confirm_share: DEFAULT_CONFIRM_SHARE,
            max_per_buyer: DEFAULT_MAX_PER_BUYER,
            quiet: false,
            floor: false,
            rate: None,
            retries: 0,
        }
    }
}

impl FlashSaleOptions {
    fn check(&self) -> anyhow::Result<()> {
        let max_units = if self.seated { MAX_SEATS_PER_VENUE_U32 } else { MAX_GENERAL_ADMISSION_CAPACITY };
        anyhow::ensure!((1..=max_units).contains(&self.units), "--units must be 1 to {max_units}");
        anyhow::ensure!((1..=MAX_BUYERS).contains(&self.buyers), "--buyers must be 1 to {MAX_BUYERS}");
        anyhow::ensure!(
            (1..=MAX_CONCURRENCY).contains(&self.concurrency),
            "--concurrency must be 1 to {MAX_CONCURRENCY}"
        );
        anyhow::ensure!((0.0..=1.0).contains(&self.confirm_share), "--confirm-share must be 0 to 1");
        anyhow::ensure!(self.rate.is_none_or(|rate| rate > 0), "--rate must be at least 1");
        anyhow::ensure!(self.retries <= MAX_RETRIES, "--retries must be 0 to {MAX_RETRIES}");
        anyhow::ensure!(
            (1..=MAX_TICKETS_PER_BOOKING).contains(&self.max_per_buyer),
            "--max-per-buyer must be 1 to {MAX_TICKETS_PER_BOOKING}"
        );
        Ok(())
    }
}

/// What a run measured and what the read-back found. [`Report::json_line`] is its machine form.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub url: String,
    pub event_id: String,
    pub seated: bool,
    pub buyers: u64,
    pub concurrency: u64,
    pub max_per_buyer: u64,
    pub confirm_share: f64,

    /// Hold requests sent: one per buyer.
    pub attempts: u64,
    pub hold_phase_s: f64,
    pub attempts_per_s: f64,
    /// Holds answered 201.
    pub holds: u64,
    pub holds_per_s: f64,
    /// Units in the holds answered 201.
    pub units_held_by_buyers: u64,
    /// Holds answered 409 `sold_out` or `seat_unavailable`.
    pub sold_out: u64,
    /// Latencies of every answered hold request, sold out or not.
    pub hold_p50_ms: f64,
    pub hold_p95_ms: f64,
    pub hold_p99_ms: f64,
    pub hold_max_ms: f64,

    pub confirm_attempts: u64,
    pub confirm_phase_s: f64,
    /// Confirmations answered 200.
    pub confirms: u64,
    pub confirms_per_s: f64,
    pub confirm_p50_ms: f64,
    pub confirm_p95_ms: f64,
    pub confirm_p99_ms: f64,
    pub confirm_max_ms: f64,

    /// Per request kind (`hold`, `confirm`), the number of answers with each HTTP status.
    pub status_counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// Requests whose last attempt got no answer (refused connection, timeout, broken body);
    /// and the attempts sent again (`--retries`).
    pub transport_errors: u64,
    pub retries: u64,
    /// Every answer other than 201/200 and 409 sold out, plus the transport errors.
    pub errors: u64,
    /// When the first and the last error came (seconds since the UNIX epoch), for the fault
    /// runs: how long clients saw errors.
    pub first_error_at: Option<f64>,
    pub last_error_at: Option<f64>,
    /// The same for every attempt that failed (a 5xx or no answer), the ones sent again too:
    /// how long clients met failures, whether a retry hid them or not.
    pub first_failure_at: Option<f64>,
    pub last_failure_at: Option<f64>,
    pub failure_samples: Vec<String>,
    /// Attempts answered with a 5xx, and attempts without an answer (a connection reset), the
    /// retried ones included.
    pub failed_answers: u64,
    pub failed_unanswered: u64,
    pub error_samples: Vec<String>,

    /// From the read-back: the category's capacity and its availability after the run.
    pub capacity: u64,
    pub sold: u64,
    pub held: u64,
    pub available: u64,
    /// Bookings of the event that are `pending` or `confirmed`.
    pub live_bookings: u64,
    /// Units (seats) that are in more than one live booking.
    pub duplicate_units: u64,
    /// `duplicate_units` plus the units beyond capacity that are held, sold or in live bookings.
    pub oversold: u64,
    /// True when the read-back found none of the `problems`.
    pub consistent: bool,
    pub problems: Vec<String>,

    /// With Kafka configured (`BOXOFFICE_KAFKA_BROKERS`): the run's `booking.held` and
    /// `booking.confirmed` events expected (one per hold and confirmation answered), how many
    /// distinct ones were read back from the bookings topic, and how long reading them back
    /// took once the run was over (a bound on how late the last one was).
    pub kafka_events_expected: Option<u64>,
    pub kafka_events_delivered: Option<u64>,
    pub kafka_read_back_s: Option<f64>,

    /// With `--floor`: `GET /healthz` answered per second by the same client, the same number of
    /// requests with the same concurrency, and the hold attempts per second as a share of it.
    pub floor_requests_per_s: Option<f64>,
    pub attempts_share_of_floor: Option<f64>,
}

impl Report {
    /// The whole report as one line of JSON.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }

    /// The report as a table for people.
    pub fn table(&self) -> String {
        let mode = if self.seated { "seats, best available" } else { "general admission" };
        let mut out = format!(
            "flash sale of event {}: {} units ({mode}), {} buyers asking for 1 to {} each, {} in flight\n",
            self.event_id, self.capacity, self.buyers, self.max_per_buyer, self.concurrency
        );
        out.push_str(&format!(
            "{:<8} {:>9} {:>9} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}\n",
            "phase", "requests", "ok", "seconds", "ok/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
        ));
        let rows = [
            (
                "hold",
                self.attempts,
                self.holds,
                self.hold_phase_s,
                self.holds_per_s,
                [self.hold_p50_ms, self.hold_p95_ms, self.hold_p99_ms, self.hold_max_ms],
            ),
            (
                "confirm",
                self.confirm_attempts,
                self.confirms,
                self.confirm_phase_s,
                self.confirms_per_s,
                [self.confirm_p50_ms, self.confirm_p95_ms, self.confirm_p99_ms, self.confirm_max_ms],
            ),
        ];
        for (phase, requests, ok, seconds, rate, [p50, p95, p99, max]) in rows {
            out.push_str(&format!(
                "{phase:<8} {requests:>9} {ok:>9} {seconds:>8.2} {rate:>10.1} {p50:>9.2} {p95:>9.2} {p99:>9.2} {max:>9.2}\n"
            ));
        }
        out.push_str(&format!(
            "hold attempts per second {:.1}; sold out {}; errors {} ({} attempts without an answer, {} sent again)\n",
            self.attempts_per_s, self.sold_out, self.errors, self.transport_errors, self.retries
        ));
        for sample in &self.error_samples {
            out.push_str(&format!("  e.g. {sample}\n"));
        }
        out.push_str(&format!(
            "read back: capacity {} = sold {} + held {} + available {}; {} live bookings; oversold {}\n",
            self.capacity, self.sold, self.held, self.available, self.live_bookings, self.oversold
        ));
        if let (Some(expected), Some(delivered)) = (self.kafka_events_expected, self.kafka_events_delivered) {
            out.push_str(&format!(
                "kafka: {delivered} of {expected} events delivered (read back within {:.2} s of the end)\n",
                self.kafka_read_back_s.unwrap_or_default()
            ));
        }
        if let (Some(floor), Some(share)) = (self.floor_requests_per_s, self.attempts_share_of_floor) {
            out.push_str(&format!(
                "floor: GET /healthz at {floor:.1} requests per second; the hold attempts are {:.1}% of it\n",
                share * 100.0
            ));
        }
        if self.consistent {
            out.push_str("consistent: yes\n");
        } else {
            out.push_str("consistent: NO\n");
            for problem in &self.problems {
                out.push_str(&format!("  {problem}\n"));
            }
        }
        out
    }
}

/// Runs a flash sale against the gateway at `options.url` (or the configured address) and
/// checks the outcome. The server must sign tokens with the key `settings` leads to.
pub async fn flash_sale(options: &FlashSaleOptions, settings: &Settings) -> anyhow::Result<Report> {
    options.check()?;
    let base_urls: Vec<String> = if options.url.is_empty() {
        vec![format!("http://{}", settings.http_addr)]
    } else {
        options.url.iter().map(|url| url.trim_end_matches('/').to_owned()).collect()
    };
    let base_url = base_urls[0].clone();
    if settings.jwt_secret.is_none() && settings.is_embedded() {
        // `token_key` would create a new secret here, which the server has never seen.
        let path = settings.data_dir.join(crate::TOKEN_SECRET_FILE);
        anyhow::ensure!(
            path.exists(),
            "{} does not exist: run the bench with the server's configuration (BOXOFFICE_DATA_DIR, \
             or BOXOFFICE_JWT_SECRET, or --config) so that it signs tokens with the server's secret",
            path.display()
        );
    }
    let key = crate::token_key(settings)?;
    // The generator shares the machine with the server in the published figures, so it keeps its
    // own cost per request down: HTTP/1 only, no proxy lookups, URLs parsed once, bodies written
    // as text.
    let client = Client::builder()
        .http1_only()
        .no_proxy()
        .pool_max_idle_per_host(options.concurrency as usize)
        // Shorter than a gateway's drain before it stops (boxoffice::DRAIN_BEFORE_STOP), as a
        // load balancer's keep-alive to its upstreams should be: no request then goes out on a
        // connection the gateway is closing.
        .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let api = Api { client: client.clone(), base_url: base_url.clone() };

    // ---- Setup, before the clock starts.
    let organizer = mint(&key, Role::Organizer)?;
    let sale = create_sale(&api, &organizer, options).await?;
    let buyers = options.buyers as usize;
    if !options.quiet {
        eprintln!("minting {buyers} buyer tokens");
    }
    let minted = tokio::task::spawn_blocking(move || mint_buyers(&key, buyers))
        .await
        .context("minting buyer tokens panicked")??;
    let (user_ids, tokens): (Vec<Uuid>, Vec<String>) = minted.into_iter().unzip();
    let quantities: Vec<u32> = {
        let mut random = rand::thread_rng();
        (0..buyers).map(|_| random.gen_range(1..=options.max_per_buyer)).collect()
    };
    let shared = Arc::new(Shared {
        client,
        bookings_urls: base_urls
            .iter()
            .map(|base_url| reqwest::Url::parse(&format!("{base_url}/api/v1/bookings")))
            .collect::<Result<_, _>>()
            .context("a gateway URL is not a URL")?,
        event_id: sale.event_id.clone(),
        category_id: sale.category_id.clone(),
        tokens,
        quantities,
        run: Uuid::now_v7(),
        retries: options.retries,
    });

    // ---- The floor: the same client, shape and concurrency against an endpoint that does no
    // work.
    let floor = if options.floor {
        let floor_shared = shared.clone();
        let (tally, elapsed) = in_parallel(options, buyers, "floor", move |index| {
            let shared = floor_shared.clone();
            async move { shared.health(index).await }
        })
        .await?;
        anyhow::ensure!(tally.errors == 0, "the floor's /healthz requests failed: {:?}", tally.error_samples);
        Some(rate(buyers as u64, elapsed.as_secs_f64()))
    } else {
        None
    };

    // ---- The on-sale opens: every buyer at once.
    let hold_shared = shared.clone();
    let (holds, hold_elapsed) = in_parallel(options, buyers, "hold", move |index| {
        let shared = hold_shared.clone();
        async move { shared.hold(index).await }
    })
    .await?;

    // ---- A share of the buyers pays.
    let mut to_confirm: Vec<(usize, String)> =
        holds.successes.iter().map(|success| (success.index, success.booking_id.clone())).collect();
    to_confirm.shuffle(&mut rand::thread_rng());
    let confirm_count = ((to_confirm.len() as f64) * options.confirm_share).round() as usize;
    to_confirm.truncate(confirm_count);
    let to_confirm = Arc::new(to_confirm);
    let confirm_shared = shared.clone();
    let (confirms, confirm_elapsed) = in_parallel(options, confirm_count, "confirm", move |position| {
        let shared = confirm_shared.clone();
        let (buyer, booking_id) = to_confirm[position].clone();
        async move { shared.confirm(buyer, &booking_id).await }
    })
    .await?;

    // ---- Read back and check.
    let check = check_inventory(&api, &organizer, &sale, options, &user_ids, &holds, &confirms).await?;
    let kafka = match &settings.kafka_brokers {
        Some(brokers) => {
            let bookings: HashSet<String> =
                holds.successes.iter().map(|success| success.booking_id.clone()).collect();
            let expected = (holds.successes.len() + confirms.successes.len()) as u64;
            let topic = &settings.kafka_topic_bookings;
            Some((expected, count_kafka_events(brokers, topic, &bookings, expected).await?))
        }
        None => None,
    };
    let mut problems = check.problems;
    if let Some((expected, (delivered, _))) = kafka {
        if delivered < expected {
            problems.push(format!("only {delivered} of the run's {expected} domain events reached Kafka"));
        }
    }

    let hold_s = hold_elapsed.as_secs_f64();
    let confirm_s = confirm_elapsed.as_secs_f64();
    let [hold_p50_ms, hold_p95_ms, hold_p99_ms, hold_max_ms] = percentiles_ms(holds.latencies_us.clone());
    let [confirm_p50_ms, confirm_p95_ms, confirm_p99_ms, confirm_max_ms] =
        percentiles_ms(confirms.latencies_us.clone());
    let status_counts = [("hold", &holds), ("confirm", &confirms)]
        .into_iter()
        .map(|(kind, tally)| {
            let counts = tally.status_counts.iter().map(|(status, n)| (status.to_string(), *n)).collect();
            (kind.to_owned(), counts)
        })
        .collect();
    let errors_between = spanning(holds.errors_between, confirms.errors_between);
    let failed_between = spanning(holds.failed_between, confirms.failed_between);
    let mut failure_samples = holds.failure_samples.clone();
    failure_samples.extend(confirms.failure_samples.iter().cloned());
    failure_samples.truncate(MAX_ERROR_SAMPLES);
    let mut error_samples = holds.error_samples.clone();
    error_samples.extend(confirms.error_samples.iter().cloned());
    error_samples.truncate(MAX_ERROR_SAMPLES);
    let attempts = buyers as u64;
    Ok(Report {
        url: base_url,
        event_id: sale.event_id,
        seated: options.seated,
        buyers: attempts,
        concurrency: options.concurrency.into(),
        max_per_buyer: options.max_per_buyer.into(),
        confirm_share: options.confirm_share,
        attempts,
        hold_phase_s: round3(hold_s),
        attempts_per_s: rate(attempts, hold_s),
        holds: holds.successes.len() as u64,
        holds_per_s: rate(holds.successes.len() as u64, hold_s),
        units_held_by_buyers: holds.success_units(),
        sold_out: holds.sold_out,
        hold_p50_ms,
        hold_p95_ms,
        hold_p99_ms,
        hold_max_ms,
        confirm_attempts: confirm_count as u64,
        confirm_phase_s: round3(confirm_s),
        confirms: confirms.successes.len() as u64,
        confirms_per_s: rate(confirms.successes.len() as u64, confirm_s),
        confirm_p50_ms,
        confirm_p95_ms,
        confirm_p99_ms,
        confirm_max_ms,
        status_counts,
        transport_errors: holds.transport_errors + confirms.transport_errors,
        retries: holds.retries + confirms.retries,
        errors: holds.errors + confirms.errors,
        first_error_at: errors_between.map(|(first, _)| unix_seconds(first)),
        last_error_at: errors_between.map(|(_, last)| unix_seconds(last)),
        first_failure_at: failed_between.map(|(first, _)| unix_seconds(first)),
        last_failure_at: failed_between.map(|(_, last)| unix_seconds(last)),
        failure_samples,
        failed_answers: holds.failed_answers + confirms.failed_answers,
        failed_unanswered: holds.failed_unanswered + confirms.failed_unanswered,
        error_samples,
        capacity: sale.capacity,
        sold: check.sold,
        held: check.held,
        available: check.available,
        live_bookings: check.live_bookings,
        duplicate_units: check.duplicate_units,
        oversold: check.oversold,
        consistent: problems.is_empty(),
        problems,
        kafka_events_expected: kafka.map(|(expected, _)| expected),
        kafka_events_delivered: kafka.map(|(_, (delivered, _))| delivered),
        kafka_read_back_s: kafka.map(|(_, (_, lag))| round3(lag)),
        floor_requests_per_s: floor,
        attempts_share_of_floor: floor.map(|floor| round3(rate(attempts, hold_s) / floor)),
    })
}

/// How long the tool waits for a run's domain events on Kafka.
const KAFKA_WAIT: Duration = Duration::from_secs(120);

/// Reads the bookings topic from its beginning until `expected` distinct events of `bookings`
/// have arrived (or [`KAFKA_WAIT`] passes): how many did, and the seconds it took.
async fn count_kafka_events(
    brokers: &str,
    topic: &str,
    bookings: &HashSet<String>,
    expected: u64,
) -> anyhow::Result<(u64, f64)> {
    use boxoffice_outbox::event_type::{BOOKING_CONFIRMED, BOOKING_HELD};
    use rdkafka::consumer::{Consumer as _, StreamConsumer};
    use rdkafka::Message as _;
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("boxoffice-bench-{}", Uuid::now_v7()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[topic])?;
    let started = Instant::now();
    let mut seen = HashSet::new();
    while (seen.len() as u64) < expected && started.elapsed() < KAFKA_WAIT {
        let Ok(message) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await else {
            continue;
        };
        // A broker that is away for a moment (restarting, busy) is waited for, until KAFKA_WAIT.
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "reading the bookings topic back fails; trying again");
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        let key = message.key().map(String::from_utf8_lossy).unwrap_or_default();
        if !bookings.contains(key.as_ref()) {
            continue;
        }
        let envelope: boxoffice_proto::domain::Envelope =
            prost::Message::decode(message.payload().unwrap_or_default())?;
        if envelope.r#type == BOOKING_HELD || envelope.r#type == BOOKING_CONFIRMED {
            seen.insert(envelope.event_id);
        }
    }
    Ok((seen.len() as u64, started.elapsed().as_secs_f64()))
}

pub(crate) fn mint(key: &TokenKey, role: Role) -> anyhow::Result<String> {
    mint_as(key, Uuid::now_v7(), role)
}

/// A token for `user_id`, in a session of its own.
pub(crate) fn mint_as(key: &TokenKey, user_id: Uuid, role: Role) -> anyhow::Result<String> {
    key.sign(&Claims::new(user_id, role, Uuid::now_v7(), chrono::Utc::now()))
}

/// `count` customer tokens, signed on every core.
pub(crate) fn mint_customers(key: &TokenKey, count: usize) -> anyhow::Result<Vec<String>> {
    Ok(mint_buyers(key, count)?.into_iter().map(|(_, token)| token).collect())
}

/// `count` customers, each a new user id and its token, signed on every core.
fn mint_buyers(key: &TokenKey, count: usize) -> anyhow::Result<Vec<(Uuid, String)>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, count.max(1));
    let chunk = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let mine = chunk.min(count.saturating_sub(thread * chunk));
                scope.spawn(move || {
                    (0..mine)
                        .map(|_| {
                            let user_id = Uuid::now_v7();
                            Ok((user_id, mint_as(key, user_id, Role::Customer)?))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut tokens = Vec::with_capacity(count);
        for handle in handles {
            tokens.extend(handle.join().map_err(|_| anyhow::anyhow!("a minting thread panicked"))??);
        }
        Ok(tokens)
    })
}

/// The public API, for setup and read-back: any answer but the expected one is an error.
pub(crate) struct Api {
    pub(crate) client: Client,
    pub(crate) base_url: String,
}

impl Api {
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let mut request =
            self.client.request(method.clone(), format!("{}{path}", self.base_url)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("sending {method} {path}"))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("reading the answer to {method} {path}"))?;
        if status == StatusCode::UNAUTHORIZED {
            anyhow::bail!(
                "{method} {path} answers 401: the server does not accept tokens signed with this \
                 configuration's key; run the bench with the same configuration as `serve` ({text})"
            );
        }
        anyhow::ensure!(status == expected, "{method} {path} answers {status}: {text}");
        serde_json::from_str(&text).with_context(|| format!("reading the JSON answer to {method} {path}"))
    }
}

/// The event on sale.
pub(crate) struct Sale {
    pub(crate) event_id: String,
    pub(crate) category_id: String,
    capacity: u64,
}

pub(crate) async fn create_sale(
    api: &Api,
    organizer: &str,
    options: &FlashSaleOptions,
) -> anyhow::Result<Sale> {
    let starts_at = chrono::Utc::now() + chrono::Duration::days(30);
    let ends_at = starts_at + chrono::Duration::hours(3);
    let time = |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut event = json!({
        "name": format!("Flash sale {}", Uuid::now_v7().simple()),
        "description": "Created by boxoffice bench flash-sale",
        "city": "Benchville",
        "starts_at": time(starts_at),
        "ends_at": time(ends_at),
        "max_tickets_per_booking": options.max_per_buyer,
    });
    if options.seated {
        let sections = seated_layout(options.units);
        let names: Vec<Value> = sections.iter().map(|section| section["name"].clone()).collect();
        let venue = json!({
            "name": "Flash Sale Arena",
            "city": "Benchville",
            "address": "1 Load Street",
            "sections": sections,
        });
        let venue =
            api.call(Method::POST, "/api/v1/venues", organizer, Some(venue), StatusCode::CREATED).await?;
        event["venue_id"] = venue["id"].clone();
        event["categories"] =
            json!([{"name": "Seats", "price_cents": PRICE_CENTS, "currency": "EUR", "sections": names}]);
    } else {
        event["categories"] = json!([{
            "name": "Standing", "price_cents": PRICE_CENTS, "currency": "EUR", "capacity": options.units,
        }]);
    }
    let event = api.call(Method::POST, "/api/v1/events", organizer, Some(event), StatusCode::CREATED).await?;
    let event_id = event["id"].as_str().context("the created event has an id")?.to_owned();
    let category = &event["categories"][0];
    let category_id = category["id"].as_str().context("the created event has a category")?.to_owned();
    let capacity = category["capacity"].as_u64().context("the created category has a capacity")?;
    anyhow::ensure!(
        capacity == u64::from(options.units),
        "the event was created with {capacity} units instead of {}",
        options.units
    );
    let path = format!("/api/v1/events/{event_id}/publish");
    api.call(Method::POST, &path, organizer, Some(json!({})), StatusCode::OK).await?;
    Ok(Sale { event_id, category_id, capacity })
}

/// Sections of at most [`ROWS_PER_SECTION`] rows of at most [`SEATS_PER_ROW`] seats, `seats`
/// in all.
fn seated_layout(seats: u32) -> Vec<Value> {
    let rows: Vec<u32> = (0..seats.div_ceil(SEATS_PER_ROW))
        .map(|row| (seats - row * SEATS_PER_ROW).min(SEATS_PER_ROW))
        .collect();
    rows.chunks(ROWS_PER_SECTION as usize)
        .enumerate()
        .map(|(section, rows)| {
            let rows: Vec<Value> = rows
                .iter()
                .enumerate()
                .map(|(row, seats)| json!({"label": format!("R{}", row + 1), "seats": seats}))
                .collect();
            json!({"name": format!("S{}", section + 1), "rows": rows})
        })
        .collect()
}

/// What the load phases share: the client, the buyers and what each asks for.
struct Shared {
    client: Client,
    /// Of each gateway; buyer `i` goes through gateway `i % len`.
    bookings_urls: Vec<reqwest::Url>,
    event_id: String,
    category_id: String,
    tokens: Vec<String>,
    quantities: Vec<u32>,
    /// This run's id, in the Idempotency-Keys of its holds.
    run: Uuid,
    /// How often a failed request is sent again.
    retries: u32,
}

impl Shared {
    /// The bookings URL of the gateway `turns` after the buyer's own (0: the buyer's own).
    fn bookings_url_after(&self, buyer: usize, turns: usize) -> &reqwest::Url {
        &self.bookings_urls[(buyer + turns) % self.bookings_urls.len()]
    }

    /// One request of the floor: `GET /healthz` with the buyer's token, on the buyer's gateway.
    async fn health(&self, buyer: usize) -> Answer {
        let mut url = self.bookings_url_after(buyer, 0).clone();
        url.set_path("/healthz");
        let request = self.client.get(url).bearer_auth(&self.tokens[buyer]);
        match send(request).await {
            Ok((latency, StatusCode::OK, _)) => {
                Answer::new(buyer, latency, StatusCode::OK, Outcome::Answered)
            }
            Ok((latency, status, body)) => {
                Answer::new(buyer, latency, status, Outcome::Error(format!("floor: {status} {body}")))
            }
            Err(error) => Answer::transport(buyer, "floor", error),
        }
    }

    /// `attempt` until it is answered with anything but a 5xx, or the retries are spent; the
    /// latency is the buyer's, from the first attempt to the last answer. An attempt whose
    /// connection a gateway refused (so it surely never arrived) goes to the next gateway at
    /// once, as a load balancer would send it, and counts as no retry.
    async fn with_retries<F, Fut>(&self, attempt: F) -> Answer
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Answer>,
    {
        let started = Instant::now();
        let mut retried = 0;
        let mut turns = 0;
        let mut failed_between = None;
        let mut failure_sample = None;
        let (mut failed_answers, mut failed_unanswered) = (0, 0);
        loop {
            let mut answer = attempt(turns).await;
            if answer.refused && turns % self.bookings_urls.len() + 1 < self.bookings_urls.len() {
                turns += 1;
                continue;
            }
            let failed = answer.status.is_none_or(|status| status.is_server_error());
            if failed {
                match answer.status {
                    Some(_) => failed_answers += 1,
                    None => failed_unanswered += 1,
                }
                let now = SystemTime::now();
                failed_between = spanning(failed_between, Some((now, now)));
                if let (None, Outcome::Error(description)) = (&failure_sample, &answer.outcome) {
                    failure_sample = Some(description.clone());
                }
            }
            if failed && retried < self.retries {
                retried += 1;
                turns = turns - turns % self.bookings_urls.len() + self.bookings_urls.len();
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            answer.retried = retried;
            answer.failed_between = failed_between;
            answer.failure_sample = failure_sample;
            answer.failed = (failed_answers, failed_unanswered);
            if retried > 0 && answer.latency.is_some() {
                answer.latency = Some(started.elapsed());
            }
            return answer;
        }
    }

    async fn hold(&self, buyer: usize) -> Answer {
        self.with_retries(|turns| self.hold_once(buyer, turns)).await
    }

    async fn hold_once(&self, buyer: usize, turns: usize) -> Answer {
        let quantity = self.quantities[buyer];
        // Ids are UUIDs, so the body needs no escaping.
        let body = format!(
            r#"{{"event_id":"{}","items":[{{"category_id":"{}","quantity":{quantity}}}]}}"#,
            self.event_id, self.category_id
        );
        let mut request = self
            .client
            .post(self.bookings_url_after(buyer, turns).clone())
            .bearer_auth(&self.tokens[buyer])
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if self.retries > 0 {
            request = request.header("idempotency-key", format!("{}-{buyer}", self.run));
        }
        let (latency, status, body) = match send(request).await {
            Ok(answer) => answer,
            Err(error) => return Answer::transport(buyer, "hold", error),
        };
        let outcome = match status {
            StatusCode::CREATED => match body["id"].as_str() {
                Some(id) => Outcome::Success(Success { index: buyer, booking_id: id.to_owned(), quantity }),
                None => Outcome::Error(format!("hold: 201 without a booking id: {body}")),
            },
            StatusCode::CONFLICT
                if matches!(body["code"].as_str(), Some("sold_out" | "seat_unavailable")) =>
            {
                Outcome::SoldOut { quantity }
            }
            _ => Outcome::Error(format!("hold: {status} {body}")),
        };
        Answer::new(buyer, latency, status, outcome)
    }

    async fn confirm(&self, buyer: usize, booking_id: &str) -> Answer {
        self.with_retries(|turns| self.confirm_once(buyer, booking_id, turns)).await
    }

    async fn confirm_once(&self, buyer: usize, booking_id: &str, turns: usize) -> Answer {
        let base = self.bookings_url_after(buyer, turns).as_str().trim_end_matches('/');
        let url = format!("{base}/{booking_id}/confirm");
        let request =
            self.client.post(url).bearer_auth(&self.tokens[buyer]).json(&json!({"payment_token": "tok_ok"}));
        let (latency, status, body) = match send(request).await {
            Ok(answer) => answer,
            Err(error) => return Answer::transport(buyer, "confirm", error),
        };
        let outcome = if status == StatusCode::OK && body["status"] == "confirmed" {
            let quantity = self.quantities[buyer];
            Outcome::Success(Success { index: buyer, booking_id: booking_id.to_owned(), quantity })
        } else {
            Outcome::Error(format!("confirm: {status} {body}"))
        };
        Answer::new(buyer, latency, status, outcome)
    }
}

/// Sends `request` and reads the whole answer; the latency includes the body.
async fn send(request: reqwest::RequestBuilder) -> Result<(Duration, StatusCode, Value), reqwest::Error> {
    let started = Instant::now();
    let response = request.send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    let latency = started.elapsed();
    // A body that is not JSON is kept as a string, for the error sample.
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok((latency, status, body))
}

/// One request's result.
struct Answer {
    buyer: usize,
    /// `None` when no answer came.
    latency: Option<Duration>,
    status: Option<StatusCode>,
    outcome: Outcome,
    /// How often it was sent again before this answer.
    retried: u32,
    /// The gateway refused the connection: the request never arrived.
    refused: bool,
    /// When the first and the last of its attempts that failed (a 5xx or no answer) ended, and
    /// what the first said.
    failed_between: Option<(SystemTime, SystemTime)>,
    failure_sample: Option<String>,
    /// Its attempts answered with a 5xx, and those that got no answer.
    failed: (u64, u64),
}

impl Answer {
    fn new(buyer: usize, latency: Duration, status: StatusCode, outcome: Outcome) -> Answer {
        Answer {
            buyer,
            latency: Some(latency),
            status: Some(status),
            outcome,
            retried: 0,
            refused: false,
            failed_between: None,
            failure_sample: None,
            failed: (0, 0),
        }
    }

    fn transport(buyer: usize, kind: &str, error: reqwest::Error) -> Answer {
        Answer {
            buyer,
            latency: None,
            status: None,
            refused: error.is_connect(),
            outcome: Outcome::Error(format!("{kind}: no answer: {}", boxoffice_errors::with_causes(&error))),
            retried: 0,
            failed_between: None,
            failure_sample: None,
            failed: (0, 0),
        }
    }
}

/// What a buyer was last told of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Told {
    Success,
    SoldOut,
    /// An answer saying it failed: nothing may have been done.
    Failed,
    /// No answer: it may or may not have been done.
    Nothing,
}

enum Outcome {
    Success(Success),
    /// Answered as expected, with nothing to keep (the floor's requests).
    Answered,
    SoldOut {
        quantity: u32,
    },
    Error(String),
}

struct Success {
    /// The buyer, or for confirmations too the buyer who holds the booking.
    index: usize,
    booking_id: String,
    quantity: u32,
}

/// The results of one phase, kept per worker and merged at the end.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    status_counts: BTreeMap<u16, u64>,
    successes: Vec<Success>,
    sold_out: u64,
    /// The smallest quantity refused as sold out: availability only shrinks during the run, so
    /// fewer units than this must be left at the end, or a refusal was wrong.
    min_sold_out_quantity: Option<u32>,
    transport_errors: u64,
    retries: u64,
    errors: u64,
    error_samples: Vec<String>,
    /// What each buyer was last told.
    told: Vec<(usize, Told)>,
    /// When the first and the last error were recorded.
    errors_between: Option<(SystemTime, SystemTime)>,
    /// When the first and the last attempt that failed ended, retried or not, and what some said.
    failed_between: Option<(SystemTime, SystemTime)>,
    failure_samples: Vec<String>,
    failed_answers: u64,
    failed_unanswered: u64,
}

impl Tally {
    fn record(&mut self, answer: Answer) {
        if let Some(latency) = answer.latency {
            self.latencies_us.push(latency.as_micros().try_into().unwrap_or(u64::MAX));
        }
        match answer.status {
            Some(status) => *self.status_counts.entry(status.as_u16()).or_default() += 1,
            None => self.transport_errors += 1,
        }
        self.retries += u64::from(answer.retried);
        self.failed_between = spanning(self.failed_between, answer.failed_between);
        self.failed_answers += answer.failed.0;
        self.failed_unanswered += answer.failed.1;
        if let Some(sample) = answer.failure_sample {
            if self.failure_samples.len() < MAX_ERROR_SAMPLES {
                self.failure_samples.push(sample);
            }
        }
        let told = match (&answer.outcome, answer.status) {
            (Outcome::Success(_) | Outcome::Answered, _) => Told::Success,
            (Outcome::SoldOut { .. }, _) => Told::SoldOut,
            (Outcome::Error(_), Some(_)) => Told::Failed,
            (Outcome::Error(_), None) => Told::Nothing,
        };
        self.told.push((answer.buyer, told));
        match answer.outcome {
            Outcome::Success(success) => self.successes.push(success),
            Outcome::Answered => {}
            Outcome::SoldOut { quantity } => {
                self.sold_out += 1;
                self.min_sold_out_quantity =
                    Some(self.min_sold_out_quantity.map_or(quantity, |q| q.min(quantity)));
            }
            Outcome::Error(description) => {
                self.errors += 1;
                let now = SystemTime::now();
                self.errors_between = Some(self.errors_between.map_or((now, now), |(first, _)| (first, now)));
                if self.error_samples.len() < MAX_ERROR_SAMPLES {
                    self.error_samples.push(description);
                }
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        for (status, count) in other.status_counts {
            *self.status_counts.entry(status).or_default() += count;
        }
        self.successes.extend(other.successes);
        self.sold_out += other.sold_out;
        self.min_sold_out_quantity = match (self.min_sold_out_quantity, other.min_sold_out_quantity) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.transport_errors += other.transport_errors;
        self.retries += other.retries;
        self.errors += other.errors;
        self.told.extend(other.told);
        self.errors_between = spanning(self.errors_between, other.errors_between);
        self.failed_between = spanning(self.failed_between, other.failed_between);
        self.failed_answers += other.failed_answers;
        self.failed_unanswered += other.failed_unanswered;
        let room = MAX_ERROR_SAMPLES.saturating_sub(self.failure_samples.len());
        self.failure_samples.extend(other.failure_samples.into_iter().take(room));
        let room = MAX_ERROR_SAMPLES.saturating_sub(self.error_samples.len());
        self.error_samples.extend(other.error_samples.into_iter().take(room));
    }

    fn success_units(&self) -> u64 {
        self.successes.iter().map(|success| u64::from(success.quantity)).sum()
    }
}

/// Runs `job(0..total)` with at most `options.concurrency` jobs in flight and returns the
/// merged results and the time from the first request to the last answer. Each worker takes the
/// next index until none is left, so the workers start together and stay busy.
async fn in_parallel<F, Fut>(
    options: &FlashSaleOptions,
    total: usize,
    phase: &'static str,
    job: F,
) -> anyhow::Result<(Tally, Duration)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Answer> + Send,
{
    let workers = (options.concurrency as usize).min(total);
    let job = Arc::new(job);
    // With --rate, request `i` starts no earlier than i / rate seconds after the first.
    let pace = options.rate.map(|rate| Duration::from_secs_f64(1.0 / f64::from(rate)));
    let epoch = Arc::new(std::sync::OnceLock::new());
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    // The workers wait for each other, so that the first requests leave at one moment.
    let start = Arc::new(Barrier::new(workers + 1));
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let (job, next, done, start, epoch) =
            (job.clone(), next.clone(), done.clone(), start.clone(), epoch.clone());
        tasks.spawn(async move {
            start.wait().await;
            let epoch = *epoch.get_or_init(tokio::time::Instant::now);
            let mut tally = Tally::default();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return tally;
                }
                if let Some(pace) = pace {
                    tokio::time::sleep_until(epoch + pace.mul_f64(index as f64)).await;
                }
                tally.record(job(index).await);
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    start.wait().await;
    let started = Instant::now();
    let stop_progress = CancellationToken::new();
    let progress = (!options.quiet && total > 0)
        .then(|| tokio::spawn(show_progress(phase, total, done.clone(), started, stop_progress.clone())));
    let mut merged = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        merged.merge(joined.with_context(|| format!("a {phase} worker panicked"))?);
    }
    let elapsed = started.elapsed();
    stop_progress.cancel();
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    Ok((merged, elapsed))
}

/// Redraws one line on stderr until `stop`, then ends it.
async fn show_progress(
    phase: &'static str,
    total: usize,
    done: Arc<AtomicU64>,
    started: Instant,
    stop: CancellationToken,
) {
    use std::io::Write as _;
    let mut ticks = tokio::time::interval(PROGRESS_INTERVAL);
    loop {
        let stopping = tokio::select! {
            _ = ticks.tick() => false,
            _ = stop.cancelled() => true,
        };
        let count = done.load(Ordering::Relaxed);
        let per_s = rate(count, started.elapsed().as_secs_f64());
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{phase}: {count}/{total} done, {per_s:.0}/s   ");
        if stopping {
            let _ = writeln!(stderr);
            return;
        }
        let _ = stderr.flush();
    }
}

/// What the read-back found.
struct Check {
    sold: u64,
    held: u64,
    available: u64,
    live_bookings: u64,
    duplicate_units: u64,
    oversold: u64,
    problems: Vec<String>,
}

async fn check_inventory(
    api: &Api,
    organizer: &str,
    sale: &Sale,
    options: &FlashSaleOptions,
    user_ids: &[Uuid],
    holds: &Tally,
    confirms: &Tally,
) -> anyhow::Result<Check> {
    let mut problems = Vec::new();
    let event_path = format!("/api/v1/events/{}", sale.event_id);
    let capacity = sale.capacity;

    let availability =
        api.call(Method::GET, &format!("{event_path}/availability"), organizer, None, StatusCode::OK).await?;
    let category = availability["categories"]
        .as_array()
        .and_then(|categories| categories.iter().find(|category| category["id"] == sale.category_id.as_str()))
        .context("the availability lists the event's category")?;
    let count =
        |value: &Value, field: &str| value[field].as_u64().with_context(|| format!("reading `{field}`"));
    let (sold, held, available) =
        (count(category, "sold")?, count(category, "held")?, count(category, "available")?);
    if sold + held + available != capacity {
        problems.push(format!(
            "availability: sold {sold} + held {held} + available {available} != capacity {capacity}"
        ));
    }
    if options.seated {
        let mut statuses: HashMap<String, u64> = HashMap::new();
        for seat in availability["seats"].as_array().into_iter().flatten() {
            *statuses.entry(seat["status"].as_str().unwrap_or("unknown").to_owned()).or_default() += 1;
        }
        let seat_count = |status: &str| statuses.get(status).copied().unwrap_or(0);
        let seats = (seat_count("sold"), seat_count("held"), seat_count("available"));
        if seats != (sold, held, available) {
            problems.push(format!(
                "availability: the seat map shows (sold, held, available) {seats:?}, the category ({sold}, {held}, {available})"
            ));
        }
    }

    let stats =
        api.call(Method::GET, &format!("{event_path}/stats"), organizer, None, StatusCode::OK).await?;
    let stats_counts = (count(&stats, "sold")?, count(&stats, "held")?, count(&stats, "available")?);
    if stats_counts != (sold, held, available) {
        problems.push(format!(
            "stats: (sold, held, available) {stats_counts:?} differ from the availability ({sold}, {held}, {available})"
        ));
    }
    let revenue_cents = stats["revenue_cents"].as_u64().context("reading `revenue_cents`")?;
    if revenue_cents != sold * PRICE_CENTS {
        problems.push(format!("stats: revenue {revenue_cents} cents for {sold} tickets at {PRICE_CENTS}"));
    }

    // Every booking of the event: the live ones must add up to what is held and sold.
    let mut cursor: Option<String> = None;
    let (mut live_bookings, mut confirmed_bookings, mut pending_units, mut confirmed_units) = (0, 0, 0, 0);
    let mut seat_owners: HashMap<String, u64> = HashMap::new();
    // Per buyer: every booking of theirs, in any status.
    let mut of_buyer: HashMap<Uuid, Vec<Recorded>> = HashMap::new();
    loop {
        let mut path = format!("{event_path}/bookings?limit={MAX_PAGE_SIZE}");
        if let Some(cursor) = &cursor {
            path.push_str("&cursor=");
            path.push_str(&percent_encoded(cursor));
        }
        let page = api.call(Method::GET, &path, organizer, None, StatusCode::OK).await?;
        for booking in page["items"].as_array().context("a bookings page has items")? {
            let status = booking["status"].as_str().unwrap_or_default();
            let units: u64 = booking["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| item["quantity"].as_u64().unwrap_or(0))
                .sum();
            if let Some(user_id) = booking["user_id"].as_str().and_then(|id| Uuid::parse_str(id).ok()) {
                of_buyer.entry(user_id).or_default().push(Recorded {
                    status: status.to_owned(),
                    units,
                    tickets: booking["tickets"].as_array().map_or(0, Vec::len) as u64,
                });
            }
            if status != "pending" && status != "confirmed" {
                continue;
            }
            live_bookings += 1;
            if status == "confirmed" {
                confirmed_bookings += 1;
                confirmed_units += units;
            } else {
                pending_units += units;
            }
            let seats = booking["seats"].as_array().map_or(&[][..], Vec::as_slice);
            if options.seated && seats.len() as u64 != units {
                problems.push(format!(
                    "booking {}: {} seats for {units} tickets",
                    booking["id"],
                    seats.len()
                ));
            }
            for seat in seats {
                *seat_owners.entry(seat.as_str().unwrap_or_default().to_owned()).or_default() += 1;
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let duplicate_units = seat_owners.values().filter(|&&owners| owners > 1).count() as u64;
    if duplicate_units > 0 {
        problems.push(format!("{duplicate_units} seats are in more than one live booking"));
    }
    if (pending_units, confirmed_units) != (held, sold) {
        problems.push(format!(
            "live bookings hold {pending_units} and sold {confirmed_units} units; the availability says {held} and {sold}"
        ));
    }

    // What the buyers were told must match what the server recorded. A request without an
    // answer may or may not have taken effect, so this is checked only when every one had one.
    let holds_count = holds.successes.len() as u64;
    let confirms_count = confirms.successes.len() as u64;
    if holds.errors + confirms.errors == 0 {
        let confirmed_by_buyers = confirms.success_units();
        let held_by_buyers = holds.success_units() - confirmed_by_buyers;
        if (live_bookings, confirmed_bookings) != (holds_count, confirms_count) {
            problems.push(format!(
                "{live_bookings} live and {confirmed_bookings} confirmed bookings after {holds_count} holds and {confirms_count} confirmations"
            ));
        }
        if (held, sold) != (held_by_buyers, confirmed_by_buyers) {
            problems.push(format!(
                "buyers hold {held_by_buyers} and bought {confirmed_by_buyers} units; the availability says {held} and {sold}"
            ));
        }
    }
    problems.extend(check_buyers(user_ids, &of_buyer, holds, confirms));
    // Availability only shrinks while no request fails (a failed hold gives its units back).
    if let Some(quantity) = holds.min_sold_out_quantity.filter(|_| holds.errors + confirms.errors == 0) {
        if available >= u64::from(quantity) {
            problems.push(format!(
                "a hold of {quantity} was refused as sold out, yet {available} units are still available"
            ));
        }
    }

    let in_use = (sold + held).max(pending_units + confirmed_units);
    let oversold = duplicate_units + in_use.saturating_sub(capacity);
    Ok(Check { sold, held, available, live_bookings, duplicate_units, oversold, problems })
}

/// One booking of a buyer, as the organizer's list shows it.
struct Recorded {
    status: String,
    units: u64,
    tickets: u64,
}

/// What each buyer was told against what the server recorded: a buyer told their hold failed
/// (an answer, not a lost connection) has no booking at all; one told it succeeded has exactly
/// one, live; one told they paid has it confirmed, with a ticket per unit; no one else has one.
fn check_buyers(
    user_ids: &[Uuid],
    recorded: &HashMap<Uuid, Vec<Recorded>>,
    holds: &Tally,
    confirms: &Tally,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut found = |problem: String| {
        if problems.len() < MAX_ERROR_SAMPLES {
            problems.push(problem);
        }
    };
    let bookings_of = |buyer: usize| recorded.get(&user_ids[buyer]).map_or(&[][..], Vec::as_slice);
    for &(buyer, told) in &holds.told {
        let bookings = bookings_of(buyer);
        match told {
            Told::Success => {
                let live =
                    bookings.iter().filter(|b| b.status == "pending" || b.status == "confirmed").count();
                if live != 1 || bookings.len() != 1 {
                    found(format!(
                        "buyer {buyer} was told their hold succeeded and has {} bookings ({live} live)",
                        bookings.len()
                    ));
                }
            }
            Told::SoldOut | Told::Failed if !bookings.is_empty() => {
                found(format!(
                    "buyer {buyer} was told their hold failed ({told:?}) and has a booking ({})",
                    bookings[0].status
                ));
            }
            Told::SoldOut | Told::Failed | Told::Nothing => {}
        }
    }
    for &(buyer, told) in &confirms.told {
        if told == Told::Success
            && !bookings_of(buyer)
                .iter()
                .any(|b| b.status == "confirmed" && b.tickets == b.units && b.units > 0)
        {
            found(format!("buyer {buyer} was told they paid and has no confirmed booking with its tickets"));
        }
    }
    let buyers: HashSet<&Uuid> = user_ids.iter().collect();
    let strangers = recorded.keys().filter(|user| !buyers.contains(user)).count();
    if strangers > 0 {
        found(format!("{strangers} users who are not this run's buyers have bookings of the event"));
    }
    problems
}

/// `text` with every byte outside the URL-safe set percent-encoded, for a query parameter.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// p50, p95, p99 and max of `latencies_us`, in milliseconds; zeros when there are none.
pub(crate) fn percentiles_ms(mut latencies_us: Vec<u64>) -> [f64; 4] {
    latencies_us.sort_unstable();
    // Nearest rank: the smallest latency that at least `share` of the requests did not exceed.
    let at = |share: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((share * latencies_us.len() as f64).ceil() as usize).clamp(1, latencies_us.len());
        round3(latencies_us[rank - 1] as f64 / 1000.0)
    };
    [at(0.50), at(0.95), at(0.99), at(1.0)]
}

/// The span from the earlier start to the later end of two spans of time.
fn spanning(
    one: Option<(SystemTime, SystemTime)>,
    other: Option<(SystemTime, SystemTime)>,
) -> Option<(SystemTime, SystemTime)> {
    match (one, other) {
        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        (a, b) => a.or(b),
    }
}

fn unix_seconds(time: SystemTime) -> f64 {
    round3(time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs_f64())
}

fn rate(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        round3(count as f64 / seconds)
    } else {
        0.0
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seated_layout_has_the_requested_seats_in_bounded_rows_and_sections() {
        for seats in [1, 99, 100, 101, 4_999, 5_000, 5_001, 12_345, MAX_SEATS_PER_VENUE_U32] {
            let sections = seated_layout(seats);
            let mut total = 0;
            for section in &sections {
                let rows = section["rows"].as_array().unwrap();
                assert!(!rows.is_empty() && rows.len() <= ROWS_PER_SECTION as usize);
                for row in rows {
                    let in_row = row["seats"].as_u64().unwrap();
                    assert!((1..=u64::from(SEATS_PER_ROW)).contains(&in_row));
                    total += in_row;
                }
            }
            assert_eq!(total, u64::from(seats));
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let latencies_us: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentiles_ms(latencies_us), [50.0, 95.0, 99.0, 100.0]);
        assert_eq!(percentiles_ms(vec![1500]), [1.5, 1.5, 1.5, 1.5]);
        assert_eq!(percentiles_ms(Vec::new()), [0.0; 4]);
    }
}
