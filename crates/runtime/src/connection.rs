//! How a service calls another: over the network, carrying the internal token, or by calling
//! the other service's gRPC server directly when both run in this process (which skips loopback
//! TCP and HTTP/2 framing on both sides of the call). Either way the call is timed, and over the
//! network it carries the trace headers ([`Observed`]); in this process it keeps the caller's span.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;

use anyhow::Context as _;
use tonic::transport::{Channel, Endpoint};
use tower::util::BoxCloneSyncService;
use tower::ServiceExt as _;

use crate::internal_token::{InternalToken, METADATA_KEY};
use crate::observe::Observed;
use crate::tls::ServiceTls;
use crate::GrpcServer;

/// How often every replica of a service named with several (or by a host name) is asked whether
/// it is ready (its `CheckReady`): one that answers it is not, that does not answer
/// [`PROBE_MISSES`] probes in a row, or that failed a call on the way (refused the connection,
/// dropped it, or did not answer in time), is left out of the calls until it answers ready again.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A readiness probe not answered within this has missed.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(800);
/// The gRPC method every service answers whether it is ready with (`/package.Service/CheckReady`).
pub const READY_METHOD: &str = "CheckReady";

/// Whether a call's `path` (`/package.Service/Method`) asks whether the service is ready.
pub fn asks_readiness(path: &str) -> bool {
    path.rsplit('/').next() == Some(READY_METHOD)
}

/// Probes missed in a row that leave a replica out: one alone may be a replica busy with an
/// on-sale (its readiness waits for a database connection), two are a replica that stopped
/// answering. A replica that answers "not ready" is left out at once.
pub const PROBE_MISSES: u32 = 2;
/// A call from one service to another that takes longer than this has failed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting to another service that takes longer than this has failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the addresses of a service's host name are looked up again: a replica that
/// started behind the name (a pod of a headless Service) gets calls within this, and one that
/// stopped is dropped from the list by then.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(5);

/// A way to reach one service, for its generated client (`XServiceClient::new(connection)`).
pub type Connection =
    BoxCloneSyncService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, tonic::Status>;

/// A connection to the gRPC service `service` (`package.Service`) at `urls`, carrying `token` on
/// every call, over TLS when a URL is `https://`. It connects lazily: a single replica is not
/// called until a request needs it; several are probed from the first [`PROBE_EVERY`] on (and
/// those not up yet are left out meanwhile).
///
/// `urls` may list several replicas, separated by commas, and a host name stands for every
/// address it resolves to (a Kubernetes headless Service names each ready pod), looked up again
/// every [`RESOLVE_EVERY`]: calls then go to each ready replica in turn. Each replica is asked
/// every [`PROBE_EVERY`] whether it is ready, and one that is not, or that failed a call, is left
/// out until it is (see [`Replicas`], also for the calls that go to the next one).
pub fn over_network(
    service: &str,
    urls: &str,
    token: &InternalToken,
    tls: &ServiceTls,
) -> anyhow::Result<Connection> {
    over_network_resolving(service, urls, token, tls, Resolution::dns(), PROBE_EVERY)
}

/// How host names become addresses: a lookup, done again every so often.
#[derive(Clone)]
struct Resolution {
    lookup: Lookup,
    every: Duration,
}

/// A host name and port to the addresses they stand for.
type Lookup = Arc<dyn Fn(String, u16) -> BoxFuture<std::io::Result<Vec<std::net::SocketAddr>>> + Send + Sync>;

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl Resolution {
    /// The system's resolver, every [`RESOLVE_EVERY`].
    fn dns() -> Resolution {
        Resolution {
            lookup: Arc::new(|host, port| {
                Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), port)).await?.collect()) })
            }),
            every: RESOLVE_EVERY,
        }
    }
}

