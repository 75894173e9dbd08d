//! `kumo up`: settings, start-up and shutdown of the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use kumo_control::{Config, Control, ImageAccessCheck, Mode};
use kumo_store::{SqliteStore, SystemClock};

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
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KUMO_LOG").unwrap_or_else(|_| "info".into()),
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
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
    let store = Arc::new(SqliteStore::open(&settings.data_dir.join("kumo.db"))?);
    let address = SocketAddr::new(settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    let config = Config {
        external_url: format!("http://{local}"),
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
    let app = kumo_api::router(kumo_api::Api::new(control));
    tracing::info!("kumo listening on http://{local}");
    eprintln!("Kumo is ready on http://{local}");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}
