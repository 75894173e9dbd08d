//! Kumo's data plane: Cloud Run's front end for the services Kumo runs.
//!
//! A request reaches a service either on Kumo's main port with a `*.run.localhost` Host (the
//! binary hands such requests to [`Gateway::handle`]) or on the service's own
//! `127.0.0.1:SERVICEPORT` listener ([`Gateway::serve_service_ports`]). Each request goes through
//! the same phases, each a function that continues or answers: route → authenticate →
//! authorize → forward → record. The decision itself is the control plane's
//! ([`kumo_control::invoke`]); this crate is HTTP.

mod cores;
mod h1;
mod headers;
mod iap;
pub mod pages;
mod peer;
mod request_log;
mod rng;
mod text;
mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kumo_control::invoke::{
    InvocationDecision, InvocationRequest, ServiceRoute, Source, TokenHeader,
};
use kumo_control::per_thread::PerThread;
use kumo_control::runtime::Slot;
use kumo_control::{Control, Error, Mode};

pub use h1::Rewound;
pub use headers::{SIGNATURE_REMOVED, X_KUMO_EXPLANATION, X_SERVERLESS_AUTHORIZATION};
pub use upstream::Affinity;

/// Errors of streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every body the gateway sends or forwards.
pub type GatewayBody = UnsyncBoxBody<Bytes, BoxError>;

/// How long a host → service lookup is trusted before it is read again.
const HOST_TTL: Duration = Duration::from_secs(2);
/// How often listeners are reconciled even without a change notification.
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// Cloud Run's request-log texts for refusals (cloudrun-security-spec.md §2.6).
const LOG_403: &str = "The request was not authenticated. Either allow unauthenticated invocations or set the proper Authorization header. Read more at https://cloud.google.com/run/docs/securing/authenticating Additional troubleshooting documentation can be found at: https://cloud.google.com/run/docs/troubleshooting#unauthorized-client";
const LOG_401: &str = "The request was not authorized to invoke this service. Read more at https://cloud.google.com/run/docs/securing/authenticating Additional troubleshooting documentation can be found at: https://cloud.google.com/run/docs/troubleshooting#401";
const LOG_NO_INSTANCE: &str = "The request was aborted because there was no available instance. Additional troubleshooting documentation can be found at: https://cloud.google.com/run/docs/troubleshooting#abort-request";

/// Which door a request came through.
#[derive(Debug, Clone)]
pub enum Entry {
    /// Kumo's main port: the Host header names the service.
    Host,
    /// A service's own port.
    ServicePort(Arc<str>),
}

/// The connection a request arrived on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conn {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The local address it connected to.
    pub local: Option<SocketAddr>,
}

/// The data plane. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

/// A cached host lookup: when it was made, and the service (`None`: no service has the host).
type HostEntry = (Instant, Option<Arc<str>>);

struct Inner {
    control: Control,
    h1: Client<HttpConnector, GatewayBody>,
    h2: Client<HttpConnector, GatewayBody>,
    /// By Host (foldhash: SipHash of the host cost ≈ 270 instructions per request), per
    /// thread shard (read on every request by every I/O thread).
    hosts: PerThread<HashMap<String, HostEntry, foldhash::fast::RandomState>>,
    dialer: upstream::Dialer,
    /// How many I/O threads the fast path gets (0: none, it runs on the caller's runtime).
    io_threads: usize,
    /// Started at the first connection: a gateway that serves none starts no threads.
    cores: std::sync::OnceLock<Option<cores::Cores>>,
}

/// A phase either hands its result to the next one or answers the request.
enum Flow<T> {
    Continue(T),
    Respond(Response<GatewayBody>),
}

/// The request on its way to the instance, already stripped of hop-by-hop headers.
struct Upstream {
    parts: http::request::Parts,
    body: GatewayBody,
    upgrade: bool,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
}

/// What the invocation check let in: the token header whose signature the app must not see.
/// `X-Serverless-Authorization` always loses it; `Authorization` only when it is a user's CLI
/// token that Kumo checked (Cloud Run redacts gcloud tokens so the app cannot replay them).
struct Admitted {
    redact: Option<TokenHeader>,
}