fn over_network_resolving(
    service: &str,
    urls: &str,
    token: &InternalToken,
    tls: &ServiceTls,
    resolution: Resolution,
    probe_every: Duration,
) -> anyhow::Result<Connection> {
    let targets = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(Target::parse)
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!targets.is_empty(), "no service URL in {urls:?}");
    let factory = ReplicaFactory { token: token.clone(), tls: tls.clone() };
    let members = targets
        .iter()
        .map(|target| factory.member(target.url.clone(), None))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let [only] = targets.as_slice() {
        if only.host.is_none() {
            let member = members.into_iter().next().expect("one replica");
            let replica = Arc::into_inner(member).expect("not shared yet").replica;
            return Ok(BoxCloneSyncService::new(replica.map_err(unavailable)));
        }
    }
    let replicas = Replicas::new(members);
    let ready_path = format!("/{service}/{READY_METHOD}");
    tokio::spawn(keep_probing(Arc::downgrade(&replicas.members), ready_path, probe_every));
    if targets.iter().any(|target| target.host.is_some()) {
        tokio::spawn(keep_resolving(Arc::downgrade(&replicas.members), targets, factory, resolution));
    }
    Ok(BoxCloneSyncService::new(replicas))
}

/// One entry of a service's URL list.
struct Target {
    url: String,
    scheme: String,
    /// The host name and port, when the host is a name (not an address) to look up.
    host: Option<(String, u16)>,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let uri: http::Uri = url.parse().with_context(|| format!("reading the service URL {url}"))?;
        let scheme = uri.scheme_str().unwrap_or("http").to_owned();
        let host = uri.host().with_context(|| format!("the service URL {url} names no host"))?;
        let named = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_err();
        let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
        Ok(Target { url: url.to_owned(), scheme, host: named.then(|| (host.to_owned(), port)) })
    }
}

/// Makes the replicas of one service's connection.
struct ReplicaFactory {
    token: InternalToken,
    tls: ServiceTls,
}

impl ReplicaFactory {
    /// The replica at `url`; `domain` is the name its TLS certificate is checked against when
    /// `url` holds an address that name resolved to.
    fn member(&self, url: String, domain: Option<&str>) -> anyhow::Result<Arc<Member>> {
        let replica = replica(&url, domain, &self.token, &self.tls)?;
        Ok(Arc::new(Member { url, replica, left_out: AtomicBool::new(false), missed: AtomicU32::new(0) }))
    }
}

/// Looks the host names of `targets` up every [`RESOLVE_EVERY`], and makes the replica list
/// one replica per address (or the name itself, while it resolves to none); stops when the
/// connection is dropped. A failed lookup keeps the list as it was.
async fn keep_resolving(
    members: Weak<RwLock<Arc<[Arc<Member>]>>>,
    targets: Vec<Target>,
    factory: ReplicaFactory,
    resolution: Resolution,
) {
    loop {
        let mut wanted: Vec<(String, Option<&str>)> = Vec::new();
        let mut failed = false;
        for target in &targets {
            let Some((host, port)) = &target.host else {
                wanted.push((target.url.clone(), None));
                continue;
            };
            match (resolution.lookup)(host.clone(), *port).await {
                Ok(addresses) => {
                    let mut found: Vec<String> =
                        addresses.iter().map(|address| format!("{}://{address}", target.scheme)).collect();
                    found.sort();
                    found.dedup();
                    if found.is_empty() {
                        wanted.push((target.url.clone(), None));
                    }
                    wanted.extend(found.into_iter().map(|url| (url, Some(host.as_str()))));
                }
                Err(error) => {
                    tracing::debug!(%error, host, "looking up a service's replicas fails; keeping the list");
                    failed = true;
                }
            }
        }
        let Some(members) = members.upgrade() else { return };
        if !failed {
            let current = members.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
            let same = current.len() == wanted.len()
                && current.iter().zip(&wanted).all(|(member, (url, _))| &member.url == url);
            if !same {
                let next: anyhow::Result<Vec<Arc<Member>>> = wanted
                    .iter()
                    .map(|(url, domain)| match current.iter().find(|member| &member.url == url) {
                        Some(member) => Ok(member.clone()),
                        None => factory.member(url.clone(), *domain),
                    })
                    .collect();
                match next {
                    Ok(next) => {
                        let urls: Vec<&str> = next.iter().map(|member| member.url.as_str()).collect();
                        tracing::info!(replicas = ?urls, "the replicas of a service changed");
                        *members.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = next.into();
                    }
                    Err(error) => tracing::warn!(error = %format!("{error:#}"), "a replica cannot be made"),
                }
            }
        }
        drop(members);
        tokio::time::sleep(resolution.every).await;
    }
}

