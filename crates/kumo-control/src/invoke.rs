//! The invocation decision of the data plane (cloudrun-security-spec.md §2), in Cloud Run's
//! order: ingress (404, no log) → invoker check disabled (allow, no authentication) → public
//! through `allUsers` (allow, the token is not looked at) → the ID token (401: malformed, bad
//! signature, expired, wrong audience, not an ID token) → `run.routes.invoke` through the IAM
//! engine over the real ancestry (403).
//!
//! The hot path reads no store for unchanged data: service routing facts are cached until the
//! service is written ([`Control::invalidate_service`]) or briefly at most; verified tokens are
//! cached until they expire; decisions are cached per IAM generation, so an IAM change takes
//! effect on the very next request — or, with `kumo up --iam-propagation-delay DELAY`, on the
//! first request DELAY after it was committed (until then the decision made on the policies as
//! they were before the change holds; see [`Control::set_iam_propagation_delay`]).

use std::collections::HashMap;
use std::sync::Arc;

use crate::per_thread::PerThread;
use std::time::{Duration, Instant};

use kumo_wire::run_v2::{IngressTraffic, Service, TrafficTargetAllocationType};
use serde_json::Value;

use crate::records::Collection;
use crate::{Caller, Control, Error, Mode, ResourceRef};

/// The permission Cloud Run checks on every request.
pub const INVOKE_PERMISSION: &str = "run.routes.invoke";
/// gcloud's user ID tokens carry its OAuth client as `aud`; Kumo's CLI is `kumo-cli` (spec §2.1).
pub const CLI_CLIENT_ID: &str = "kumo-cli";
/// A routing fact is re-read at least this often even without an invalidation (a safety net for
/// writers that do not call [`Control::invalidate_service`]).
const ROUTE_TTL: Duration = Duration::from_secs(2);
/// Bounds of the caches (entries); when full, expired entries go first, then everything.
const TOKEN_CACHE_MAX: usize = 10_000;
const DECISION_CACHE_MAX: usize = 50_000;
/// Clock skew tolerated on `exp`/`iat`/`nbf` (Google's libraries allow a few seconds).
const LEEWAY: i64 = 5;

/// Which header carried the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHeader {
    /// `Authorization: Bearer …`.
    Authorization,
    /// `X-Serverless-Authorization: Bearer …` (wins when both are sent).
    XServerless,
}

/// Where the request comes from, for the ingress setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Anything but Kumo's own workloads.
    External,
    /// A Kumo workload (Cloud Run's "internal").
    Internal,
}

/// One request to decide on.
#[derive(Debug, Clone, Copy)]
pub struct InvocationRequest<'a> {
    /// The service, `projects/PROJECT_ID/locations/L/services/S`.
    pub service: &'a str,
    /// The bearer token (without `Bearer `), from the header that wins.
    pub token: Option<&'a str>,
    /// Which header it came from.
    pub via_header: TokenHeader,
    /// External or internal.
    pub source: Source,
}

/// Why a token was refused (401). Logged, never sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Not a JWT, or several of them.
    Malformed,
    /// An access token (`ya29.`) or another non-ID token.
    NotIdToken,
    /// The signature, algorithm or key id does not verify.
    BadSignature,
    /// `exp` passed or `iat`/`nbf` in the future.
    Expired,
    /// `aud` is none of the service's audiences.
    WrongAudience,
    /// Anything else the verifier refused (issuer, missing claims).
    Invalid(String),
}

/// The decision.
#[derive(Debug, Clone)]
pub enum InvocationDecision {
    /// 404 and no request log: unknown service, or the ingress setting excludes the source.
    NotFound,
    /// Forward to the service.
    Allowed {
        /// The service's routing facts.
        route: Arc<ServiceRoute>,
        /// Who called (anonymous for public services and the disabled check).
        caller: Caller,
        /// A user's CLI token (`aud` = the CLI client) was admitted: Cloud Run redacts such a
        /// token's signature before the app sees it.
        cli_user_token: bool,
    },
    /// 401.
    Unauthorized {
        /// The service's routing facts.
        route: Arc<ServiceRoute>,
        /// Why.
        reason: TokenRefusal,
        /// Dev mode only: a one-line explanation.
        explanation: Option<String>,
    },
    /// 403: no token on a private service, or the caller lacks `run.routes.invoke`.
    Forbidden {
        /// The service's routing facts.
        route: Arc<ServiceRoute>,
        /// Who called.
        caller: Caller,
        /// Dev mode only: the missing permission and the command that grants it.
        explanation: Option<String>,
    },
}

