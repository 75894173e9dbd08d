//! Kumo's built-in versions of Google's sample images, run as workloads by the process driver:
//! `us-docker.pkg.dev/cloudrun/container/hello` (an HTTP service) and
//! `us-docker.pkg.dev/cloudrun/container/job` (a job task), so that the seeds' commands run verbatim.

use std::process::ExitCode;

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
/// service and revision from the container contract's `K_SERVICE` and `K_REVISION`.
fn hello() -> ExitCode {
    let port: u16 = match std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
    {
        Some(port) => port,
        None => {
            eprintln!("PORT is not set");
            return ExitCode::from(2);
        }
    };
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
        let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
        println!("Hello from Cloud Run! The container started successfully and is listening for HTTP requests on {port}");
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