/// One replica's calls: traced and timed, carrying the token.
type Replica = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    tonic::transport::Error,
>;

fn replica(
    url: &str,
    domain: Option<&str>,
    token: &InternalToken,
    tls: &ServiceTls,
) -> anyhow::Result<Replica> {
    let channel = channel_to(url, domain, tls)?;
    let token = token.header_value();
    let deadline = crate::deadline::header_value(CALL_TIMEOUT);
    Ok(BoxCloneSyncService::new(Observed::client(channel).map_request(
        move |mut request: http::Request<tonic::body::Body>| {
            request.headers_mut().insert(METADATA_KEY, token.clone());
            // The service learns how long this caller waits, and gives up before it does; a
            // call sent again to another replica says what is left of its time.
            request.headers_mut().entry(crate::deadline::HEADER).or_insert_with(|| deadline.clone());
            request
        },
    )))
}

fn unavailable(error: tonic::transport::Error) -> tonic::Status {
    tonic::Status::unavailable(format!("calling a service fails: {}", described(&error)))
}

/// `error` with its causes, which its own message leaves out ("transport error").
fn described(error: &tonic::transport::Error) -> String {
    boxoffice_errors::with_causes(error)
}

fn channel_to(url: &str, domain: Option<&str>, tls: &ServiceTls) -> anyhow::Result<Channel> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("reading the service URL {url}"))?
        .timeout(CALL_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        let mut config = tls.client();
        if let Some(domain) = domain {
            config = config.domain_name(domain);
        }
        endpoint = endpoint.tls_config(config).with_context(|| format!("setting up TLS to {url}"))?;
    }
    Ok(endpoint.connect_lazy())
}

/// A connection to a gRPC server in this process. The internal token guards the network; a
/// call within the process needs none.
pub fn in_process(server: impl GrpcServer) -> Connection {
    BoxCloneSyncService::new(
        Observed::in_process(server)
            .map_err(|never: std::convert::Infallible| -> tonic::Status { match never {} }),
    )
}

/// Several replicas of one service: each call goes to the next one that is not left out, and to
/// those left out only when every replica is. A replica is left out when its readiness probe
/// fails ([`keep_probing`]) or a call to it fails below gRPC (the connection refused or
/// dropped, no answer in time), and back in once a probe finds it ready. A call whose
/// connection is refused, which never reached the replica, goes to the next; so does a call a
/// replica turned away as it shut down
/// (an HTTP/2 GOAWAY or REFUSED_STREAM, or a request hyper never sent), and a call that is safe
/// to repeat (a read, a confirmation, a call marked repeatable by [`request`]) whatever failed.
/// Any other failure is the call's answer, since the replica may have done the work.
///
/// A call has [`CALL_TIMEOUT`] in all, however many replicas it goes to: each attempt gets
/// what is left of it, and says so in its `grpc-timeout`, so that the service that takes it
/// gives up before the caller does. A call that ran out of time is not sent again.
#[derive(Clone)]
struct Replicas {
    /// The replicas now: the lookups of host names replace the list.
    members: Arc<RwLock<Arc<[Arc<Member>]>>>,
    next: Arc<AtomicUsize>,
}