/// What the data plane needs about a service, read once per service write.
#[derive(Debug, Clone)]
pub struct ServiceRoute {
    /// `projects/PROJECT_ID/locations/L/services/S`.
    pub name: String,
    /// Project id.
    pub project_id: String,
    /// Project number (0-less string; empty when unknown).
    pub project_number: String,
    /// Region.
    pub location: String,
    /// Service id.
    pub service: String,
    /// The ingress setting.
    pub ingress: IngressTraffic,
    /// `invokerIamDisabled`.
    pub invoker_iam_disabled: bool,
    /// `iapEnabled`: IAP decides before Cloud Run does.
    pub iap_enabled: bool,
    /// Accepted `aud` values: the service's URLs, then its custom audiences.
    pub audiences: Vec<String>,
    /// How many of `audiences` are the service's URLs.
    pub url_audiences: usize,
    /// Serving revisions (full names) and their percent.
    pub traffic: Vec<(String, u32)>,
    /// Tags → revision full names (`TAG---SERVICE…` URLs).
    pub tags: Vec<(String, String)>,
    /// The store revision of the service record this was built from.
    pub record_revision: u64,
}

impl ServiceRoute {
    /// Whether an ID token for `aud` may invoke the service: one of its audiences exactly, or
    /// one of its URLs with a trailing slash (Google's service-to-service samples write the
    /// audience that way: `https://my-cloud-run-service.run.app/`). Custom audiences match
    /// only exactly.
    pub fn accepts_audience(&self, aud: &str) -> bool {
        self.audiences.iter().any(|a| a == aud)
            || aud.strip_suffix('/').is_some_and(|url| {
                self.audiences[..self.url_audiences.min(self.audiences.len())]
                    .iter()
                    .any(|a| a == url)
            })
    }

    /// The IAM resource.
    pub fn resource(&self) -> ResourceRef {
        ResourceRef::RunService {
            project: self.project_id.clone(),
            location: self.location.clone(),
            service: self.service.clone(),
        }
    }

    /// Whether only some sources may call (internal ingress settings).
    pub fn ingress_restricted(&self) -> bool {
        !matches!(
            self.ingress,
            IngressTraffic::All | IngressTraffic::Unspecified
        )
    }

    /// Whether the ingress setting lets a request from `source` in (else: 404, before anything
    /// else is looked at — IAP included).
    pub fn admits(&self, source: Source) -> bool {
        match self.ingress {
            IngressTraffic::All | IngressTraffic::Unspecified => true,
            IngressTraffic::InternalOnly | IngressTraffic::InternalLoadBalancer => {
                source == Source::Internal
            }
            IngressTraffic::None => false,
        }
    }

    /// A revision by traffic percent; `roll` is uniform in 0..100.
    pub fn pick_revision(&self, roll: u32) -> Option<&str> {
        let mut acc = 0;
        for (revision, percent) in &self.traffic {
            acc += percent;
            if roll < acc {
                return Some(revision);
            }
        }
        self.traffic
            .iter()
            .rev()
            .find(|(_, p)| *p > 0)
            .map(|(r, _)| r.as_str())
    }

    /// The revision a traffic tag names.
    pub fn tagged_revision(&self, tag: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, r)| r.as_str())
    }
}

/// A verified ID token, cached until it expires.
#[derive(Debug, Clone)]
struct VerifiedToken {
    caller: Caller,
    audiences: Vec<String>,
    exp: i64,
}

/// A cached routing fact: when it was read, and the route (`None`: no such service).
type RouteEntry = (Instant, Option<Arc<ServiceRoute>>);
/// Decisions of one IAM generation, by service and then caller (looked up without allocating).
type Decisions = (u64, FastMap<String, FastMap<Caller, bool>>);

