//! Every metric boxoffice records, with its kind, unit and help text: one list for the
//! `# HELP` lines of `/metrics`, the Grafana dashboard and the alert rules in `deploy/` (which
//! `scripts/validate-deploy` checks name only metrics of this list).
//!
//! Names end in their unit (`_seconds`, `_bytes`) or `_total` for counters; the buckets of a
//! histogram follow its unit (see the crate's root).

/// What kind of metric a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric: its name, kind, labels and what it counts.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn metric(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric { name, kind, labels, help }
}

use Kind::{Counter, Gauge, Histogram};

/// Every metric, by service.
pub const ALL: &[Metric] = &[
    // The gateway.
    metric("http_requests_total", Counter, &["method", "route", "status"], "HTTP requests answered by the gateway, by route and status."),
    metric("http_request_duration_seconds", Histogram, &["method", "route", "status"], "Time the gateway took to answer an HTTP request, in seconds."),
    metric("http_rate_limited_total", Counter, &["scope"], "HTTP requests refused with 429 by a rate limit, by limit."),
    metric("gateway_availability_watches", Gauge, &[], "Events whose live availability this gateway follows."),
    metric("gateway_availability_streams", Gauge, &[], "Open live availability streams (server-sent events) of this gateway."),
    metric("gateway_sold_out_echoes_total", Counter, &[], "Holds this gateway answered sold out itself, repeating the bookings service's refusal of a moment ago (not counted in bookings_holds_total)."),
    metric("waiting_room_queued", Gauge, &["event_id"], "Buyers in an event's waiting room, let in or not, at the last visit."),
    metric("waiting_room_admitted_total", Counter, &["event_id"], "Buyers let in from an event's waiting room so far; its rate is the admission rate."),
    metric("waiting_room_admissions_per_minute", Gauge, &["event_id"], "Admissions per minute the waiting room measured over its last window."),
    // gRPC between services.
    metric("grpc_server_duration_seconds", Histogram, &["method", "code"], "Time a service took to answer a gRPC call, in seconds, by method and status code."),
    metric("grpc_client_duration_seconds", Histogram, &["method", "code"], "Time a gRPC call to another service took, as its caller saw it, in seconds."),
    // The users service.
    metric("users_login_failures_total", Counter, &[], "Logins refused for a wrong email or password."),
    metric("users_lockouts_total", Counter, &[], "Emails locked after repeated failed logins."),
    metric("revocation_checks_total", Counter, &["answered_by"], "Checks of revoked sessions, by whether a local copy or the store answered."),
    // The bookings service.
    metric("bookings_holds_total", Counter, &["outcome"], "Hold requests by outcome: held, sold_out, seat_unavailable, limit (per-buyer or per-booking limits), refused (anything else)."),
    metric("bookings_sold_out_memo_hits_total", Counter, &[], "Holds refused at once because a category was remembered as sold out."),
    metric("bookings_commit_batch_size", Histogram, &["of"], "Changes written per group-commit transaction, of holds (pending bookings), of payments (confirmations with their tickets) or of payment_reads (the bookings paid for, read together)."),
    metric("bookings_commit_batch_seconds", Histogram, &["of"], "Time a group-commit batch took to write and commit, in seconds, of holds, payments or payment_reads."),
    metric("bookings_commit_batch_failures_total", Counter, &["of"], "Group-commit batches whose write failed, of holds, payments or payment_reads: each then goes again without the changes past their deadline, fails whole (a database that cannot be reached) or is written change by change."),
    metric("bookings_current_holds", Gauge, &["event_id"], "Holds pending payment per event."),
    metric("bookings_confirmed_total", Counter, &[], "Bookings paid and confirmed with their tickets."),
    metric("bookings_payment_declines_total", Counter, &[], "Payments the payment provider declined."),
    metric("bookings_refunds_total", Counter, &[], "Bookings refunded (by their buyer, an organizer or a cancelled event)."),
    metric("bookings_cancellations_total", Counter, &[], "Holds cancelled before payment."),
    metric("bookings_expired_total", Counter, &[], "Holds that expired unpaid."),
    metric("bookings_check_ins_total", Counter, &["outcome"], "Tickets scanned at the door by outcome: admitted, or the refusal's error code."),
    metric("bookings_tickets_transferred_total", Counter, &[], "Tickets given to another account."),
    metric("bookings_waiting_list_joined_total", Counter, &[], "Waiting-list entries made."),
    metric("bookings_waiting_list_offers_total", Counter, &[], "Returned tickets offered to waiting-list entries."),
    // The notifications service.
    metric("notifications_pending", Gauge, &[], "Emails waiting to be sent."),
    metric("notifications_emails_total", Counter, &["kind", "outcome"], "Emails by kind and outcome: sent, skipped or failed."),
    metric("notifications_send_retries_total", Counter, &["kind"], "Emails whose sending failed and will be tried again."),
    // Domain events.
    metric("outbox_pending_rows", Gauge, &["service"], "Domain events written but not yet published, per service."),
    metric("outbox_oldest_pending_age_seconds", Gauge, &["service"], "Age of the oldest unpublished domain event, in seconds, per service."),
    metric("outbox_published_total", Counter, &["service"], "Domain events published, per service."),
    metric("outbox_publish_failures_total", Counter, &["service"], "Rounds of the outbox relay that failed to publish, per service."),
    metric("domain_events_dead_lettered_total", Counter, &["consumer"], "Domain events no consumer could read, sent to the dead letters."),
    // Every process.
    metric("service_ready", Gauge, &[], "1 when the last readiness check of the admin endpoint (/readyz) passed, 0 when it failed."),
    metric("db_pool_connections", Gauge, &["service", "state"], "Database connections of a service's pool, in use or idle."),
    metric("process_cpu_seconds_total", Counter, &[], "CPU time the process used, in seconds."),
    metric("process_resident_memory_bytes", Gauge, &[], "Resident memory of the process, in bytes."),
    metric("process_open_fds", Gauge, &[], "File descriptors the process has open."),
    metric("process_threads", Gauge, &[], "Threads of the process."),
    metric("process_start_time_seconds", Gauge, &[], "When the process started, in seconds since the Unix epoch."),
];

/// The metric called `name`.
pub fn find(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|metric| metric.name == name)
}

/// Gives the recorder the help text of every metric.
pub(crate) fn describe() {
    for metric in ALL {
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
            Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            Kind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_end_in_their_unit() {
        let mut seen = std::collections::HashSet::new();
        for metric in ALL {
            assert!(seen.insert(metric.name), "{} twice", metric.name);
            assert!(!metric.help.is_empty());
            if metric.kind == Kind::Counter {
                assert!(metric.name.ends_with("_total"), "the counter {} ends in _total", metric.name);
            } else {
                assert!(!metric.name.ends_with("_total"), "{} is not a counter", metric.name);
            }
        }
    }
}