/// One replica, whether it is left out of the calls, and how many probes in a row it missed.
struct Member {
    url: String,
    replica: Replica,
    left_out: AtomicBool,
    missed: AtomicU32,
}

impl Member {
    /// Leaves this replica out of the calls until a probe finds it ready.
    fn leave_out(&self, why: &str) {
        if !self.left_out.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                replica = self.url,
                reason = why,
                "leaving a replica out of the calls until it is ready"
            );
        }
    }

    /// Takes this replica back into the calls.
    fn take_back(&self) {
        self.missed.store(0, Ordering::Relaxed);
        if self.left_out.swap(false, Ordering::Relaxed) {
            tracing::info!(replica = self.url, "a replica is ready again; back in the calls");
        }
    }
}

impl Replicas {
    fn new(members: Vec<Arc<Member>>) -> Replicas {
        Replicas { members: Arc::new(RwLock::new(members.into())), next: Arc::new(AtomicUsize::new(0)) }
    }

    /// The replicas in the order this call tries them: those not left out first, from the next
    /// one's turn.
    fn order(&self) -> Vec<Arc<Member>> {
        let members = self.members.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let count = members.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let (mut up, down): (Vec<Arc<Member>>, Vec<Arc<Member>>) = (0..count)
            .map(|offset| members[(first + offset) % count].clone())
            .partition(|member| !member.left_out.load(Ordering::Relaxed));
        up.extend(down);
        up
    }
}

/// Asks every replica whether it is ready (`path`, the service's `CheckReady`) `every` so
/// often ([`PROBE_EVERY`]), each on its own (a replica that does not answer delays no other's
/// probe), and leaves out those that answer they are not, or that miss [`PROBE_MISSES`] probes
/// in a row; takes back those that answer ready. A replica that is shutting down answers not
/// ready from the moment it is asked to stop, so its calls stop before its listener closes.
/// Stops when the connection is dropped.
async fn keep_probing(members: Weak<RwLock<Arc<[Arc<Member>]>>>, path: String, every: Duration) {
    let Ok(path) = http::uri::PathAndQuery::try_from(path.as_str()) else {
        tracing::error!(path, "not a gRPC method's path; the replicas are not probed");
        return;
    };
    let mut rounds = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        rounds.tick().await;
        let Some(current) = members.upgrade() else { return };
        let current = current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        for member in current.iter().cloned() {
            let path = path.clone();
            tokio::spawn(async move {
                match probe(&member.replica, path).await {
                    Probe::Ready => member.take_back(),
                    Probe::NotReady(why) => member.leave_out(&why),
                    Probe::Missed(why) => {
                        if member.missed.fetch_add(1, Ordering::Relaxed) + 1 >= PROBE_MISSES {
                            member.leave_out(&why);
                        }
                    }
                }
            });
        }
    }
}

/// What a readiness probe found.
enum Probe {
    Ready,
    /// The replica answered it is not ready, or refused the connection.
    NotReady(String),
    /// No answer in time.
    Missed(String),
}

/// Asks the replica whether it is ready (`path`), within [`PROBE_TIMEOUT`]; a service without a
/// readiness call (`UNIMPLEMENTED`) counts as ready, since it answered.
async fn probe(replica: &Replica, path: http::uri::PathAndQuery) -> Probe {
    /// The gRPC frame of an empty message: not compressed, length 0.
    const EMPTY_MESSAGE: [u8; 5] = [0; 5];
    let mut request = http::Request::new(tonic::body::Body::new(http_body_util::Full::new(
        tonic::codegen::Bytes::from_static(&EMPTY_MESSAGE),
    )));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from(path);
    let headers = request.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
    headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
    headers.insert(crate::deadline::HEADER, crate::deadline::header_value(PROBE_TIMEOUT));
    let answered = tokio::time::timeout(PROBE_TIMEOUT, async {
        let response = replica.clone().oneshot(request).await.map_err(|error| described(&error))?;
        if let Some(status) = tonic::Status::from_header_map(response.headers()) {
            return Ok(status);
        }
        let body = response.into_body().collect().await.map_err(|error| error.to_string())?;
        body.trailers()
            .and_then(tonic::Status::from_header_map)
            .ok_or_else(|| "the readiness answer has no status".to_owned())
    })
    .await;
    match answered {
        Err(_) => Probe::Missed(format!("no readiness answer within {PROBE_TIMEOUT:?}")),
        Ok(Err(why)) => Probe::NotReady(why),
        Ok(Ok(status)) => match status.code() {
            tonic::Code::Ok | tonic::Code::Unimplemented => Probe::Ready,
            code => Probe::NotReady(format!("not ready ({code:?}): {}", status.message())),
        },
    }
}

