//! Connection-affine upstream connections.
//!
//! A keep-alive client connection sends its requests one after another, so it can own one
//! HTTP/1.1 connection to the instance it last reached and reuse it without the shared pool:
//! no pool lock, no key hashing, no absolute URI to build and parse per request. The shared
//! pooled client stays for what this does not cover (HTTP/2 to h2c instances, upgrades, and
//! the first request of a connection whose cached instance went away).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use crate::{BoxError, GatewayBody};

/// New connections to one instance open at most this many at a time.
const DIALS_PER_INSTANCE: usize = 4;

/// Opens connections to instances, a few at a time per instance: a burst of new client
/// connections would otherwise overflow a small listen backlog (Python's `http.server`
/// listens with 5), and the kernel's SYN retransmission then stalls the unlucky connections for
/// seconds to minutes. A connection is complete once it waits in the instance's accept queue,
/// so the gate is held only for the handshake.
#[derive(Default)]
pub(crate) struct Dialer {
    gates: Mutex<HashMap<SocketAddr, Arc<tokio::sync::Semaphore>>>,
}

impl Dialer {
    pub(crate) async fn dial(&self, addr: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
        let gate = match self.gates.lock() {
            Ok(mut gates) => {
                // Instances come and go on new ports; forgetting every gate now and then is
                // harmless (a burst at that moment is merely less throttled).
                if gates.len() > 4096 {
                    gates.clear();
                }
                Some(Arc::clone(gates.entry(addr).or_insert_with(|| {
                    Arc::new(tokio::sync::Semaphore::new(DIALS_PER_INSTANCE))
                })))
            }
            Err(_) => None,
        };
        let _permit = match &gate {
            Some(gate) => gate.acquire().await.ok(),
            None => None,
        };
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

/// One client connection's upstream connection. Cheap to clone; requests of one client
/// connection share it.
#[derive(Clone, Default)]
pub struct Affinity {
    cached: Arc<Mutex<Option<Cached>>>,
}

struct Cached {
    addr: SocketAddr,
    sender: http1::SendRequest<GatewayBody>,
}

impl std::fmt::Debug for Affinity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Affinity").finish_non_exhaustive()
    }
}

impl Affinity {
    /// A client connection's empty cache.
    pub fn new() -> Affinity {
        Affinity::default()
    }

    /// The cached sender to `addr`, unless its connection closed. Taken out, so that concurrent
    /// requests of one HTTP/2 client connection never share it.
    fn take(&self, addr: SocketAddr) -> Option<http1::SendRequest<GatewayBody>> {
        let mut cached = self.cached.lock().ok()?;
        match cached.take() {
            Some(c) if c.addr == addr && !c.sender.is_closed() => Some(c.sender),
            _ => None,
        }
    }

    fn put(&self, addr: SocketAddr, sender: http1::SendRequest<GatewayBody>) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(Cached { addr, sender });
        }
    }

    /// Send `req` (origin-form URI, `Host` set) to the instance at `addr` over this client
    /// connection's own upstream connection, opening it on first use or when the instance
    /// changed. A cached connection the instance closed while idle is replaced once, as long as
    /// the request was not sent on it.
    pub(crate) async fn send(
        &self,
        dialer: &Dialer,
        addr: SocketAddr,
        req: Request<GatewayBody>,
    ) -> Result<Response<Incoming>, BoxError> {
        let mut req = req;
        // The previous request of this client connection is answered, but the instance
        // connection may not have seen the end of that response body yet.
        if let Some(mut sender) = self.take(addr)
            && sender.ready().await.is_ok()
        {
            let sent = sender.try_send_request(req);
            self.put(addr, sender);
            match sent.await {
                Ok(resp) => return Ok(resp),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => req = unsent,
                    None => return Err(e.into_error().into()),
                },
            }
        }
        let mut sender = connect(dialer, addr).await?;
        let sent = sender.send_request(req);
        self.put(addr, sender);
        Ok(sent.await?)
    }
}

/// A new HTTP/1.1 connection to an instance, driven by its own task.
async fn connect(
    dialer: &Dialer,
    addr: SocketAddr,
) -> Result<http1::SendRequest<GatewayBody>, BoxError> {
    let stream = dialer.dial(addr).await?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "instance connection");
        }
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An instance that answers each connection's first request with keep-alive and then
    /// closes it, as an instance's idle timeout does between two requests. Counts connections.
    async fn closing_instance() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut read = 0;
                    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        read += stream.read(&mut buf[read..]).await.unwrap();
                    }
                    let body = format!("conn {n}");
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                    stream.write_all(head.as_bytes()).await.unwrap();
                    stream.write_all(body.as_bytes()).await.unwrap();
                    // Closed while idle: the client may not notice before it reuses it.
                    drop(stream);
                });
            }
        });
        (addr, accepted)
    }

    async fn get(affinity: &Affinity, addr: SocketAddr) -> String {
        let req = Request::builder()
            .uri("/")
            .header(http::header::HOST, "instance")
            .body(crate::full_body(""))
            .unwrap();
        let resp = affinity.send(&Dialer::default(), addr, req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_connection_the_instance_closed_is_replaced() {
        let (addr, accepted) = closing_instance().await;
        let affinity = Affinity::new();
        assert_eq!(get(&affinity, addr).await, "conn 1");
        // The instance's close reaches the client between requests.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(get(&affinity, addr).await, "conn 2");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(get(&affinity, addr).await, "conn 3");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    /// A keep-alive instance: every request of one client connection reuses one instance
    /// connection; another instance gets its own.
    #[tokio::test]
    async fn requests_of_one_client_connection_share_one_instance_connection() {
        async fn keep_alive() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let count = Arc::clone(&accepted);
            tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(|_req| async {
                            Ok::<_, std::convert::Infallible>(Response::new(crate::full_body("ok")))
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            (addr, accepted)
        }
        let (one, one_accepted) = keep_alive().await;
        let (two, two_accepted) = keep_alive().await;
        let affinity = Affinity::new();
        for _ in 0..5 {
            assert_eq!(get(&affinity, one).await, "ok");
        }
        assert_eq!(one_accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(get(&affinity, two).await, "ok");
        assert_eq!(get(&affinity, two).await, "ok");
        assert_eq!(two_accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Another client connection opens its own.
        assert_eq!(get(&Affinity::new(), one).await, "ok");
        assert_eq!(one_accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