/// The data plane hashes a ~1 KiB token and service and revision names per request: foldhash (seeded
/// per process) instead of SipHash, which cost ≈ 4,500 instructions per request.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The data plane's caches, one per thread shard (see [`PerThread`]: the gateway's I/O
/// threads read them on every request).
pub(crate) struct InvokeCaches {
    routes: PerThread<FastMap<String, RouteEntry>>,
    tokens: PerThread<FastMap<Box<str>, Arc<VerifiedToken>>>,
    decisions: PerThread<Decisions>,
    endpoints: tokio::sync::watch::Sender<u64>,
}

impl InvokeCaches {
    pub(crate) fn new() -> InvokeCaches {
        InvokeCaches {
            routes: PerThread::default(),
            tokens: PerThread::default(),
            decisions: PerThread::default(),
            endpoints: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Forget a service's routing facts and tell the gateway to reconcile its listeners.
    pub(crate) fn service_changed(&self, service_name: &str) {
        self.routes.each(|routes| {
            routes.remove(service_name);
        });
        self.endpoints.send_modify(|n| *n += 1);
    }
}

impl Control {
    fn invoke_caches(&self) -> &InvokeCaches {
        self.runtime().invoke_caches()
    }

    /// Drop what the data plane knows about `service_name` (call after every write of the service
    /// or its revisions); listeners are reconciled too.
    pub fn invalidate_service(&self, service_name: &str) {
        self.invoke_caches().service_changed(service_name);
    }

    /// Changes whenever a service was written: the gateway re-reads which ports to listen on.
    pub fn endpoint_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.invoke_caches().endpoints.subscribe()
    }

    /// Every allocated service port and its service (`projects/P/locations/L/services/S`): the
    /// gateway listens on each.
    pub fn service_ports(&self) -> Result<Vec<(u16, String)>, Error> {
        let mut out = Vec::new();
        let mut query = kumo_store::ListQuery {
            parent: kumo_store::ParentFilter::Is(crate::run::urls::ENDPOINTS_PARENT.to_owned()),
            name_prefix: Some("endpoints/ports/".to_owned()),
            ..Default::default()
        };
        loop {
            let page = self
                .store()
                .list(Collection::Services.as_str(), &query)
                .map_err(crate::records::store_error)?;
            for record in &page.records {
                let port = record
                    .name
                    .rsplit('/')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok());
                if let (Some(port), Some(service)) = (port, record.data["service"].as_str()) {
                    out.push((port, service.to_owned()));
                }
            }
            match page.next_page_token {
                Some(token) => query.page_token = Some(token),
                None => return Ok(out),
            }
        }
    }

    /// The routing facts of a service (cached), `None` when it does not exist.
    pub fn service_route(&self, service_name: &str) -> Result<Option<Arc<ServiceRoute>>, Error> {
        let cached = self.invoke_caches().routes.with(|routes| {
            routes
                .get(service_name)
                .filter(|(at, _)| at.elapsed() < ROUTE_TTL)
                .map(|(_, route)| route.clone())
        });
        if let Some(route) = cached {
            return Ok(route);
        }
        let route = self.read_route(service_name)?.map(Arc::new);
        self.invoke_caches().routes.with(|routes| {
            routes.insert(service_name.to_owned(), (Instant::now(), route.clone()));
        });
        Ok(route)
    }

