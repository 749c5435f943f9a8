//! Traces across processes: every service as its own `boxoffice serve --service` process on
//! PostgreSQL, Redis and Kafka, exporting spans over OTLP/gRPC to a real receiver of the test's
//! own (the OTLP trace service, served with tonic on loopback). One confirmed booking, started
//! with the client's W3C `traceparent`, is one trace from the gateway through the bookings
//! service to the notifications service's email; its request id is in their spans and logs.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bookings::{category, id};
use crate::helpers::{cli, fresh_settings, Backend, Children, RemovedAtEnd};
use crate::helpers::{free_port, wait_for_port};
use crate::kafka::{on_sale_through, Broker};
use crate::notifications::{to, MailServer};

/// One span as the receiver got it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    trace_id: String,
    name: String,
    attributes: HashMap<String, String>,
}

/// The OTLP trace service: keeps every span exported to it.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| text(attribute.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans) {
                let attributes = span
                    .attributes
                    .iter()
                    .filter_map(|attribute| {
                        Some((attribute.key.clone(), text(attribute.value.as_ref()?.value.as_ref()?)?))
                    })
                    .collect();
                kept.push(Received {
                    service: service.clone(),
                    trace_id: span.trace_id.iter().map(|byte| format!("{byte:02x}")).collect(),
                    name: span.name,
                    attributes,
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(text) => Some(text.clone()),
        AnyValue::IntValue(number) => Some(number.to_string()),
        AnyValue::BoolValue(value) => Some(value.to_string()),
        _ => None,
    }
}

/// Serves the receiver on a free loopback port; returns its URL.
async fn start_receiver(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{address}")
}

/// The five processes, killed when dropped; their logs in files, removed after them (fields
/// drop in order).
struct Processes {
    children: Children,
    logs: RemovedAtEnd,
}

