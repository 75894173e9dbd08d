//! `kumo up`: settings, start-up and shutdown of the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use kumo_control::{Config, Control, ImageAccessCheck, Mode};
use kumo_store::{SqliteStore, SystemClock};

/// `GET /` from a browser (an `Accept` naming `text/html`) is sent to the console; any other
/// request for `/` reaches the API, which answers Google's 404.
async fn root_to_console(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let wants_html = req
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if req.method() == axum::http::Method::GET && req.uri().path() == "/" && wants_html {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to(
            "/console/",
        ));
    }
    next.run(req).await
}

/// Start Kumo: every Google API, the token issuer, the gateway and the console on one port.
#[derive(Debug, Parser)]
#[command(name = "kumo up")]
struct Settings {
    /// Where the embedded store and generated credentials live.
    #[arg(long, env = "KUMO_DATA_DIR", default_value = ".kumo")]
    data_dir: PathBuf,
    /// The API port.
    #[arg(long, env = "KUMO_PORT", default_value_t = 8080)]
    port: u16,
    /// The address to listen on. Anything but loopback requires `--mode strict`.
    #[arg(long, env = "KUMO_HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// `dev` explains refusals and signs in without passwords; `strict` behaves like Google.
    #[arg(long, env = "KUMO_MODE", value_enum, default_value_t = ModeArg::Dev)]
    mode: ModeArg,
    /// Image read check at deploy: `enforce` (Google since 2025-01-15) or `warn` (before).
    #[arg(long, env = "KUMO_IMAGE_ACCESS_CHECK", value_enum, default_value_t = ImageCheckArg::Enforce)]
    image_access_check: ImageCheckArg,
    /// Create the demo world (organization, project, users, a private `hello` service).
    #[arg(long)]
    demo: bool,
    /// Image map: which local command an image runs (`{"images": {"IMAGE[:TAG]|PREFIX/*":
    /// {"entrypoint": [...], "args": [...], "workdir": "...", "env": {...}}}}`). Read after
    /// `DATA_DIR/images.json`; entries override the built-in sample images.
    #[arg(long, env = "KUMO_IMAGES")]
    images: Option<PathBuf>,
    /// The primary domain of the organization bootstrapped on an empty data dir.
    #[arg(long, env = "KUMO_DOMAIN", default_value = "example.com")]
    domain: String,
    /// The Workspace customer id of that organization (`C0…`); generated when not given.
    #[arg(long, env = "KUMO_CUSTOMER_ID")]
    customer_id: Option<String>,
    /// The `iss` of the tokens Kumo mints: `kumo` (Kumo's own URL, the default), `google`
    /// (`https://accounts.google.com`, for apps that check Google's issuer) or any https URL.
    #[arg(long, env = "KUMO_ISSUER", value_parser = parse_issuer, default_value = "kumo")]
    issuer: IssuerArg,
    /// Simulate Google's IAM propagation (typically 2 minutes there) for testing retry logic: a
    /// change to an allow policy reaches the data plane's invocation checks (`run.routes.invoke`
    /// at the gateway, IAP's `accessViaIAP`) only DURATION after it was committed; until then
    /// the decision made on the policies as they were before the change holds. The Admin APIs
    /// see changes at once. `0` (the default) is immediate. E.g. `30s`, `1500ms`, `2m`.
    #[arg(long, env = "KUMO_IAM_PROPAGATION_DELAY", value_parser = parse_delay, default_value = "0", value_name = "DURATION")]
    iam_propagation_delay: std::time::Duration,
    /// Threads of the gateway's HTTP/1.1 fast path, each serving its own share of the
    /// connections (default: one per CPU); `0` serves them on the shared async runtime.
    #[arg(long, env = "KUMO_GATEWAY_THREADS", value_name = "N")]
    gateway_threads: Option<usize>,
}

/// `0`, or a decimal number with a unit: `ms`, `s`, `m`, `h` (`30s`, `1.5s`, `500ms`, `2m`).
fn parse_delay(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let invalid = || format!("`{text}` is not a duration such as 30s, 1500ms or 2m");
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3_600_000.0)
    } else if text == "0" {
        ("0", 1.0)
    } else {
        return Err(invalid());
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(invalid());
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let ms = value * unit_ms;
    // A day is far beyond any propagation Google documents; larger values are typos.
    if !(0.0..=86_400_000.0).contains(&ms) {
        return Err(format!("`{text}` is longer than a day"));
    }
    Ok(std::time::Duration::from_secs_f64(ms / 1_000.0))
}

/// The token issuer: `None` is Kumo's own URL.
#[derive(Debug, Clone)]
struct IssuerArg(Option<String>);