    fn read_route(&self, service_name: &str) -> Result<Option<ServiceRoute>, Error> {
        let Some(record) = self
            .store()
            .get(Collection::Services.as_str(), service_name)
            .map_err(crate::records::store_error)?
        else {
            return Ok(None);
        };
        let parts: Vec<&str> = service_name.split('/').collect();
        let [
            "projects",
            project,
            "locations",
            location,
            "services",
            service,
        ] = parts.as_slice()
        else {
            return Ok(None);
        };
        let wire: Service = serde_json::from_value(record.data)
            .map_err(|e| Error::internal(format!("corrupt service {service_name}: {e}")))?;
        let project_number = self
            .resolve_project(project)?
            .map(|p| p.number)
            .unwrap_or_default();
        let ingress = wire.ingress.unwrap_or(IngressTraffic::All);
        let invoker_iam_disabled = wire.invoker_iam_disabled
            || wire
                .annotations
                .get("run.googleapis.com/invoker-iam-disabled")
                .is_some_and(|v| v == "true");
        let mut audiences = wire.urls.clone();
        if !wire.uri.is_empty() && !audiences.contains(&wire.uri) {
            audiences.push(wire.uri.clone());
        }
        let url_audiences = audiences.len();
        audiences.extend(wire.custom_audiences.iter().cloned());
        let prefix = format!("{service_name}/revisions/");
        let full = |r: &str| {
            if r.contains('/') {
                r.to_owned()
            } else {
                format!("{prefix}{r}")
            }
        };
        let latest = if wire.latest_ready_revision.is_empty() {
            wire.latest_created_revision.clone()
        } else {
            wire.latest_ready_revision.clone()
        };
        let mut traffic = Vec::new();
        let mut tags = Vec::new();
        let targets = if wire.traffic.is_empty() {
            vec![kumo_wire::run_v2::TrafficTarget {
                kind: Some(TrafficTargetAllocationType::Latest),
                percent: Some(100),
                ..Default::default()
            }]
        } else {
            wire.traffic.clone()
        };
        for target in &targets {
            let revision = match target.kind {
                Some(TrafficTargetAllocationType::Latest) => latest.clone(),
                _ if target.revision.is_empty() => latest.clone(),
                _ => target.revision.clone(),
            };
            if revision.is_empty() {
                continue;
            }
            let revision = full(&revision);
            let percent = u32::try_from(target.percent.unwrap_or(0)).unwrap_or(0);
            if percent > 0 {
                traffic.push((revision.clone(), percent));
            }
            if !target.tag.is_empty() {
                tags.push((target.tag.clone(), revision));
            }
        }
        Ok(Some(ServiceRoute {
            name: service_name.to_owned(),
            project_id: (*project).to_owned(),
            project_number,
            location: (*location).to_owned(),
            service: (*service).to_owned(),
            ingress,
            invoker_iam_disabled,
            iap_enabled: wire.iap_enabled,
            audiences,
            url_audiences,
            traffic,
            tags,
            record_revision: record.revision,
        }))
    }

    /// Decide on one request (see the module comment for the order).
    pub fn invocation_decision(
        &self,
        request: &InvocationRequest<'_>,
    ) -> Result<InvocationDecision, Error> {
        let Some(route) = self.service_route(request.service)? else {
            return Ok(InvocationDecision::NotFound);
        };
        self.invocation_decision_on(route, request)
    }

    /// [`Control::invocation_decision`] for a caller that already holds the service's route
    /// (the gateway reads it once per request).
    pub fn invocation_decision_on(
        &self,
        route: Arc<ServiceRoute>,
        request: &InvocationRequest<'_>,
    ) -> Result<InvocationDecision, Error> {
        if !route.admits(request.source) {
            return Ok(InvocationDecision::NotFound);
        }
        if route.invoker_iam_disabled {
            return Ok(InvocationDecision::Allowed {
                route,
                caller: Caller::Anonymous,
                cli_user_token: false,
            });
        }
        // Public through allUsers: Cloud Run does not look at the token at all then.
        if self.invoke_allowed(&route, &Caller::Anonymous)? {
            return Ok(InvocationDecision::Allowed {
                route,
                caller: Caller::Anonymous,
                cli_user_token: false,
            });
        }
        let Some(token) = request.token else {
            let explanation = self.refusal_explanation(&route, &Caller::Anonymous);
            return Ok(InvocationDecision::Forbidden {
                route,
                caller: Caller::Anonymous,
                explanation,
            });
        };
        let (caller, cli_user_token) = match self.verify_invocation_token(token, &route)? {
            Ok(verified) => verified,
            Err(reason) => {
                let explanation =
                    (self.config().mode == Mode::Dev).then(|| token_explanation(&reason, &route));
                return Ok(InvocationDecision::Unauthorized {
                    route,
                    reason,
                    explanation,
                });
            }
        };
        if self.invoke_allowed(&route, &caller)? {
            Ok(InvocationDecision::Allowed {
                route,
                caller,
                cli_user_token,
            })
        } else {
            let explanation = self.refusal_explanation(&route, &caller);
            Ok(InvocationDecision::Forbidden {
                route,
                caller,
                explanation,
            })
        }
    }