/// What routing found.
struct Routed {
    /// Shared with the host cache (or the port's entry): routing copies no string.
    service: Arc<str>,
    tag: Option<String>,
    path: String,
}

/// What the front end knows of the request for its request log.
struct LogContext {
    method: http::Method,
    url: String,
    user_agent: Option<String>,
    referer: Option<String>,
    request_size: Option<u64>,
    protocol: &'static str,
    remote_ip: Option<text::IpText>,
    trace: headers::Trace,
    started: Instant,
    received: SystemTime,
}

/// `*.run.localhost[:port]`: the Host routes to the gateway.
pub fn is_gateway_host(host: &str) -> bool {
    const SUFFIX: &[u8] = b".run.localhost";
    let name = strip_port(host).trim_end_matches('.').as_bytes();
    name.len() > SUFFIX.len() && name[name.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX)
}

/// The Host of a request: the header, or the URI authority (HTTP/2).
pub fn request_host<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn full_body(text: impl Into<Bytes>) -> GatewayBody {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn html(status: StatusCode, page: String) -> Response<GatewayBody> {
    let mut resp = Response::new(full_body(page));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    resp
}

fn internal_error() -> Response<GatewayBody> {
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::server_error(
            500,
            "Internal Server Error",
            "The server encountered an error.",
        ),
    )
}

fn with_explanation(
    mut resp: Response<GatewayBody>,
    explanation: Option<&str>,
) -> Response<GatewayBody> {
    if let Some(text) = explanation
        && let Ok(v) = HeaderValue::from_str(text)
    {
        resp.headers_mut().insert(X_KUMO_EXPLANATION, v);
    }
    resp
}

impl Gateway {
    /// A gateway over `control` with one I/O thread per core.
    pub fn new(control: Control) -> Gateway {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Gateway::with_io_threads(control, cores)
    }