/// `kumo` → Kumo's own URL, `google` → Google's issuer, else an http(s) URL.
fn parse_issuer(text: &str) -> Result<IssuerArg, String> {
    match text {
        "kumo" => Ok(IssuerArg(None)),
        "google" => Ok(IssuerArg(Some(kumo_control::GOOGLE_ISSUER.to_owned()))),
        url if (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() > "https://".len()
            && !url.contains(char::is_whitespace) =>
        {
            Ok(IssuerArg(Some(url.trim_end_matches('/').to_owned())))
        }
        other => Err(format!(
            "`{other}` is not `kumo`, `google` or an http(s) URL"
        )),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Dev,
    Strict,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ImageCheckArg {
    Enforce,
    Warn,
}

pub fn main(args: &[String]) -> ExitCode {
    let settings = match Settings::try_parse_from(args) {
        Ok(settings) => settings,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KUMO_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if matches!(settings.mode, ModeArg::Dev) && !settings.host.is_loopback() {
        eprintln!(
            "ERROR: dev mode signs users in without passwords; refusing to listen on {} (not loopback). Use --mode strict.",
            settings.host
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ERROR: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ERROR: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let store = Arc::new(SqliteStore::open(settings.data_dir.join("kumo.db"))?);
    let address = SocketAddr::new(settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    let config = Config {
        external_url: format!("http://{local}"),
        issuer: settings.issuer.0.clone(),
        mode: match settings.mode {
            ModeArg::Dev => Mode::Dev,
            ModeArg::Strict => Mode::Strict,
        },
        image_access_check: match settings.image_access_check {
            ImageCheckArg::Enforce => ImageAccessCheck::Enforce,
            ImageCheckArg::Warn => ImageAccessCheck::Warn,
        },
    };
    let control = Control::new(config, store, Arc::new(SystemClock))?;
    bootstrap(&control, &settings)?;
    // Executions a stopped Kumo left running can never finish: mark them failed, as Cloud Run
    // does when it loses track of a task.
    let recovered = control.recover_executions()?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "marked executions interrupted by the last stop as failed"
        );
    }
    load_images(&control, &settings)?;
    control
        .runtime()
        .set_metadata_server(Arc::new(MetadataListeners {
            control: control.clone(),
        }));
    let api = kumo_api::router(kumo_api::Api::new(control.clone()));
    let gateway = match settings.gateway_threads {
        Some(threads) => kumo_gateway::Gateway::with_io_threads(control.clone(), threads),
        None => kumo_gateway::Gateway::new(control.clone()),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let service_ports = tokio::spawn(gateway.clone().serve_service_ports(stop_rx));
    // The console (issue 6): a client of the API above, on the same port.
    let console = kumo_console::router(format!("http://{local}"));
    let app = axum::Router::new()
        .merge(console)
        .fallback_service(api)
        .layer(axum::middleware::from_fn(root_to_console));
    tracing::info!("kumo listening on http://{local}");
    if settings.demo {
        // The demo world exists before the first request is accepted: a client that sees the
        // port answer finds demo-project and its service (its deploy needs only the runtime and
        // the service-port task above, not the main port).
        match crate::demo::create(&control, &settings.domain).await {
            Ok(lines) => eprintln!("{}", lines.join("\n")),
            Err(error) => eprintln!("ERROR: the demo could not be created: {error:#}"),
        }
    }
    // Set after bootstrap and the demo: what exists when Kumo is ready counts as propagated.
    control.set_iam_propagation_delay(settings.iam_propagation_delay)?;
    eprintln!("Kumo is ready on http://{local}");
    serve_front_door(listener, gateway, app, local).await;
    let _ = stop_tx.send(true);
    let _ = service_ports.await;
    // Instances never outlive Kumo: SIGTERM, then SIGKILL after the grace period.
    control.runtime().shutdown().await;
    Ok(())
}

/// Kumo's main port. `*.run.localhost` hosts go straight to the data plane, before (and without)
/// the API router: the gateway's hot path pays for no routing layer it does not use. Everything
/// else is the console and the API. Stops accepting on Ctrl-C and lets open requests finish
/// (for at most [`GRACE`]).
async fn serve_front_door(
    listener: tokio::net::TcpListener,
    gateway: kumo_gateway::Gateway,
    app: axum::Router,
    local: SocketAddr,
) {
    use tower::ServiceExt as _;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Connections on the gateway's HTTP/1.1 fast path: told to stop between requests, awaited.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let fast = tokio_util::task::TaskTracker::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let host = Arc::new(kumo_gateway::Entry::Host);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "accept");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = kumo_gateway::Conn {
            peer: Some(peer),
            local: Some(local),
        };
        let rest_gateway = gateway.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        // Gateway requests on HTTP/1.1 stay on the fast path (on the gateway's I/O threads); the
        // first request it does not take (the API, the console, HTTP/2, upgrades, IAP) moves
        // the connection to hyper, here.
        let connection = gateway.spawn_connection(
            stream,
            Arc::clone(&host),
            conn,
            stopped.clone(),
            move |stream| async move {
                let gateway = rest_gateway;
                let affinity = kumo_gateway::Affinity::new();
                let service = hyper::service::service_fn(
                    move |mut request: http::Request<hyper::body::Incoming>| {
                        let gateway = gateway.clone();
                        let app = app.clone();
                        let affinity = affinity.clone();
                        async move {
                            if kumo_gateway::request_host(&request)
                                .is_some_and(kumo_gateway::is_gateway_host)
                            {
                                let response = gateway
                                    .handle(request, &kumo_gateway::Entry::Host, conn, &affinity)
                                    .await;
                                Ok::<_, std::convert::Infallible>(
                                    response.map(axum::body::Body::new),
                                )
                            } else {
                                request
                                    .extensions_mut()
                                    .insert(axum::extract::ConnectInfo(peer));
                                app.oneshot(request.map(axum::body::Body::new)).await
                            }
                        }
                    },
                );
                let connection = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                .into_owned();
                if let Err(error) = watcher.watch(connection).await {
                    tracing::debug!(%error, "connection");
                }
            },
        );
        fast.spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = stop.send(true);
    fast.close();
    tokio::select! {
        () = async {
            graceful.shutdown().await;
            fast.wait().await;
        } => {}
        () = tokio::time::sleep(GRACE) => tracing::info!("open connections cut after the grace period"),
    }
}

/// How long open requests may run on after Ctrl-C.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}

/// `DATA_DIR/images.json` when present, then `--images`.
fn load_images(control: &Control, settings: &Settings) -> anyhow::Result<()> {
    let default = settings.data_dir.join("images.json");
    if default.exists() {
        control.runtime().load_images_file(&default)?;
    }
    if let Some(path) = &settings.images {
        control.runtime().load_images_file(path)?;
    }
    Ok(())
}

/// Starts one metadata server per workload on a free loopback port (`GCE_METADATA_HOST`).
struct MetadataListeners {
    control: Control,
}

impl kumo_control::runtime::MetadataServer for MetadataListeners {
    fn start(
        &self,
        identity: kumo_control::runtime::WorkloadIdentity,
    ) -> kumo_control::runtime::BoxFuture<
        'static,
        Result<kumo_control::runtime::MetadataEndpoint, kumo_control::Error>,
    > {
        let control = self.control.clone();
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(kumo_control::Error::internal)?;
            let host = listener
                .local_addr()
                .map_err(kumo_control::Error::internal)?
                .to_string();
            let router = kumo_api::metadata::metadata_router(
                control,
                kumo_api::metadata::WorkloadIdentity {
                    service_account_email: identity.service_account_email,
                    project_id: identity.project_id,
                    project_number: identity.project_number,
                    region: identity.region,
                    instance_id: identity.instance_id,
                },
            );
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(async move {
                let served = axum::serve(listener, router).with_graceful_shutdown(async move {
                    let _ = stopped.await;
                });
                if let Err(error) = served.await {
                    tracing::warn!(%error, "metadata server stopped");
                }
            });
            Ok(kumo_control::runtime::MetadataEndpoint { host, stop })
        })
    }
}

/// On an empty data dir: the issuer key, the organization, its customer and its first
/// administrator, whose `authorized_user` credentials are written to
/// `DATA_DIR/admin-credentials.json`. Running again on the same data dir keeps what is there.
fn bootstrap(control: &Control, settings: &Settings) -> anyhow::Result<()> {
    let report = control.bootstrap_identity(&kumo_control::identity::BootstrapConfig {
        domain: settings.domain.clone(),
        customer_id: settings.customer_id.clone(),
        admin_email: format!("admin@{}", settings.domain),
    })?;
    let path = settings.data_dir.join("admin-credentials.json");
    if let Some(credentials) = report.admin_credentials {
        write_private(&path, &serde_json::to_vec_pretty(&credentials)?)?;
        tracing::info!(organization = %report.organization.id, customer = %report.organization.customer_id, "bootstrapped organization");
    }
    eprintln!(
        "Organization {} ({}, customer {}); administrator admin@{} — credentials: {}",
        report.organization.id,
        report.organization.domain,
        report.organization.customer_id,
        settings.domain,
        path.display()
    );
    if let Some(password) = report.admin_password {
        eprintln!("Administrator password (shown once): {password}");
    }
    Ok(())
}

/// Writes a file readable by its owner only (credentials).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_delay;

    #[test]
    fn propagation_delays_parse_with_units() {
        assert_eq!(parse_delay("0"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_delay("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_delay("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_delay("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_delay("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "30", "-1s", "1e3s", "2 days", "25h"] {
            assert!(parse_delay(bad).is_err(), "{bad} should be refused");
        }
    }
}