    /// `run.routes.invoke` for `caller`, cached per IAM generation (with a propagation delay:
    /// per generation of the snapshot decided on).
    fn invoke_allowed(&self, route: &ServiceRoute, caller: &Caller) -> Result<bool, Error> {
        let view = self.iam_view();
        let generation = view.generation();
        let cached = self.invoke_caches().decisions.with(|cache| {
            (cache.0 == generation)
                .then(|| {
                    cache
                        .1
                        .get(&route.name)
                        .and_then(|d| d.get(caller))
                        .copied()
                })
                .flatten()
        });
        if let Some(granted) = cached {
            return Ok(granted);
        }
        let granted = self.access_in_view(&view, caller, INVOKE_PERMISSION, &route.resource())?
            == kumo_iam::Access::Granted;
        self.invoke_caches().decisions.with(|cache| {
            let size: usize = cache.1.values().map(HashMap::len).sum();
            if cache.0 != generation || size >= DECISION_CACHE_MAX {
                *cache = (generation, FastMap::default());
            }
            cache
                .1
                .entry(route.name.clone())
                .or_default()
                .insert(caller.clone(), granted);
        });
        Ok(granted)
    }

    /// Dev mode: the engine's verdict and the command that would grant the permission.
    fn refusal_explanation(&self, route: &ServiceRoute, caller: &Caller) -> Option<String> {
        if self.config().mode != Mode::Dev {
            return None;
        }
        let role = self
            .explain(caller, INVOKE_PERMISSION, &route.resource())
            .ok()
            .and_then(|e| e.suggested_roles.first().map(ToString::to_string))
            .unwrap_or_else(|| "roles/run.invoker".to_owned());
        let member = caller.member().unwrap_or_else(|| "allUsers".to_owned());
        let who = caller
            .member()
            .unwrap_or_else(|| "an unauthenticated caller (no ID token)".to_owned());
        let delay = self.iam_propagation_delay();
        let propagation = if delay.is_zero() {
            String::new()
        } else {
            format!(
                " IAM changes reach this check {}s after they are made (kumo up --iam-propagation-delay).",
                delay.as_secs_f64()
            )
        };
        Some(format!(
            "{who} lacks permission '{INVOKE_PERMISSION}' on '{}'. Grant it with: gcloud run services add-iam-policy-binding {} --region={} --project={} --member={member} --role={role}{propagation}",
            route.resource().relative_name(),
            route.service,
            route.location,
            route.project_id,
        ))
    }

    /// Verifies an ID token for `route` (cached by token until `exp`): the caller, and whether
    /// it is a user's CLI token.
    fn verify_invocation_token(
        &self,
        token: &str,
        route: &ServiceRoute,
    ) -> Result<Result<(Caller, bool), TokenRefusal>, Error> {
        let now = self.now().timestamp();
        let cached = self.invoke_caches().tokens.with(|c| c.get(token).cloned());
        let verified = match cached {
            Some(v) if v.exp + LEEWAY > now => v,
            _ => {
                let v = match self.verify_id_token_uncached(token, now)? {
                    Ok(v) => Arc::new(v),
                    Err(refusal) => return Ok(Err(refusal)),
                };
                self.invoke_caches().tokens.with(|cache| {
                    if cache.len() >= TOKEN_CACHE_MAX {
                        cache.retain(|_, t| t.exp + LEEWAY > now);
                        if cache.len() >= TOKEN_CACHE_MAX {
                            cache.clear();
                        }
                    }
                    cache.insert(token.into(), Arc::clone(&v));
                });
                v
            }
        };
        let for_service = verified.audiences.iter().any(|a| route.accepts_audience(a));
        // gcloud-style user tokens name the CLI client; service-account tokens must name the service.
        let cli_user = matches!(verified.caller, Caller::User { .. })
            && verified.audiences.iter().any(|a| a == CLI_CLIENT_ID);
        if for_service || cli_user {
            Ok(Ok((verified.caller.clone(), cli_user)))
        } else {
            Ok(Err(TokenRefusal::WrongAudience))
        }
    }