    /// A gateway over `control` whose HTTP/1.1 fast path runs on `io_threads` threads of its
    /// own (`cores.rs`); 0 runs it on the runtime that accepts the connections.
    pub fn with_io_threads(control: Control, io_threads: usize) -> Gateway {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let h1 = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector.clone());
        let h2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(connector);
        Gateway {
            inner: Arc::new(Inner {
                control,
                h1,
                h2,
                hosts: PerThread::default(),
                dialer: upstream::Dialer::default(),
                io_threads,
                cores: std::sync::OnceLock::new(),
            }),
        }
    }

    fn cores(&self) -> Option<&cores::Cores> {
        self.inner
            .cores
            .get_or_init(|| {
                if self.inner.io_threads == 0 {
                    return None;
                }
                cores::Cores::start(self.inner.io_threads)
                    .inspect_err(|error| {
                        tracing::warn!(%error, "no gateway I/O threads; serving on the main runtime");
                    })
                    .ok()
            })
            .as_ref()
    }

    /// Serves an accepted client connection: HTTP/1.1 on the fast path, on one of the
    /// gateway's I/O threads; from the first request that path does not take, `rest` gets the
    /// connection (with the bytes already read) on the runtime that called this — hyper, the
    /// API and the console never run on the I/O threads. Between requests the fast path stops
    /// when `shutdown` turns true. The handle ends when the connection does.
    pub fn spawn_connection<R, F>(
        &self,
        stream: tokio::net::TcpStream,
        entry: Arc<Entry>,
        conn: Conn,
        shutdown: tokio::sync::watch::Receiver<bool>,
        rest: R,
    ) -> tokio::task::JoinHandle<()>
    where
        R: FnOnce(Rewound) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let gateway = self.clone();
        let Some(cores) = self.cores() else {
            return tokio::spawn(async move {
                if let Some(rewound) = gateway.serve_http1(stream, &entry, conn, shutdown).await {
                    rest(rewound).await;
                }
            });
        };
        let home = tokio::runtime::Handle::current();
        // A tokio socket belongs to the runtime that registered it: it crosses as a std one.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%error, "connection");
                return tokio::spawn(async {});
            }
        };
        cores.spawn(async move {
            let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                return;
            };
            let Some(rewound) = gateway.serve_http1(stream, &entry, conn, shutdown).await else {
                return;
            };
            let Ok(detached) = rewound.detach() else {
                return;
            };
            let rest = home.spawn(async move {
                if let Ok(rewound) = detached.attach() {
                    rest(rewound).await;
                }
            });
            let _ = rest.await;
        })
    }

    fn control(&self) -> &Control {
        &self.inner.control
    }

    /// Serve one request that came through `entry` on a client connection whose upstream
    /// connection `affinity` holds.
    pub async fn handle<B>(
        &self,
        req: Request<B>,
        entry: &Entry,
        conn: Conn,
        affinity: &Affinity,
    ) -> Response<GatewayBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut req = req.map(|b| b.map_err(Into::into).boxed_unsync());
        let log = log_context(&req, conn);
        let routed = match self.route(&req, entry) {
            Flow::Continue(r) => r,
            Flow::Respond(resp) => return resp,
        };
        let upgrade = headers::is_upgrade(req.headers());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        // IAP reads Proxy-Authorization, a hop-by-hop header the stripping removes.
        let proxy_authorization = parts.headers.get(header::PROXY_AUTHORIZATION).cloned();
        headers::strip_inbound(&mut parts.headers, upgrade);
        let (route, source) = match self.admit_route(&routed, conn) {
            Flow::Continue(admitted) => admitted,
            Flow::Respond(resp) => return resp,
        };
        // Only services with IAP on pay for the IAP phase (it reads the store). Forged IAP
        // identity headers go everywhere.
        if route.iap_enabled {
            match iap::iap_phase(
                self.control(),
                &routed.service,
                &mut parts,
                proxy_authorization.as_ref(),
            ) {
                iap::IapFlow::Off => {}
                iap::IapFlow::Admitted { user } => {
                    tracing::debug!(user = %user.email, service = %routed.service, "IAP admitted");
                }
                iap::IapFlow::Preflight => {}
                iap::IapFlow::Respond { response, log_text } => {
                    let resp = response.map(full_body);
                    self.record_refusal(&routed, &route, &log, resp.status(), log_text.as_deref());
                    return resp;
                }
            }
        } else {
            iap::strip_identity_headers(&mut parts.headers);
        }
        let presented = headers::presented_token(&parts.headers);
        let admitted = match self.admit_caller(&routed, &route, &presented, source, &log) {
            Flow::Continue(admitted) => admitted,
            Flow::Respond(resp) => return resp,
        };
        let request = Upstream {
            parts,
            body,
            upgrade,
            client_upgrade,
        };
        let (resp, revision) = self
            .forward(request, &routed, &route, &admitted, &log, conn, affinity)
            .await;
        self.record(&route, revision, &log, resp.status(), None);
        resp
    }

    /// The request log of a refusal names the revision traffic would have gone to.
    fn record_refusal(
        &self,
        routed: &Routed,
        route: &ServiceRoute,
        log: &LogContext,
        status: StatusCode,
        text: Option<&str>,
    ) {
        let revision = match &routed.tag {
            Some(tag) => route.tagged_revision(tag),
            None => route.pick_revision(crate::rng::percent()),
        };
        self.record(route, revision, log, status, text);
    }

    /// Route: which service (and tag) the request is for; 404 when none.
    fn route(&self, req: &Request<GatewayBody>, entry: &Entry) -> Flow<Routed> {
        self.route_to(request_host(req), req.uri().path(), entry)
    }

    /// [`Gateway::route`] from the Host and the path.
    fn route_to(&self, host: Option<&str>, path: &str, entry: &Entry) -> Flow<Routed> {
        let path = path.to_owned();
        let (service, tag) = match entry {
            Entry::ServicePort(service) => (Some(Arc::clone(service)), None),
            Entry::Host => {
                let host = host.unwrap_or_default();
                let host = strip_port(host);
                // Hosts come lower-case from every client we know: no copy for those.
                let name: std::borrow::Cow<'_, str> =
                    if host.bytes().any(|b| b.is_ascii_uppercase()) {
                        host.to_ascii_lowercase().into()
                    } else {
                        host.into()
                    };
                // A byte scan: `split_once("---")` sets up a substring searcher per request.
                let (tag, rest) = match name.as_bytes().windows(3).position(|w| w == b"---") {
                    Some(at) => (Some(name[..at].to_owned()), &name[at + 3..]),
                    None => (None, &name[..]),
                };
                (self.service_for_host(rest), tag)
            }
        };
        let reserved = path == "/eventlog" || path.starts_with("/_ah/") || path == "/healthz";
        match service {
            Some(service) if !reserved => Flow::Continue(Routed { service, tag, path }),
            _ => Flow::Respond(html(StatusCode::NOT_FOUND, pages::not_found(&path))),
        }
    }

    fn service_for_host(&self, host: &str) -> Option<Arc<str>> {
        let cached = self.inner.hosts.with(|hosts| {
            hosts
                .get(host)
                .filter(|(at, _)| at.elapsed() < HOST_TTL)
                .map(|(_, service)| service.clone())
        });
        if let Some(service) = cached {
            return service;
        }
        let service = match self.control().service_for_host(host) {
            Ok(s) => s.map(Arc::from),
            Err(e) => {
                tracing::warn!(error = %e, host, "host lookup failed");
                return None;
            }
        };
        self.inner.hosts.with(|hosts| {
            if hosts.len() > 10_000 {
                hosts.clear();
            }
            hosts.insert(host.to_owned(), (Instant::now(), service.clone()));
        });
        service
    }

    /// Authenticate + authorize: the control plane's invocation decision.
    /// The service's routing facts (read once, cached in the control plane) and the request's
    /// source, when ingress admits it. Ingress comes first: a request it excludes gets Cloud
    /// Run's 404 before IAP or the invoker check look at it.
    fn admit_route(&self, routed: &Routed, conn: Conn) -> Flow<(Arc<ServiceRoute>, Source)> {
        let route = match self.control().service_route(&routed.service) {
            Ok(Some(route)) => route,
            Ok(None) => {
                return Flow::Respond(html(StatusCode::NOT_FOUND, pages::not_found(&routed.path)));
            }
            Err(e) => {
                tracing::error!(error = %e, service = %routed.service, "service lookup failed");
                return Flow::Respond(internal_error());
            }
        };
        let source = self.source(&route, conn);
        if !route.admits(source) {
            return Flow::Respond(html(StatusCode::NOT_FOUND, pages::not_found(&routed.path)));
        }
        Flow::Continue((route, source))
    }

    /// The revision that takes the request (its tag's, or by the traffic split) and a slot
    /// on one of its instances; or the answer when there is none (404, 429 logged, 503) and
    /// the revision it was for.
    async fn instance<'r>(
        &self,
        routed: &Routed,
        route: &'r ServiceRoute,
        log: &LogContext,
    ) -> Result<(&'r str, Slot), (Response<GatewayBody>, Option<&'r str>)> {
        let roll = crate::rng::percent();
        let revision = match &routed.tag {
            Some(tag) => route.tagged_revision(tag),
            None => route.pick_revision(roll),
        };
        let Some(revision) = revision else {
            return Err((
                html(StatusCode::NOT_FOUND, pages::not_found(&routed.path)),
                None,
            ));
        };
        match self.control().acquire_instance(revision).await {
            Ok(slot) => Ok((revision, slot)),
            Err(Error::ResourceExhausted { .. }) => {
                let resp = html(StatusCode::TOO_MANY_REQUESTS, pages::too_many_requests());
                self.record(
                    route,
                    Some(revision),
                    log,
                    resp.status(),
                    Some(LOG_NO_INSTANCE),
                );
                Err((resp, Some(revision)))
            }
            Err(e) => {
                tracing::warn!(error = %e, %revision, "no instance");
                let resp = html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::server_error(
                        503,
                        "Service Unavailable",
                        "The request failed because the instance could not start successfully.",
                    ),
                );
                Err((resp, Some(revision)))
            }
        }
    }

    /// The invoker check on the caller's token; a refusal is logged as Cloud Run does (not a
    /// 404: the caller learns nothing about the service from it, and Cloud Run writes no entry).
    fn admit_caller(
        &self,
        routed: &Routed,
        route: &Arc<ServiceRoute>,
        presented: &headers::Presented,
        source: Source,
        log: &LogContext,
    ) -> Flow<Admitted> {
        let (token, via_header) = match presented {
            headers::Presented::None => (None, TokenHeader::Authorization),
            headers::Presented::Token {
                token,
                x_serverless,
            } => (Some(*token), via(*x_serverless)),
            // Not one bearer JWT: the verifier refuses it as malformed (401) on private services.
            headers::Presented::Malformed { x_serverless } => {
                (Some("malformed, not a bearer JWT"), via(*x_serverless))
            }
        };
        let request = InvocationRequest {
            service: &routed.service,
            token,
            via_header,
            source,
        };
        let dev = self.control().config().mode == Mode::Dev;
        let refusal = match self
            .control()
            .invocation_decision_on(Arc::clone(route), &request)
        {
            Ok(InvocationDecision::Allowed { cli_user_token, .. }) => {
                let redact = match presented {
                    headers::Presented::Token {
                        x_serverless: true, ..
                    } => Some(TokenHeader::XServerless),
                    headers::Presented::Token {
                        x_serverless: false,
                        ..
                    } if cli_user_token => Some(TokenHeader::Authorization),
                    _ => None,
                };
                return Flow::Continue(Admitted { redact });
            }
            Ok(InvocationDecision::NotFound) => {
                return Flow::Respond(html(StatusCode::NOT_FOUND, pages::not_found(&routed.path)));
            }
            Ok(InvocationDecision::Unauthorized {
                reason,
                explanation,
                ..
            }) => {
                tracing::debug!(?reason, service = %routed.service, "401");
                let resp = html(StatusCode::UNAUTHORIZED, pages::unauthorized(&routed.path));
                with_explanation(resp, explanation.as_deref().filter(|_| dev))
            }
            Ok(InvocationDecision::Forbidden { explanation, .. }) => {
                let resp = html(StatusCode::FORBIDDEN, pages::forbidden(&routed.path));
                with_explanation(resp, explanation.as_deref().filter(|_| dev))
            }
            Err(e) => {
                tracing::error!(error = %e, service = %routed.service, "invocation decision failed");
                internal_error()
            }
        };
        self.record_refusal(routed, route, log, refusal.status(), None);
        Flow::Respond(refusal)
    }

    /// Internal only matters for services that restrict ingress; the /proc walk is skipped
    /// otherwise.
    fn source(&self, route: &ServiceRoute, conn: Conn) -> Source {
        match (route.ingress_restricted(), conn.peer, conn.local) {
            (true, Some(peer), Some(local)) => {
                let groups = self.control().runtime().workload_process_groups();
                if peer::is_workload(peer, local, &groups) {
                    Source::Internal
                } else {
                    Source::External
                }
            }
            _ => Source::External,
        }
    }

    /// Forward to an instance of the chosen revision and stream the answer back.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the phase needs all of it"
    )]
    async fn forward<'r>(
        &self,
        request: Upstream,
        routed: &Routed,
        route: &'r ServiceRoute,
        admitted: &Admitted,
        log: &LogContext,
        conn: Conn,
        affinity: &Affinity,
    ) -> (Response<GatewayBody>, Option<&'r str>) {
        let Upstream {
            mut parts,
            body,
            upgrade,
            client_upgrade,
        } = request;
        let (revision, slot) = match self.instance(routed, route, log).await {
            Ok(picked) => picked,
            Err(refused) => return refused,
        };
        let host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        headers::add_forwarding(&mut parts.headers, conn.peer.map(|p| p.ip()), &log.trace);
        match admitted.redact {
            Some(TokenHeader::XServerless) => {
                headers::redact_header(&mut parts.headers, X_SERVERLESS_AUTHORIZATION);
            }
            Some(TokenHeader::Authorization) => {
                headers::redact_header(&mut parts.headers, header::AUTHORIZATION.as_str());
            }
            None => {}
        }
        let h2c = slot.info.h2c;
        let timeout = slot.info.timeout;
        let answer = if h2c || upgrade {
            // The pooled clients: HTTP/2 multiplexes on its own, and an upgraded connection
            // leaves HTTP for good.
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let uri = match format!("http://{}{path}", slot.addr).parse::<http::Uri>() {
                Ok(uri) => uri,
                Err(_) => {
                    return (
                        html(StatusCode::BAD_REQUEST, pages::not_found(&routed.path)),
                        Some(revision),
                    );
                }
            };
            parts.uri = uri;
            if h2c {
                parts.version = Version::HTTP_2;
                parts.headers.remove(header::HOST);
            } else {
                parts.version = Version::HTTP_11;
                if let Some(host) = host {
                    parts.headers.insert(header::HOST, host);
                }
            }
            let client = if h2c { &self.inner.h2 } else { &self.inner.h1 };
            tokio::time::timeout(timeout, client.request(Request::from_parts(parts, body)))
                .await
                .map(|r| r.map_err(BoxError::from))
        } else {
            // Origin form: an HTTP/2 client's request carries an absolute URI.
            if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
                let origin = parts
                    .uri
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
                parts.uri = http::Uri::from(origin);
            }
            parts.version = Version::HTTP_11;
            if let Some(host) = host {
                parts.headers.insert(header::HOST, host);
            }
            let upstream = Request::from_parts(parts, body);
            tokio::time::timeout(
                timeout,
                affinity.send(&self.inner.dialer, slot.addr, upstream),
            )
            .await
        };
        let mut resp = match answer {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, %revision, "instance unreachable");
                let resp = html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::server_error(
                        503,
                        "Service Unavailable",
                        "The service is temporarily unavailable.",
                    ),
                );
                return (resp, Some(revision));
            }
            Err(_) => {
                let mut resp = Response::new(full_body("upstream request timeout"));
                *resp.status_mut() = StatusCode::GATEWAY_TIMEOUT;
                return (resp, Some(revision));
            }
        };
        if upgrade && resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            let instance_upgrade = hyper::upgrade::on(&mut resp);
            if let Some(client_upgrade) = client_upgrade {
                tokio::spawn(tunnel(client_upgrade, instance_upgrade, slot));
            }
            let (mut parts, _) = resp.into_parts();
            headers::strip_outbound(&mut parts.headers, true);
            return (
                Response::from_parts(parts, full_body(Bytes::new())),
                Some(revision),
            );
        }
        let (mut parts, body) = resp.into_parts();
        headers::strip_outbound(&mut parts.headers, false);
        let body = Held {
            inner: body.map_err(BoxError::from).boxed_unsync(),
            _slot: slot,
        }
        .boxed_unsync();
        (Response::from_parts(parts, body), Some(revision))
    }

    /// Record: the request-log entry Cloud Run writes (§2.7), batched through the runtime.
    fn record(
        &self,
        route: &ServiceRoute,
        revision: Option<&str>,
        log: &LogContext,
        status: StatusCode,
        text: Option<&str>,
    ) {
        let text = text.or(match status {
            StatusCode::FORBIDDEN => Some(LOG_403),
            StatusCode::UNAUTHORIZED => Some(LOG_401),
            _ => None,
        });
        thread_local! {
            /// An entry's JSON on its way into the log queue: one buffer per worker thread, so
            /// that a request allocates nothing for its log entry.
            static ENTRY: std::cell::RefCell<Vec<u8>> =
                std::cell::RefCell::new(Vec::with_capacity(1024));
        }
        ENTRY.with_borrow_mut(|json| {
            let Some(c) = request_log::request_log_entry(json, route, revision, log, status, text)
            else {
                return;
            };
            // Written from text and ASCII only: one check of the whole entry, not one per piece.
            let Ok(json) = std::str::from_utf8(json) else {
                tracing::error!("request log entry is not UTF-8; dropped");
                return;
            };
            self.control().runtime().append_log_with(|batch| {
                batch.push_parts(
                    c.timestamp_nanos,
                    c.severity,
                    &request_log::log_name(&route.project_id),
                    Some(request_log::RESOURCE_TYPE),
                    json,
                )
            });
        });
    }

    /// Listen on every service's own port until `shutdown` turns true, following service
    /// creation and deletion.
    pub async fn serve_service_ports(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut changes = self.control().endpoint_changes();
        let mut listeners: HashMap<u16, (String, tokio::task::JoinHandle<()>)> = HashMap::new();
        loop {
            self.reconcile(&mut listeners, &shutdown).await;
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep(RECONCILE_EVERY) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
        }
        for (_, (_, task)) in listeners {
            task.abort();
        }
    }

    async fn reconcile(
        &self,
        listeners: &mut HashMap<u16, (String, tokio::task::JoinHandle<()>)>,
        shutdown: &tokio::sync::watch::Receiver<bool>,
    ) {
        let wanted = match self.control().service_ports() {
            Ok(ports) => ports,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list service ports");
                return;
            }
        };
        let wanted_map: HashMap<u16, String> = wanted.into_iter().collect();
        listeners.retain(|port, (service, task)| {
            let keep = wanted_map.get(port) == Some(service) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for (port, service) in wanted_map {
            if listeners.contains_key(&port) {
                continue;
            }
            // A port allocated by this process is already bound (reserved at allocation).
            let bound = match self.control().take_reserved_listener(port) {
                Some(reserved) => reserved
                    .set_nonblocking(true)
                    .and_then(|()| tokio::net::TcpListener::from_std(reserved)),
                None => tokio::net::TcpListener::bind(("127.0.0.1", port)).await,
            };
            match bound {
                Ok(listener) => {
                    tracing::info!(port, %service, "service listener");
                    let task = tokio::spawn(self.clone().accept_loop(
                        listener,
                        Entry::ServicePort(Arc::from(service.as_str())),
                        shutdown.clone(),
                    ));
                    listeners.insert(port, (service, task));
                }
                Err(e) => {
                    tracing::warn!(port, %service, error = %e, "cannot listen on the service port")
                }
            }
        }
    }

    /// Accept connections on `listener` (HTTP/1.1 with upgrades, and h2c) until shutdown.
    pub async fn accept_loop(
        self,
        listener: tokio::net::TcpListener,
        entry: Entry,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let entry = Arc::new(entry);
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "accept");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let conn = Conn {
                peer: Some(peer),
                local: stream.local_addr().ok(),
            };
            let gateway = self.clone();
            let affinity = Affinity::new();
            let rest_entry = Arc::clone(&entry);
            // HTTP/1.1 on the fast path; hyper from the first request it does not take.
            self.spawn_connection(
                stream,
                Arc::clone(&entry),
                conn,
                shutdown.clone(),
                move |stream| async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let gateway = gateway.clone();
                            let entry = Arc::clone(&rest_entry);
                            let affinity = affinity.clone();
                            async move {
                                Ok::<_, std::convert::Infallible>(
                                    gateway.handle(req, &entry, conn, &affinity).await,
                                )
                            }
                        });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    if let Err(e) = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %e, "connection");
                    }
                },
            );
        }
    }
}

