//! `boxoffice bench live`: what open seat-map pages cost a gateway, and how far behind a sale
//! they fall.
//!
//! A seated event of `--seats` seats goes on sale; then, in three phases of `--seconds` each,
//! buyers hold one seat each at `--changes-per-second`:
//!
//! 1. **churn alone**: nobody watches;
//! 2. **streams idle**: `--streams` availability streams are opened (each gets its snapshot) and
//!    nothing sells;
//! 3. **streams and churn**: the streams stay open while the seats sell.
//!
//! For each phase the server's CPU (share of one core) and resident memory are read from
//! `/proc/<--server-pid>` (the whole process: with `serve` embedded, the bookings work of the
//! holds is in it too, which phase 1 measures alone). During phase 3 a few probe streams parse
//! every `changes` frame and time each seat from its hold's answer to its frame: how far behind a
//! sale a page is. All streams count their frames and bytes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use boxoffice_config::Settings;
use boxoffice_types::Role;
use futures::StreamExt as _;
use reqwest::{Client, Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::bench::{create_sale, mint, mint_customers, percentiles_ms, Api, FlashSaleOptions};

/// Streams that parse frames to time them; the others only count.
const PROBES: usize = 10;
/// A stream that has not had its snapshot by then counts as failed.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, clap::Args)]
pub struct LiveOptions {
    /// The gateway's base URL; defaults to http://<BOXOFFICE_HTTP_ADDR>.
    #[arg(long)]
    pub url: Option<String>,
    /// Seats of the venue.
    #[arg(long, default_value_t = 20_000)]
    pub seats: u32,
    /// Availability streams open at once.
    #[arg(long, default_value_t = 1_000)]
    pub streams: u32,
    /// Seats held per second while the seats sell.
    #[arg(long, default_value_t = 200)]
    pub changes_per_second: u32,
    /// The length of each phase.
    #[arg(long, default_value_t = 20)]
    pub seconds: u32,
    /// The server's process id, to read its CPU and memory from /proc; without it they are not
    /// reported.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Debug, Default, Serialize)]
pub struct Usage {
    /// Share of one core, in percent, over the phase.
    pub cpu_percent: Option<f64>,
    /// Resident memory at the end of the phase.
    pub rss_mib: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct LiveReport {
    pub seats: u32,
    pub streams: u32,
    pub streams_with_snapshot: usize,
    pub snapshot_bytes: usize,
    pub changes_per_second: u32,
    pub holds_ok: u64,
    pub holds_failed: u64,
    pub churn_alone: Usage,
    pub streams_idle: Usage,
    pub streams_and_churn: Usage,
    /// From a hold's 201 to the frame that tells a probe stream, in milliseconds.
    pub lag_ms_p50: f64,
    pub lag_ms_p95: f64,
    pub lag_ms_p99: f64,
    pub lag_ms_max: f64,
    /// Seats held in phase 3 that a probe never heard of.
    pub seats_missed: u64,
    /// Per stream, during phase 3.
    pub frames_per_second: f64,
    pub bytes_per_second: f64,
}

impl LiveReport {
    pub fn table(&self) -> String {
        let usage = |usage: &Usage| {
            format!(
                "CPU {} of a core, RSS {}",
                usage.cpu_percent.map_or("?".into(), |cpu| format!("{cpu:.1}%")),
                usage.rss_mib.map_or("?".into(), |rss| format!("{rss:.1} MiB"))
            )
        };
        format!(
            "venue: {} seats; {} streams ({} got their snapshot of {} bytes)\n\
             holds: {} ok, {} failed, at {}/s\n\
             churn alone:        {}\n\
             streams idle:       {}\n\
             streams and churn:  {}\n\
             page behind the sale (hold answered -> frame at a probe): p50 {} ms, p95 {} ms, p99 {} ms, max {} ms; missed {}\n\
             per stream during the churn: {:.1} frames/s, {:.0} bytes/s\n",
            self.seats,
            self.streams,
            self.streams_with_snapshot,
            self.snapshot_bytes,
            self.holds_ok,
            self.holds_failed,
            self.changes_per_second,
            usage(&self.churn_alone),
            usage(&self.streams_idle),
            usage(&self.streams_and_churn),
            self.lag_ms_p50,
            self.lag_ms_p95,
            self.lag_ms_p99,
            self.lag_ms_max,
            self.seats_missed,
            self.frames_per_second,
            self.bytes_per_second,
        )
    }

    pub fn json_line(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }
}

/// CPU time and memory of a process, from /proc.
struct Sample {
    at: Instant,
    cpu_ticks: u64,
    rss_kib: u64,
}

fn sample(pid: Option<u32>) -> Option<Sample> {
    let pid = pid?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let cpu_ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib =
        status.lines().find(|line| line.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(Sample { at: Instant::now(), cpu_ticks, rss_kib })
}

fn usage(start: Option<Sample>, end: Option<Sample>) -> Usage {
    let (Some(start), Some(end)) = (start, end) else {
        return Usage::default();
    };
    // Linux counts CPU time in ticks of 1/100 s (USER_HZ) in /proc on every common platform.
    let cpu_seconds = (end.cpu_ticks - start.cpu_ticks) as f64 / 100.0;
    let wall = end.at.duration_since(start.at).as_secs_f64();
    Usage { cpu_percent: Some(cpu_seconds / wall * 100.0), rss_mib: Some(end.rss_kib as f64 / 1024.0) }
}

/// What the streams tell the bench.
#[derive(Default)]
struct Heard {
    snapshots: AtomicUsize,
    snapshot_bytes: AtomicUsize,
    frames: AtomicU64,
    bytes: AtomicU64,
}

pub async fn live(options: &LiveOptions, settings: &Settings) -> anyhow::Result<LiveReport> {
    anyhow::ensure!(
        options.changes_per_second > 0 && options.seconds > 0,
        "the rate and the length are positive"
    );
    let held_in_all = u64::from(options.changes_per_second) * u64::from(options.seconds) * 2;
    anyhow::ensure!(
        held_in_all <= u64::from(options.seats),
        "two phases of churn hold {held_in_all} seats, more than the venue's {}",
        options.seats
    );
    let base_url = match &options.url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}", settings.http_addr),
    };
    let key = crate::token_key(settings)?;
    let client = Client::builder().http1_only().no_proxy().tcp_nodelay(true).build()?;
    let api = Api { client: client.clone(), base_url: base_url.clone() };
    let organizer = mint(&key, Role::Organizer)?;
    let sale_options = FlashSaleOptions {
        seated: true,
        units: options.seats,
        max_per_buyer: 1,
        ..FlashSaleOptions::default()
    };
    let sale = create_sale(&api, &organizer, &sale_options).await?;
    let event = api
        .call(Method::GET, &format!("/api/v1/events/{}", sale.event_id), &organizer, None, StatusCode::OK)
        .await?;
    let venue_id = event["venue_id"].as_str().context("the event has a venue")?;
    let venue = api
        .call(Method::GET, &format!("/api/v1/venues/{venue_id}"), &organizer, None, StatusCode::OK)
        .await?;
    let seat_ids: Vec<String> =
        serde_json::from_value(venue["seats"].clone()).context("the venue lists its seats")?;
    let buyers =
        Arc::new(tokio::task::spawn_blocking(move || mint_customers(&key, held_in_all as usize)).await??);
    let started = Instant::now();
    // When each seat's hold was answered, in microseconds since `started` (0: not held).
    let answered: Arc<Vec<AtomicU64>> = Arc::new((0..seat_ids.len()).map(|_| AtomicU64::new(0)).collect());
    let seat_ids = Arc::new(seat_ids);
    let churn = |from: usize| {
        churn(
            client.clone(),
            base_url.clone(),
            sale.event_id.clone(),
            seat_ids.clone(),
            buyers.clone(),
            answered.clone(),
            started,
            from,
            options,
        )
    };

    // Phase 1: the sale without viewers.
    let before = sample(options.server_pid);
    let (ok_alone, failed_alone) = churn(0).await;
    let churn_alone = usage(before, sample(options.server_pid));

    // Phase 2: the viewers arrive; nothing sells.
    let heard = Arc::new(Heard::default());
    let lags = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let measuring = Arc::new(AtomicU64::new(0));
    let stream_url = format!("{base_url}/api/v1/events/{}/availability/stream", sale.event_id);
    let mut streams = JoinSet::new();
    let opening = Instant::now();
    for index in 0..options.streams as usize {
        let (client, url, heard, lags, answered, measuring) = (
            client.clone(),
            stream_url.clone(),
            heard.clone(),
            lags.clone(),
            answered.clone(),
            measuring.clone(),
        );
        streams.spawn(async move {
            let _ = follow(client, url, index < PROBES, heard, lags, answered, measuring, started).await;
        });
    }
    while heard.snapshots.load(Ordering::Relaxed) < options.streams as usize
        && opening.elapsed() < SNAPSHOT_TIMEOUT
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = sample(options.server_pid);
    tokio::time::sleep(Duration::from_secs(u64::from(options.seconds))).await;
    let streams_idle = usage(before, sample(options.server_pid));

    // Phase 3: the sale with every viewer watching.
    let first_measured = u64::from(options.changes_per_second) * u64::from(options.seconds);
    measuring.store(1, Ordering::Relaxed);
    let (frames_before, bytes_before) =
        (heard.frames.load(Ordering::Relaxed), heard.bytes.load(Ordering::Relaxed));
    let before = sample(options.server_pid);
    let churn_started = Instant::now();
    let (ok_watched, failed_watched) = churn(first_measured as usize).await;
    // The last holds' frames are at most a poll away.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let streams_and_churn = usage(before, sample(options.server_pid));
    let elapsed = churn_started.elapsed().as_secs_f64();
    let frames = heard.frames.load(Ordering::Relaxed) - frames_before;
    let bytes = heard.bytes.load(Ordering::Relaxed) - bytes_before;
    streams.abort_all();

    let lags = std::mem::take(&mut *lags.lock().expect("never poisoned"));
    let heard_seats = lags.len() as u64 / PROBES.min(options.streams as usize).max(1) as u64;
    let [p50, p95, p99, max] = percentiles_ms(lags);
    Ok(LiveReport {
        seats: options.seats,
        streams: options.streams,
        streams_with_snapshot: heard.snapshots.load(Ordering::Relaxed),
        snapshot_bytes: heard.snapshot_bytes.load(Ordering::Relaxed)
            / heard.snapshots.load(Ordering::Relaxed).max(1),
        changes_per_second: options.changes_per_second,
        holds_ok: ok_alone + ok_watched,
        holds_failed: failed_alone + failed_watched,
        churn_alone,
        streams_idle,
        streams_and_churn,
        lag_ms_p50: p50,
        lag_ms_p95: p95,
        lag_ms_p99: p99,
        lag_ms_max: max,
        seats_missed: ok_watched.saturating_sub(heard_seats),
        frames_per_second: frames as f64 / options.streams.max(1) as f64 / elapsed,
        bytes_per_second: bytes as f64 / options.streams.max(1) as f64 / elapsed,
    })
}

/// Holds one seat per buyer at the configured rate for the phase's length, from seat `from` on.
#[allow(clippy::too_many_arguments)]
async fn churn(
    client: Client,
    base_url: String,
    event_id: String,
    seat_ids: Arc<Vec<String>>,
    buyers: Arc<Vec<String>>,
    answered: Arc<Vec<AtomicU64>>,
    started: Instant,
    from: usize,
    options: &LiveOptions,
) -> (u64, u64) {
    let count = (options.changes_per_second * options.seconds) as usize;
    let interval = Duration::from_secs(1) / options.changes_per_second;
    let mut ticks = tokio::time::interval(interval);
    let mut holds = JoinSet::new();
    for seat in from..from + count {
        ticks.tick().await;
        let (client, url, body) = (
            client.clone(),
            format!("{base_url}/api/v1/bookings"),
            json!({"event_id": event_id, "seats": [seat_ids[seat]]}),
        );
        let (token, answered) = (buyers[seat].clone(), answered.clone());
        holds.spawn(async move {
            let response = client.post(url).bearer_auth(token).json(&body).send().await;
            let ok = response.is_ok_and(|response| response.status() == StatusCode::CREATED);
            if ok {
                answered[seat].store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            ok
        });
    }
    let (mut ok, mut failed) = (0, 0);
    while let Some(result) = holds.join_next().await {
        if result.unwrap_or(false) {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    (ok, failed)
}

/// One viewer: reads the stream; a probe also times every seat of every `changes` frame.
#[allow(clippy::too_many_arguments)]
async fn follow(
    client: Client,
    url: String,
    probe: bool,
    heard: Arc<Heard>,
    lags: Arc<std::sync::Mutex<Vec<u64>>>,
    answered: Arc<Vec<AtomicU64>>,
    measuring: Arc<AtomicU64>,
    started: Instant,
) -> anyhow::Result<()> {
    let response = client.get(url).send().await?;
    anyhow::ensure!(response.status() == StatusCode::OK, "the stream answers {}", response.status());
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut first = true;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        heard.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        buffer.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if !frame.contains("data:") {
                continue;
            }
            if first {
                first = false;
                heard.snapshots.fetch_add(1, Ordering::Relaxed);
                heard.snapshot_bytes.fetch_add(frame.len(), Ordering::Relaxed);
                continue;
            }
            heard.frames.fetch_add(1, Ordering::Relaxed);
            if !probe || measuring.load(Ordering::Relaxed) == 0 || !frame.starts_with("event: changes") {
                continue;
            }
            let now = started.elapsed().as_micros() as u64;
            let data = frame.lines().filter_map(|line| line.strip_prefix("data:")).collect::<String>();
            let Ok(changes) = serde_json::from_str::<Value>(data.trim()) else { continue };
            let mut found = Vec::new();
            for change in changes["seats"].as_array().into_iter().flatten() {
                let Some(index) = change[0].as_u64() else { continue };
                let at = answered.get(index as usize).map_or(0, |at| at.load(Ordering::Relaxed));
                // A frame may tell of a hold before its answer reached the bench: no lag then.
                if change[1] == "h" {
                    found.push(if at == 0 { 0 } else { now.saturating_sub(at) });
                }
            }
            lags.lock().expect("never poisoned").extend(found);
        }
    }
    Ok(())
}