    fn verify_id_token_uncached(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Result<VerifiedToken, TokenRefusal>, Error> {
        if token.starts_with(kumo_identity::tokens::ACCESS_TOKEN_PREFIX) {
            return Ok(Err(TokenRefusal::NotIdToken));
        }
        if token.bytes().filter(|b| *b == b'.').count() != 2 || token.contains([' ', ',']) {
            return Ok(Err(TokenRefusal::Malformed));
        }
        let ring = self.signing_keys()?;
        let verified = match verified_token(&ring, token, &self.issuer(), now) {
            Ok(verified) => verified,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if let Some(caller) = verified.caller {
            return Ok(Ok(VerifiedToken {
                caller,
                audiences: verified.audiences,
                exp: verified.exp,
            }));
        }
        // Without `email` (generateIdToken with includeEmail=false, gcloud's default) the token
        // names its principal only by `sub`, the service account's unique id — as Cloud Run
        // resolves it. An unknown id never passes IAM.
        let caller = match self.service_account_target("-", &verified.sub, false) {
            Ok(target) => target.record.and_then(|record| {
                record.data["email"]
                    .as_str()
                    .map(|email| Caller::ServiceAccount {
                        email: email.to_owned(),
                    })
            }),
            Err(_) => None,
        };
        Ok(match caller {
            Some(caller) => Ok(VerifiedToken {
                caller,
                audiences: verified.audiences,
                exp: verified.exp,
            }),
            None => Err(TokenRefusal::Invalid(
                "ID token without email for an unknown principal".into(),
            )),
        })
    }
}

/// What a verified ID token says: its caller when it carries `email`, else only `sub`.
struct TokenClaims {
    caller: Option<Caller>,
    sub: String,
    audiences: Vec<String>,
    exp: i64,
}

/// Signature, lifetime and token type of a Kumo ID token (audience is checked per service).
fn verified_token(
    ring: &kumo_identity::keys::KeyRing,
    token: &str,
    issuer: &str,
    now: i64,
) -> Result<TokenClaims, TokenRefusal> {
    use kumo_identity::jwt::JwtError;
    let claims = kumo_identity::tokens::verify_id_token(ring, token, issuer, &[], now, LEEWAY)
        .map_err(|e| match e {
            JwtError::TooLarge | JwtError::Malformed(_) => TokenRefusal::Malformed,
            JwtError::UnsupportedAlg(_)
            | JwtError::AlgMismatch { .. }
            | JwtError::MissingKid
            | JwtError::UnknownKid(_)
            | JwtError::InvalidSignature => TokenRefusal::BadSignature,
            JwtError::Expired | JwtError::NotYetValid | JwtError::LifetimeTooLong => {
                TokenRefusal::Expired
            }
            JwtError::WrongAudience => TokenRefusal::WrongAudience,
            JwtError::WrongTokenType => TokenRefusal::NotIdToken,
            other => TokenRefusal::Invalid(other.to_string()),
        })?;
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let caller = email.map(|email| {
        if email.ends_with(".gserviceaccount.com") {
            Caller::ServiceAccount { email }
        } else {
            Caller::User { email }
        }
    });
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let audiences = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    Ok(TokenClaims {
        caller,
        sub,
        audiences,
        exp,
    })
}

/// Dev mode text for a 401.
fn token_explanation(reason: &TokenRefusal, route: &ServiceRoute) -> String {
    match reason {
        TokenRefusal::Malformed => "The token is not a single JWT.".to_owned(),
        TokenRefusal::NotIdToken => {
            "The token is not an ID token (access tokens are refused); use `kumo auth print-identity-token`.".to_owned()
        }
        TokenRefusal::BadSignature => "The token's signature does not verify against Kumo's keys.".to_owned(),
        TokenRefusal::Expired => "The token is expired or not yet valid.".to_owned(),
        TokenRefusal::WrongAudience => format!(
            "The token's audience is none of this service's: {}.",
            route.audiences.join(", ")
        ),
        TokenRefusal::Invalid(why) => format!("The token is invalid: {why}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod propagation {
        use std::sync::Arc;

        use kumo_store::{ManualClock, SqliteStore};
        use serde_json::json;

        use super::super::*;
        use crate::{Call, Config, ImageAccessCheck, NewProject};

        const SERVICE: &str = "projects/demo-project/locations/us-central1/services/hello";

        fn control() -> (Control, Arc<ManualClock>) {
            let store = Arc::new(SqliteStore::open_in_memory().unwrap());
            let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
            let config = Config {
                external_url: "http://127.0.0.1:8080".into(),
                issuer: None,
                mode: Mode::Strict,
                image_access_check: ImageAccessCheck::Enforce,
            };
            let control = Control::new(config, store, clock.clone()).unwrap();
            let org = control
                .provision_organization("example.com", None, Some("user:admin@example.com"))
                .unwrap();
            control
                .provision_project(NewProject {
                    project_id: "demo-project".into(),
                    display_name: "Demo".into(),
                    parent: Some(format!("organizations/{}", org.id)),
                    labels: Default::default(),
                    owner: Some("user:alice@example.com".into()),
                })
                .unwrap();
            (control, clock)
        }

        fn route() -> ServiceRoute {
            ServiceRoute {
                name: SERVICE.into(),
                project_id: "demo-project".into(),
                project_number: String::new(),
                location: "us-central1".into(),
                service: "hello".into(),
                ingress: IngressTraffic::All,
                invoker_iam_disabled: false,
                iap_enabled: false,
                audiences: vec![],
                url_audiences: 0,
                traffic: vec![],
                tags: vec![],
                record_revision: 1,
            }
        }

        fn bob() -> Caller {
            Caller::User {
                email: "bob@example.com".into(),
            }
        }

        /// alice (project owner) sets the service's allow policy through the API.
        fn set_invokers(control: &Control, members: &[&str]) {
            let alice = Call::new(Caller::User {
                email: "alice@example.com".into(),
            });
            let bindings = if members.is_empty() {
                json!([])
            } else {
                json!([{"role": "roles/run.invoker", "members": members}])
            };
            control
                .set_iam_policy(
                    &alice,
                    &route().resource(),
                    "run.services.setIamPolicy",
                    &json!({"bindings": bindings}),
                    None,
                )
                .unwrap();
        }

        fn step(clock: &ManualClock, ms: i64) {
            clock.advance(chrono::Duration::milliseconds(ms));
        }

        #[test]
        fn without_a_delay_a_change_counts_on_the_next_request() {
            let (control, _clock) = control();
            assert!(!control.invoke_allowed(&route(), &bob()).unwrap());
            set_invokers(&control, &["user:bob@example.com"]);
            assert!(control.invoke_allowed(&route(), &bob()).unwrap());
            set_invokers(&control, &[]);
            assert!(!control.invoke_allowed(&route(), &bob()).unwrap());
        }

        #[test]
        fn a_grant_reaches_the_data_plane_after_the_delay() {
            let (control, clock) = control();
            control
                .set_iam_propagation_delay(Duration::from_secs(2))
                .unwrap();
            assert!(!control.invoke_allowed(&route(), &bob()).unwrap());
            set_invokers(&control, &["user:bob@example.com"]);
            // The control plane sees it at once (UNCONFIRMED whether Google's API checks lag).
            assert!(
                control
                    .has_permission(&bob(), INVOKE_PERMISSION, &route().resource())
                    .unwrap()
            );
            assert!(!control.invoke_allowed(&route(), &bob()).unwrap());
            step(&clock, 1_999);
            assert!(!control.invoke_allowed(&route(), &bob()).unwrap());
            step(&clock, 1);
            assert!(control.invoke_allowed(&route(), &bob()).unwrap());
        }

        #[test]
        fn a_revocation_reaches_the_data_plane_after_the_delay() {
            let (control, clock) = control();
            control
                .set_iam_propagation_delay(Duration::from_secs(2))
                .unwrap();
            set_invokers(&control, &["user:bob@example.com"]);
            step(&clock, 2_000);
            assert!(control.invoke_allowed(&route(), &bob()).unwrap());
            set_invokers(&control, &[]);
            assert!(
                !control
                    .has_permission(&bob(), INVOKE_PERMISSION, &route().resource())
                    .unwrap()
            );
            assert!(control.invoke_allowed(&route(), &bob()).unwrap());
            step(&clock, 1_500);
            assert!(control.invoke_allowed(&route(), &bob()).unwrap());
            step(&clock, 500);
            assert!(!control.invoke_allowed(&route(), &bob()).unwrap());
        }

        #[test]
        fn changes_propagate_in_commit_order_each_after_its_own_delay() {
            let (control, clock) = control();
            control
                .set_iam_propagation_delay(Duration::from_secs(2))
                .unwrap();
            let carol = Caller::User {
                email: "carol@example.com".into(),
            };
            set_invokers(&control, &["user:bob@example.com"]);
            step(&clock, 1_000);
            set_invokers(&control, &["user:carol@example.com"]);
            // t = 1 s: neither change is visible.
            assert!(!control.invoke_allowed(&route(), &bob()).unwrap());
            assert!(!control.invoke_allowed(&route(), &carol).unwrap());
            step(&clock, 1_000);
            // t = 2 s: the first (bob) is, the second (bob out, carol in) is not yet.
            assert!(control.invoke_allowed(&route(), &bob()).unwrap());
            assert!(!control.invoke_allowed(&route(), &carol).unwrap());
            step(&clock, 1_000);
            assert!(!control.invoke_allowed(&route(), &bob()).unwrap());
            assert!(control.invoke_allowed(&route(), &carol).unwrap());
        }

        #[test]
        fn iap_access_sees_a_grant_after_the_delay_and_the_admin_api_at_once() {
            let (control, clock) = control();
            control
                .set_iam_propagation_delay(Duration::from_secs(2))
                .unwrap();
            let number = control
                .resolve_project("demo-project")
                .unwrap()
                .unwrap()
                .number;
            let target = crate::iap::IapTarget {
                service_name: SERVICE.into(),
                project_id: "demo-project".into(),
                project_number: number,
                region: "us-central1".into(),
                service: "hello".into(),
                iap_enabled: true,
                invoker_iam_disabled: false,
                urls: vec![],
            };
            let user = crate::iap::IapUser {
                caller: bob(),
                email: "bob@example.com".into(),
                user_id: "1234567890".into(),
                hd: Some("example.com".into()),
            };
            control
                .grant_roles(
                    &ResourceRef::Project("demo-project".into()),
                    &[(
                        "roles/iap.httpsResourceAccessor",
                        "user:bob@example.com".into(),
                    )],
                )
                .unwrap();
            assert!(
                control
                    .has_permission(&bob(), crate::iap::ACCESS_VIA_IAP, &target.resource())
                    .unwrap()
            );
            assert!(!control.iap_authorize(&target, &user).unwrap());
            step(&clock, 2_000);
            assert!(control.iap_authorize(&target, &user).unwrap());
        }

        #[test]
        fn a_public_grant_is_delayed_too() {
            let (control, clock) = control();
            control
                .set_iam_propagation_delay(Duration::from_millis(500))
                .unwrap();
            set_invokers(&control, &["allUsers"]);
            assert!(
                !control
                    .invoke_allowed(&route(), &Caller::Anonymous)
                    .unwrap()
            );
            step(&clock, 500);
            assert!(
                control
                    .invoke_allowed(&route(), &Caller::Anonymous)
                    .unwrap()
            );
        }
    }

    #[test]
    fn pick_revision_by_percent() {
        let route = ServiceRoute {
            name: "projects/p/locations/l/services/s".into(),
            project_id: "p".into(),
            project_number: "1".into(),
            location: "l".into(),
            service: "s".into(),
            ingress: IngressTraffic::All,
            invoker_iam_disabled: false,
            iap_enabled: false,
            audiences: vec![],
            url_audiences: 0,
            traffic: vec![("a".into(), 30), ("b".into(), 70)],
            tags: vec![("green".into(), "b".into())],
            record_revision: 1,
        };
        assert_eq!(route.pick_revision(0), Some("a"));
        assert_eq!(route.pick_revision(29), Some("a"));
        assert_eq!(route.pick_revision(30), Some("b"));
        assert_eq!(route.pick_revision(99), Some("b"));
        assert_eq!(route.tagged_revision("green"), Some("b"));
        assert_eq!(route.tagged_revision("blue"), None);
    }
}