fn via(x_serverless: bool) -> TokenHeader {
    if x_serverless {
        TokenHeader::XServerless
    } else {
        TokenHeader::Authorization
    }
}

/// Copies bytes both ways between the client and the instance after a 101.
async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    instance: hyper::upgrade::OnUpgrade,
    slot: Slot,
) {
    let (client, instance) = match (client.await, instance.await) {
        (Ok(c), Ok(i)) => (c, i),
        (c, i) => {
            tracing::debug!(client = c.is_ok(), instance = i.is_ok(), "upgrade failed");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut instance = TokioIo::new(instance);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut instance).await;
    drop(slot);
}

/// A response body that keeps its instance slot reserved until it is fully sent (for
/// `containerConcurrency`).
struct Held {
    inner: GatewayBody,
    _slot: Slot,
}

impl Body for Held {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn log_context(req: &Request<GatewayBody>, conn: Conn) -> LogContext {
    let header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let host = request_host(req).unwrap_or("localhost");
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    LogContext {
        method: req.method().clone(),
        url: format!("http://{host}{path}"),
        user_agent: header(header::USER_AGENT),
        referer: header(header::REFERER),
        request_size: req.body().size_hint().exact(),
        protocol: match req.version() {
            Version::HTTP_2 => "HTTP/2",
            Version::HTTP_10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        },
        remote_ip: conn.peer.map(|p| text::IpText::of(p.ip())),
        trace: headers::Trace::of(req.headers()),
        started: Instant::now(),
        received: SystemTime::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_hosts() {
        assert!(is_gateway_host("hello-123.us-central1.run.localhost:8080"));
        assert!(is_gateway_host("hello-abcdefghij-uc.a.run.localhost"));
        assert!(is_gateway_host("HELLO-1.R.RUN.LOCALHOST"));
        assert!(!is_gateway_host("run.localhost"));
        assert!(!is_gateway_host("127.0.0.1:8080"));
        assert!(!is_gateway_host("example.com"));
    }
}