/// Whether `response` is a `CheckReady` answered "not ready" (`UNAVAILABLE`): a readiness check
/// made through this connection then asks the next replica, since one that is shutting down
/// (or has lost its database) says nothing of the others.
fn not_ready(path: &str, response: &http::Response<tonic::body::Body>) -> bool {
    asks_readiness(path)
        && tonic::Status::from_header_map(response.headers())
            .is_some_and(|status| status.code() == tonic::Code::Unavailable)
}

/// Whether `error` says the connection was refused: the call was never sent.
fn never_sent(error: &tonic::transport::Error) -> bool {
    causes(error).any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// Whether `error` says the call never began on the replica: the connection closed before the
/// request was sent (hyper cancels it), or the replica, shutting down, sent an HTTP/2 GOAWAY that
/// the call's stream came after, or refused the stream (REFUSED_STREAM). Either way the call may
/// go to another replica, whatever it does.
fn turned_away(error: &tonic::transport::Error) -> bool {
    causes(error).any(|cause| {
        cause.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_canceled)
            || cause.downcast_ref::<h2::Error>().is_some_and(|h2| {
                h2.is_remote() && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
            })
    })
}

/// Whether the channel gave up waiting for the answer: the call's time is spent.
fn timed_out(error: &tonic::transport::Error) -> bool {
    causes(error).any(|cause| cause.is::<tonic::TimeoutExpired>())
}

/// The metadata of a call that may be repeated whatever happened to it (a hold with its
/// Idempotency-Key): see [`request`].
pub const REPEATABLE_HEADER: &str = "x-boxoffice-repeatable";

/// `message` as a call's request, marked `repeatable` when sending it again after a replica
/// failed it mid-call returns the first call's result, so that the next replica is sent it.
pub fn request<T>(message: T, repeatable: bool) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if repeatable {
        request.metadata_mut().insert(REPEATABLE_HEADER, tonic::metadata::MetadataValue::from_static("1"));
    }
    request
}

/// Whether a call of `path` (`/package.Service/Method`) may be sent again after it reached a
/// replica that failed before answering: it changes nothing (a read), or repeating it returns
/// the first call's result (a confirmation: the charge carries the booking id, and a confirmed
/// booking is its own answer; loading an inventory that is loaded).
fn safe_to_repeat(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or_default();
    method.starts_with("Get")
        || method.starts_with("List")
        || matches!(method, "IsDoorStaff" | "FindUsers" | READY_METHOD | "ConfirmBooking" | "LoadInventory")
}

/// `error` and its sources.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |cause| cause.source())
}

