//! Kumo's built-in versions of Google's sample images, run as workloads by the process driver:
//! `us-docker.pkg.dev/cloudrun/container/hello` (an HTTP service) and
//! `us-docker.pkg.dev/cloudrun/container/job` (a job task), so that the seeds' commands run verbatim.

use std::process::ExitCode;

/// The port `hello.go` listens on when `PORT` is unset.
const DEFAULT_PORT: u16 = 8080;

pub fn main(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("job") => job(),
        Some("hello") => hello(),
        _ => {
            eprintln!("usage: kumo __sample hello|job");
            ExitCode::from(2)
        }
    }
}

/// The job sample prints its task identity and exits 0, as Google's `job` image does.
fn job() -> ExitCode {
    let get = |key: &str| std::env::var(key).unwrap_or_default();
    println!(
        "Starting Task #{}, Attempt #{}...",
        get("CLOUD_RUN_TASK_INDEX"),
        get("CLOUD_RUN_TASK_ATTEMPT")
    );
    println!("Completed Task #{}.", get("CLOUD_RUN_TASK_INDEX"));
    ExitCode::SUCCESS
}

/// The hello sample: answers every request with the page Google's `hello` image shows, naming the
/// service and revision from the container contract's `K_SERVICE` and `K_REVISION`. Like the
/// image's `hello.go`, it listens on `$PORT`, or on 8080 when PORT is unset (as in a job task,
/// where the real image serves until the task times out).
fn hello() -> ExitCode {
    let from_env = std::env::var("PORT").ok().filter(|p| !p.is_empty());
    let port: u16 = match from_env.as_deref().map(str::parse) {
        None => DEFAULT_PORT,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!(
                "listen tcp: lookup port {}: invalid port",
                from_env.as_deref().unwrap_or_default()
            );
            return ExitCode::FAILURE;
        }
    };
    let defaulted = from_env.is_none();
    let service = std::env::var("K_SERVICE").unwrap_or_else(|_| "hello".to_owned());
    let revision = std::env::var("K_REVISION").unwrap_or_default();
    let page = hello_page(&service, &revision);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(("0.0.0.0", port)).await {
            Ok(listener) => listener,
            // A container has a network of its own, where 8080 is always free; a local process
            // shares the host's (Kumo itself may hold 8080), so the default falls back to any port.
            Err(e) if defaulted && e.kind() == std::io::ErrorKind::AddrInUse => {
                tokio::net::TcpListener::bind(("0.0.0.0", 0)).await?
            }
            Err(e) => return Err(e),
        };
        println!("Hello from Cloud Run! The container started successfully and is listening for HTTP requests on port {port}");
        let app = axum::Router::new().fallback(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => return std::future::pending().await,
                };
                term.recv().await;
            })
            .await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hello: {error}");
            ExitCode::FAILURE
        }
    }
}

fn hello_page(service: &str, revision: &str) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<!doctype html>\n<html>\n<head><title>Congratulations | Cloud Run</title></head>\n<body>\n\
         <h1>It's running!</h1>\n<p>Congratulations, you successfully deployed a container image to Cloud Run</p>\n\
         <p>Service: <strong>{}</strong></p>\n<p>Revision: <strong>{}</strong></p>\n</body>\n</html>\n",
        escape(service),
        escape(revision)
    )
}
