//! A real `kumo up` on a free port and a fresh data dir, as tests/conformance/conftest.py starts it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// `KUMO_BIN`, else the main workspace's debug binary.
pub fn binary() -> PathBuf {
    match std::env::var_os("KUMO_BIN") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/kumo"),
    }
}

/// A running Kumo server; stopped (SIGINT, so it stops its workloads too) when dropped.
pub struct Kumo {
    child: Child,
    pub data_dir: PathBuf,
    pub base_url: String,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// `GET http://127.0.0.1:PORT/healthz` answered 200.
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

impl Kumo {
    /// Starts `kumo up --data-dir FRESH --port FREE ARGS…` and waits for /healthz.
    pub fn start(args: &[&str]) -> anyhow::Result<Kumo> {
        Kumo::start_with_images(args, None)
    }

    /// Like `start`, with `DATA_DIR/images.json` (Kumo's image map) written first; `{DATA_DIR}`
    /// and `{KUMO_BIN}` in it are replaced by the data dir and the binary.
    pub fn start_with_images(args: &[&str], images: Option<&str>) -> anyhow::Result<Kumo> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let data_dir = std::env::temp_dir().join(format!(
            "kumo-rust-clients-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&data_dir)?;
        let binary = binary();
        if let Some(images) = images {
            let images = images
                .replace("{DATA_DIR}", &data_dir.display().to_string())
                .replace("{KUMO_BIN}", &binary.display().to_string());
            std::fs::write(data_dir.join("images.json"), images)?;
        }
        let port = free_port()?;
        let log = std::fs::File::create(data_dir.join("server.log"))?;
        let child = Command::new(&binary)
            .arg("up")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (build it: cargo build -p kumo)",
                    binary.display()
                )
            })?;
        let mut kumo = Kumo {
            child,
            data_dir,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = kumo.child.try_wait()? {
                bail!("kumo exited early ({status}):\n{}", kumo.log());
            }
            if healthy(port) {
                return Ok(kumo);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("kumo did not become ready within 60 s:\n{}", kumo.log())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// The bootstrap administrator's `authorized_user` file (its token_uri is Kumo's /token).
    pub fn admin_credentials(&self) -> anyhow::Result<serde_json::Value> {
        let path = self.data_dir.join("admin-credentials.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }
}

impl Drop for Kumo {
    fn drop(&mut self) {
        // SIGINT lets Kumo stop its workload processes; std's kill() would be SIGKILL.
        let interrupted = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        while interrupted && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.data_dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