impl Processes {
    fn log(&self, service: &str) -> String {
        std::fs::read_to_string(self.logs.0.join(format!("{service}.log"))).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_confirmed_booking_is_one_trace_from_the_gateway_to_the_email() {
    let receiver = Receiver::default();
    let endpoint = start_receiver(receiver.clone()).await;
    let broker = Broker::start().await;
    let mail = MailServer::start();
    let settings = fresh_settings(Backend::Postgres).await;
    let token = boxoffice_auth::random_token();
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let logs = std::env::temp_dir().join(format!("boxoffice-traces-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&logs).unwrap();
    let mut processes = Processes { children: Children::of(&settings), logs: RemovedAtEnd(logs.clone()) };
    for (service, port) in [
        ("users", ports[0]),
        ("events", ports[1]),
        ("bookings", ports[2]),
        ("notifications", 0),
        ("gateway", ports[3]),
    ] {
        let log = std::fs::File::create(logs.join(format!("{service}.log"))).unwrap();
        let mut command = cli(&settings, &["serve", "--service", service]);
        command
            .env("BOXOFFICE_KAFKA_BROKERS", broker.address())
            .env("BOXOFFICE_KAFKA_PARTITIONS", "1")
            .env("BOXOFFICE_SMTP_URL", mail.url())
            .env("BOXOFFICE_INTERNAL_TOKEN", &token)
            .env("BOXOFFICE_USERS_GRPC_ADDR", format!("127.0.0.1:{}", ports[0]))
            .env("BOXOFFICE_EVENTS_GRPC_ADDR", format!("127.0.0.1:{}", ports[1]))
            .env("BOXOFFICE_BOOKINGS_GRPC_ADDR", format!("127.0.0.1:{}", ports[2]))
            .env("BOXOFFICE_USERS_URL", format!("http://127.0.0.1:{}", ports[0]))
            .env("BOXOFFICE_EVENTS_URL", format!("http://127.0.0.1:{}", ports[1]))
            .env("BOXOFFICE_BOOKINGS_URL", format!("http://127.0.0.1:{}", ports[2]))
            .env("BOXOFFICE_HTTP_ADDR", format!("127.0.0.1:{}", ports[3]))
            .env("BOXOFFICE_OTLP_ENDPOINT", &endpoint)
            .env("BOXOFFICE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            // Spans leave in batches every 200 ms instead of every 5 s.
            .env("OTEL_BSP_SCHEDULE_DELAY", "200")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if service == "gateway" {
            // The default filter, as a deployment that sets no RUST_LOG has: it keeps the access log.
            command.env_remove("RUST_LOG");
        }
        let child = command.spawn().unwrap();
        let child = if port == 0 { child } else { wait_for_port(child, port, service) };
        processes.children.push(child);
    }
    let api = format!("http://127.0.0.1:{}", ports[3]);
    let client = reqwest::Client::new();

    let email = "traced-buyer@example.com";
    let (event, buyer) = on_sale_through(&api, &settings, "Traced", email).await;
    let post = |path: &str, body: Value, token: &str| {
        client.post(format!("{api}{path}")).bearer_auth(token).json(&body).send()
    };
    let hold = post(
        "/api/v1/bookings",
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]}),
        &buyer,
    )
    .await
    .unwrap();
    assert_eq!(hold.status(), StatusCode::CREATED);
    let booking: Value = hold.json().await.unwrap();

    // The client starts the trace: its traceparent and its request id, on a declined payment
    // and then on the one that is approved.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let confirm = |token: &'static str, request_id: &'static str| {
        client
            .post(format!("{api}/api/v1/bookings/{}/confirm", id(&booking)))
            .bearer_auth(&buyer)
            .header("traceparent", &traceparent)
            .header("x-request-id", request_id)
            .json(&json!({"payment_token": token}))
            .send()
    };
    let declined = confirm("tok_declined", "traced-decline-1").await.unwrap();
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let confirmed = confirm("tok_ok", "traced-confirm-1").await.unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(to(&mail.wait_for(1).await, email).len(), 1, "the tickets are emailed");

    // The email's span is the last to end; wait until it has arrived, within a bound.
    let started = Instant::now();
    let spans = loop {
        let spans: Vec<Received> =
            receiver.0.lock().unwrap().iter().filter(|span| span.trace_id == trace_id).cloned().collect();
        if spans.iter().any(|span| span.name == "email") || started.elapsed() > Duration::from_secs(30) {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let services: BTreeSet<&str> = spans.iter().map(|span| span.service.as_str()).collect();
    for service in ["boxoffice-gateway", "boxoffice-bookings", "boxoffice-notifications"] {
        let all: BTreeSet<(String, String, String)> = receiver
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|span| (span.service.clone(), span.name.clone(), span.trace_id.clone()))
            .collect();
        assert!(
            services.contains(service),
            "{service} is in the trace; it has {services:?}; all spans: {all:#?}; its log:\n{}",
            processes.log(service.trim_start_matches("boxoffice-"))
        );
    }
    let named = |service: &str, name: &str| {
        spans.iter().filter(|span| span.service == service && span.name == name).collect::<Vec<_>>()
    };
    assert!(!named("boxoffice-gateway", "request").is_empty(), "the HTTP request");
    let calls = named("boxoffice-bookings", "grpc");
    assert!(
        calls.iter().any(|span| span
            .attributes
            .get("method")
            .is_some_and(|method| method.ends_with("/ConfirmBooking"))),
        "the gRPC call of the confirmation, on the bookings side: {calls:#?}"
    );
    let handled = named("boxoffice-notifications", "domain_event");
    let handled = handled
        .iter()
        .find(|span| span.attributes.get("event_type").map(String::as_str) == Some("booking.confirmed"))
        .unwrap_or_else(|| panic!("booking.confirmed is handled in the trace: {spans:#?}"));
    assert_eq!(handled.attributes.get("request_id").map(String::as_str), Some("traced-confirm-1"));
    let emailed = named("boxoffice-notifications", "email");
    assert!(
        emailed
            .iter()
            .any(|span| span.attributes.get("request_id").map(String::as_str) == Some("traced-confirm-1")),
        "the email is sent in the trace, with the request id: {emailed:#?}; the trace's spans: {:?}; every \
         email span received: {:#?}; the notifications log:\n{}",
        spans.iter().map(|span| (&span.service, &span.name)).collect::<Vec<_>>(),
        receiver.0.lock().unwrap().iter().filter(|span| span.name == "email").collect::<Vec<_>>(),
        processes.log("notifications")
    );

    // The request id is in the log lines of the request on every side: the gateway's access log
    // and the bookings service's line about the declined payment.
    let gateway_log = processes.log("gateway");
    assert!(
        gateway_log
            .lines()
            .any(|line| line.contains("traced-confirm-1") && line.contains("finished processing request")),
        "the gateway's access log names the request id:\n{gateway_log}"
    );
    let bookings_log = processes.log("bookings");
    assert!(
        bookings_log
            .lines()
            .any(|line| line.contains("traced-decline-1") && line.contains("payment declined")),
        "the bookings service logs the declined payment with the request id:\n{bookings_log}"
    );
    drop(processes);
}