impl tower::Service<http::Request<tonic::body::Body>> for Replicas {
    type Response = http::Response<tonic::body::Body>;
    type Error = tonic::Status;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, tonic::Status>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), tonic::Status>> {
        // Each replica is made ready as its turn comes, in `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let order = self.order();
        Box::pin(async move {
            // The request is kept whole so that it can go to another replica.
            let (parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes();
            let deadline = Instant::now() + CALL_TIMEOUT;
            let mut last = None;
            let mut unready = None;
            for member in order {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let mut attempt =
                    http::Request::new(tonic::body::Body::new(http_body_util::Full::new(body.clone())));
                *attempt.method_mut() = parts.method.clone();
                *attempt.uri_mut() = parts.uri.clone();
                *attempt.version_mut() = parts.version;
                *attempt.headers_mut() = parts.headers.clone();
                attempt.headers_mut().insert(crate::deadline::HEADER, crate::deadline::header_value(left));
                let answer = match tokio::time::timeout(left, member.replica.clone().oneshot(attempt)).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        // Unless the call had too little of its time left for any replica.
                        if left >= PROBE_TIMEOUT {
                            member.leave_out("a call had no answer in time");
                        }
                        return Err(tonic::Status::unavailable(format!(
                            "calling a service fails: no answer within {CALL_TIMEOUT:?}"
                        )));
                    }
                };
                let error = match answer {
                    Ok(response) if not_ready(parts.uri.path(), &response) => {
                        unready = Some(response);
                        continue;
                    }
                    Ok(response) => return Ok(response),
                    Err(error) => error,
                };
                if !timed_out(&error) || left >= PROBE_TIMEOUT {
                    member.leave_out(&described(&error));
                }
                match error {
                    error if never_sent(&error) => last = Some(error),
                    error
                        if turned_away(&error)
                            || (!timed_out(&error)
                                && (safe_to_repeat(parts.uri.path())
                                    || parts.headers.contains_key(REPEATABLE_HEADER))) =>
                    {
                        tracing::warn!(
                            error = described(&error),
                            method = parts.uri.path(),
                            "a replica failed the call; sending it to the next"
                        );
                        last = Some(error);
                    }
                    error => return Err(unavailable(error)),
                }
            }
            if let Some(response) = unready {
                return Ok(response);
            }
            Err(last.map_or_else(|| tonic::Status::unavailable("no replica to call"), unavailable))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gRPC service the tests' replicas stand for.
    const TEST_SERVICE: &str = "boxoffice.test.v1.Test";
    /// Probes too rare to happen during a test, for tests that count connections.
    const NO_PROBES: Duration = Duration::from_secs(3_600);

    /// A replica that takes connections and never answers; how many it took.
    async fn silent_replica() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let taken = Arc::new(AtomicUsize::new(0));
        let counter = taken.clone();
        tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                kept.push(socket);
            }
        });
        (url, taken)
    }

    #[tokio::test]
    async fn a_call_safe_to_repeat_that_ran_out_of_time_is_not_sent_again() {
        let (first, first_taken) = silent_replica().await;
        let (second, second_taken) = silent_replica().await;
        let token = InternalToken::parse(&"t".repeat(32)).unwrap();
        let urls = format!("{first},{second}");
        let connection = connection_to(&urls, &token, NO_PROBES);
        let request = call_of("GetThing");
        let status = connection.oneshot(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert_eq!(first_taken.load(Ordering::SeqCst), 1);
        assert_eq!(second_taken.load(Ordering::SeqCst), 0, "the call's time was spent on the first replica");
    }

    /// A replica that takes connections and closes them at once; how many it took.
    async fn closing_replica(address: std::net::SocketAddr) -> Arc<AtomicUsize> {
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        let taken = Arc::new(AtomicUsize::new(0));
        let counter = taken.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        taken
    }

    async fn get_thing(connection: &Connection) {
        let request = call_of("GetThing");
        let _ = connection.clone().oneshot(request).await;
    }

    #[tokio::test]
    async fn a_host_name_stands_for_every_address_it_resolves_to_as_they_change() {
        let first = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = first.local_addr().unwrap().port();
        drop(first);
        let (one, two): (std::net::SocketAddr, std::net::SocketAddr) =
            (([127, 0, 0, 1], port).into(), ([127, 0, 0, 2], port).into());
        let (one_taken, two_taken) = (closing_replica(one).await, closing_replica(two).await);
        let addresses = Arc::new(std::sync::Mutex::new(vec![one, two]));
        let resolved = addresses.clone();
        let resolution = Resolution {
            lookup: Arc::new(move |_, _| {
                let addresses = resolved.lock().unwrap().clone();
                Box::pin(async move { Ok(addresses) })
            }),
            every: Duration::from_millis(50),
        };
        let url = format!("http://replicas.boxoffice.invalid:{port}");
        let token = InternalToken::parse(&"t".repeat(32)).unwrap();
        let connection =
            over_network_resolving(TEST_SERVICE, &url, &token, &ServiceTls::none(), resolution, NO_PROBES)
                .unwrap();
        for _ in 0..200 {
            if one_taken.load(Ordering::SeqCst) > 0 && two_taken.load(Ordering::SeqCst) > 0 {
                break;
            }
            get_thing(&connection).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            one_taken.load(Ordering::SeqCst) > 0 && two_taken.load(Ordering::SeqCst) > 0,
            "both addresses get calls"
        );

        // The second address leaves the name: calls go to the first only.
        addresses.lock().unwrap().truncate(1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (one_before, two_before) = (one_taken.load(Ordering::SeqCst), two_taken.load(Ordering::SeqCst));
        for _ in 0..5 {
            get_thing(&connection).await;
        }
        assert_eq!(two_taken.load(Ordering::SeqCst), two_before, "no call to an address the name left");
        assert!(one_taken.load(Ordering::SeqCst) > one_before);
    }

    /// A gRPC server of [`TEST_SERVICE`] that answers every call with an empty success, and
    /// `CheckReady` with `UNAVAILABLE` while `ready` is false; counts the calls other than that.
    #[derive(Clone)]
    struct TestServer {
        ready: Arc<AtomicBool>,
        calls: Arc<AtomicUsize>,
    }

    impl tonic::server::NamedService for TestServer {
        const NAME: &'static str = TEST_SERVICE;
    }

    impl tower::Service<http::Request<tonic::body::Body>> for TestServer {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
            let status = if asks_readiness(request.uri().path()) {
                if self.ready.load(Ordering::SeqCst) {
                    tonic::Status::ok("")
                } else {
                    tonic::Status::unavailable("not ready")
                }
            } else {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tonic::Status::ok("")
            };
            std::future::ready(Ok(status.into_http()))
        }
    }

    /// A replica served as every service is ([`crate::grpc::serve`]): its URL, its server, and
    /// the token that starts its draining.
    async fn served_replica(
        token: &InternalToken,
    ) -> (String, TestServer, tokio_util::sync::CancellationToken) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server =
            TestServer { ready: Arc::new(AtomicBool::new(true)), calls: Arc::new(AtomicUsize::new(0)) };
        let draining = tokio_util::sync::CancellationToken::new();
        tokio::spawn(crate::grpc::serve(
            listener,
            server.clone(),
            token.clone(),
            ServiceTls::none(),
            draining.clone(),
            tokio_util::sync::CancellationToken::new(),
        ));
        (url, server, draining)
    }

    async fn calls(connection: &Connection, count: usize) {
        for _ in 0..count {
            let request = call_of("Hold");
            let response = connection.clone().oneshot(request).await.unwrap();
            assert_eq!(tonic::Status::from_header_map(response.headers()).unwrap().code(), tonic::Code::Ok);
        }
    }

    /// How often the tests that watch the probes have them made.
    const TEST_PROBES: Duration = Duration::from_millis(50);

    /// A connection to the replicas at `urls`, each probed every `probes`.
    fn connection_to(urls: &str, token: &InternalToken, probes: Duration) -> Connection {
        over_network_resolving(TEST_SERVICE, urls, token, &ServiceTls::none(), Resolution::dns(), probes)
            .unwrap()
    }

    /// A call of `method` of [`TEST_SERVICE`], with an empty body.
    fn call_of(method: &str) -> http::Request<tonic::body::Body> {
        http::Request::builder()
            .method("POST")
            .uri(format!("/{TEST_SERVICE}/{method}"))
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn a_replica_not_ready_or_draining_is_left_out_until_it_is_ready_again() {
        let token = InternalToken::parse(&"t".repeat(32)).unwrap();
        let (first_url, first, _) = served_replica(&token).await;
        let (second_url, second, second_draining) = served_replica(&token).await;
        let urls = format!("{first_url},{second_url}");
        let connection = connection_to(&urls, &token, TEST_PROBES);
        calls(&connection, 10).await;
        assert_eq!(first.calls.load(Ordering::SeqCst), 5, "calls go to each replica in turn");
        assert_eq!(second.calls.load(Ordering::SeqCst), 5);

        // The first says it is not ready: once probed, it gets no calls.
        first.ready.store(false, Ordering::SeqCst);
        tokio::time::sleep(TEST_PROBES * 6).await;
        calls(&connection, 10).await;
        assert_eq!(first.calls.load(Ordering::SeqCst), 5, "a replica not ready gets no calls");
        assert_eq!(second.calls.load(Ordering::SeqCst), 15);

        // Ready again: back in turn. The second starts draining (asked to stop): left out.
        first.ready.store(true, Ordering::SeqCst);
        second_draining.cancel();
        tokio::time::sleep(TEST_PROBES * 6).await;
        calls(&connection, 10).await;
        assert_eq!(first.calls.load(Ordering::SeqCst), 15, "a replica ready again gets calls");
        assert_eq!(second.calls.load(Ordering::SeqCst), 15, "a draining replica gets none");

        // Every replica left out: calls still go to them rather than fail.
        first.ready.store(false, Ordering::SeqCst);
        tokio::time::sleep(TEST_PROBES * 6).await;
        calls(&connection, 4).await;
        assert_eq!(first.calls.load(Ordering::SeqCst) + second.calls.load(Ordering::SeqCst), 34);
    }

    #[tokio::test]
    async fn a_replica_that_stops_answering_is_left_out_after_two_probes() {
        let token = InternalToken::parse(&"t".repeat(32)).unwrap();
        let (silent, _) = silent_replica().await;
        let (served_url, served, _) = served_replica(&token).await;
        let urls = format!("{silent},{served_url}");
        let connection = connection_to(&urls, &token, TEST_PROBES);
        // Two probes are not answered within their time: the silent replica is left out, and
        // every call goes to the other at once instead of waiting out its time on it.
        tokio::time::sleep(TEST_PROBES * 2 + PROBE_TIMEOUT + Duration::from_millis(300)).await;
        tokio::time::timeout(Duration::from_secs(5), calls(&connection, 10))
            .await
            .expect("no call waits for the silent replica");
        assert_eq!(served.calls.load(Ordering::SeqCst), 10);
    }

    #[tokio::test]
    async fn a_readiness_check_answered_not_ready_asks_the_next_replica() {
        let token = InternalToken::parse(&"t".repeat(32)).unwrap();
        let (first_url, _, first_draining) = served_replica(&token).await;
        let (second_url, _, second_draining) = served_replica(&token).await;
        let urls = format!("{first_url},{second_url}");
        let connection = connection_to(&urls, &token, NO_PROBES);
        let check_ready = || async {
            let request = call_of("CheckReady");
            let response = connection.clone().oneshot(request).await.unwrap();
            tonic::Status::from_header_map(response.headers()).unwrap().code()
        };
        // One replica shutting down: whichever is asked first, the answer is the other's.
        second_draining.cancel();
        for _ in 0..4 {
            assert_eq!(check_ready().await, tonic::Code::Ok);
        }
        // Both: not ready.
        first_draining.cancel();
        assert_eq!(check_ready().await, tonic::Code::Unavailable);
    }
}
