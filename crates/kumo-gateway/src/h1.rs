//! The HTTP/1.1 fast path. One task owns a client connection and the connection to the
//! instance it last reached: it parses request and response heads in place (httparse), writes
//! the forwarded head in one buffer and copies bodies through with their framing untouched — no
//! header map, no body channel, no second task per upstream connection. The phases and their
//! answers are the gateway's own (route → ingress → authorize → forward → record).
//!
//! What this path does not speak — HTTP/2 (prior knowledge, or an h2c instance), upgrades,
//! `Expect`, HTTP/1.0, absolute-form targets, IAP services, heads it cannot parse or that exceed
//! its limits, hosts that are not the gateway's — it hands to hyper at a request boundary,
//! with the bytes already read ([`Rewound`]), so hyper answers those exactly as before.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use kumo_control::invoke::{ServiceRoute, TokenHeader};
use kumo_control::runtime::Slot;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::headers::{self, HOP_BY_HOP, Trace, X_SERVERLESS_AUTHORIZATION};
use crate::text::IpText;
use crate::{Conn, Entry, Flow, Gateway, GatewayBody, LogContext, is_gateway_host, pages};

/// A request or response head larger than this goes to hyper (which answers 431 or reads on).
const MAX_HEAD: usize = 64 * 1024;
/// Headers per head, as hyper's default.
const MAX_HEADERS: usize = 100;
/// Read granularity for heads and bodies.
const READ_CHUNK: usize = 16 * 1024;

/// A client connection handed to hyper: the bytes the fast path read, then the socket.
pub struct Rewound {
    prefix: Bytes,
    stream: TcpStream,
}

/// A [`Rewound`] between runtimes: its socket deregistered from the one it was read on.
pub(crate) struct Detached {
    prefix: Bytes,
    stream: std::net::TcpStream,
}

impl Rewound {
    pub(crate) fn detach(self) -> io::Result<Detached> {
        Ok(Detached {
            prefix: self.prefix,
            stream: self.stream.into_std()?,
        })
    }
}

impl Detached {
    /// Registers the socket with the current runtime.
    pub(crate) fn attach(self) -> io::Result<Rewound> {
        Ok(Rewound {
            prefix: self.prefix,
            stream: TcpStream::from_std(self.stream)?,
        })
    }
}

impl AsyncRead for Rewound {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewound {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length: n` (0 when the request has neither header).
    Length(u64),
    /// `Transfer-Encoding: chunked`, passed through as is.
    Chunked,
    /// A response delimited by the instance closing: re-framed as chunked for the client.
    Close,
}

/// The chunked framing of a body, scanned as it passes (RFC 9112 §7.1): where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunks {
    Size { size: u64, digits: u8 },
    Extension { size: u64 },
    SizeLf { size: u64 },
    Data(u64),
    DataCr,
    DataLf,
    LineStart,
    Trailer,
    TrailerLf,
    LastLf,
    Done,
}

#[derive(Debug)]
struct BadChunk;

impl Chunks {
    fn new() -> Chunks {
        Chunks::Size { size: 0, digits: 0 }
    }

    /// Consumes framing from `input`: how many of its bytes belong to the body (fewer than all
    /// only when the body ends inside `input`).
    fn scan(&mut self, input: &[u8]) -> Result<usize, BadChunk> {
        let mut i = 0;
        while i < input.len() {
            match *self {
                Chunks::Done => return Ok(i),
                Chunks::Data(n) => {
                    let take = n.min((input.len() - i) as u64);
                    i += take as usize;
                    *self = if take == n {
                        Chunks::DataCr
                    } else {
                        Chunks::Data(n - take)
                    };
                    continue;
                }
                _ => {}
            }
            let b = input[i];
            i += 1;
            *self = match (*self, b) {
                (Chunks::Size { size, digits }, b) if b.is_ascii_hexdigit() => {
                    if digits >= 15 {
                        return Err(BadChunk);
                    }
                    let digit = char::from(b).to_digit(16).ok_or(BadChunk)?;
                    Chunks::Size {
                        size: size * 16 + u64::from(digit),
                        digits: digits + 1,
                    }
                }
                (Chunks::Size { size, digits }, b';' | b' ' | b'\t') if digits > 0 => {
                    Chunks::Extension { size }
                }
                (Chunks::Size { size, digits }, b'\r') if digits > 0 => Chunks::SizeLf { size },
                (Chunks::Extension { size }, b'\r') => Chunks::SizeLf { size },
                (Chunks::Extension { size }, _) => Chunks::Extension { size },
                (Chunks::SizeLf { size: 0 }, b'\n') => Chunks::LineStart,
                (Chunks::SizeLf { size }, b'\n') => Chunks::Data(size),
                (Chunks::DataCr, b'\r') => Chunks::DataLf,
                (Chunks::DataLf, b'\n') => Chunks::new(),
                (Chunks::LineStart, b'\r') => Chunks::LastLf,
                (Chunks::Trailer, b'\r') => Chunks::TrailerLf,
                (Chunks::LineStart | Chunks::Trailer, _) => Chunks::Trailer,
                (Chunks::TrailerLf, b'\n') => Chunks::LineStart,
                (Chunks::LastLf, b'\n') => Chunks::Done,
                _ => return Err(BadChunk),
            };
        }
        Ok(i)
    }
}

/// A parsed request head: positions in the connection's buffer.
/// The headers' (name, value) positions are in `Connection::fields`, reused from request to
/// request.
struct Head {
    method: http::Method,
    target: Range<usize>,
    /// Bytes of the head; the body starts after them.
    len: usize,
}

enum Parsed {
    Complete(Head),
    Partial,
    /// Not for this path: hyper answers it.
    HandOff,
}

fn parse_request(buf: &[u8], fields: &mut Vec<(Range<usize>, Range<usize>)>) -> Parsed {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut raw);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let (Some(method), Some(target), Some(1)) = (req.method, req.path, req.version) else {
                return Parsed::HandOff;
            };
            let Ok(method) = http::Method::from_bytes(method.as_bytes()) else {
                return Parsed::HandOff;
            };
            let base = buf.as_ptr() as usize;
            let at = |s: &[u8]| {
                let start = s.as_ptr() as usize - base;
                start..start + s.len()
            };
            fields.clear();
            fields.extend(
                req.headers
                    .iter()
                    .map(|h| (at(h.name.as_bytes()), at(h.value))),
            );
            Parsed::Complete(Head {
                method,
                target: at(target.as_bytes()),
                len,
            })
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => Parsed::Partial,
        _ => Parsed::HandOff,
    }
}

/// What the request's headers say, read in one pass.
#[derive(Default)]
struct Facts<'b> {
    host: Option<&'b str>,
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
    /// Header names the `Connection` header lists (hop-by-hop for this request).
    connection_named: Vec<&'b [u8]>,
    user_agent: Option<&'b [u8]>,
    referer: Option<&'b [u8]>,
    cloud_trace: Option<&'b [u8]>,
    traceparent: Option<&'b [u8]>,
    x_forwarded_for: Option<&'b [u8]>,
    /// Something only hyper handles.
    hand_off: bool,
}

fn facts<'b>(buf: &'b [u8], fields: &[(Range<usize>, Range<usize>)]) -> Facts<'b> {
    let mut f = Facts::default();
    for (name, value) in fields {
        let name = &buf[name.clone()];
        let value = &buf[value.clone()];
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("host") {
            f.hand_off |= f.host.is_some();
            match std::str::from_utf8(value) {
                Ok(h) => f.host = Some(h),
                Err(_) => f.hand_off = true,
            }
        } else if is("content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
            match (n, f.content_length) {
                (Some(n), None) => f.content_length = Some(n),
                (Some(n), Some(prior)) if n == prior => {}
                _ => f.hand_off = true,
            }
        } else if is("transfer-encoding") {
            f.hand_off |= f.chunked || !value.trim_ascii().eq_ignore_ascii_case(b"chunked");
            f.chunked = true;
        } else if is("connection") {
            for token in value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    f.close = true;
                } else if !token.is_empty() {
                    f.connection_named.push(token);
                }
            }
        } else if is("upgrade") || is("expect") {
            f.hand_off = true;
        } else if is("user-agent") {
            f.user_agent.get_or_insert(value);
        } else if is("referer") {
            f.referer.get_or_insert(value);
        } else if is("x-cloud-trace-context") {
            f.cloud_trace.get_or_insert(value);
        } else if is("traceparent") {
            f.traceparent.get_or_insert(value);
        } else if is("x-forwarded-for") {
            f.x_forwarded_for.get_or_insert(value);
        }
    }
    f.hand_off |= f.chunked && f.content_length.is_some();
    f
}

/// Headers the front end never forwards: hop-by-hop ones, client-sent `X-Google-*` and IAP
/// identity headers, and those it sets itself.
fn dropped_inbound(name: &[u8], connection_named: &[&[u8]]) -> bool {
    let lower = |prefix: &str| {
        name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    HOP_BY_HOP
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
        || name.eq_ignore_ascii_case(b"upgrade")
        || connection_named
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        || lower("x-google-")
        || lower("x-goog-iap-")
        || lower("x-goog-authenticated-")
        || [
            "x-forwarded-for",
            "x-forwarded-proto",
            "forwarded",
            "x-cloud-trace-context",
            "traceparent",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// [`push_header`] with a value in pieces.
fn push_header_parts(out: &mut Vec<u8>, name: &[u8], value: &[&[u8]]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    for part in value {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"\r\n");
}

/// The connection to the instance this client connection last reached.
struct Instance {
    addr: SocketAddr,
    stream: TcpStream,
    buf: BytesMut,
}

async fn connect(gateway: &Gateway, addr: SocketAddr) -> io::Result<Instance> {
    let stream = gateway.inner.dialer.dial(addr).await?;
    Ok(Instance {
        addr,
        stream,
        buf: BytesMut::with_capacity(READ_CHUNK),
    })
}

/// A parsed response head.
struct ResponseHead {
    status: u16,
    framing: Framing,
    /// The instance closes its connection after this response.
    close: bool,
    len: usize,
}

enum Exchange {
    Answered(ResponseHead),
    /// The instance could not be reached or answered no valid head: 503.
    Unreachable(io::Error),
    /// The client went away while its body was being sent.
    ClientGone,
}

/// A failure that means the instance dropped the connection before it answered.
fn is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// The head to send to the client (without its final CRLF) goes into `out`, cleared first.
fn parse_response(
    buf: &[u8],
    request_method: &http::Method,
    out: &mut Vec<u8>,
) -> io::Result<Option<ResponseHead>> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut raw);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response head too large",
            ));
        }
        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    };
    let status = resp.code.unwrap_or(502);
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(crate::text::decimal(u64::from(status)).as_bytes());
    out.push(b' ');
    out.extend_from_slice(resp.reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut length = None;
    let mut chunked = false;
    let mut other_coding = false;
    let mut close = resp.version == Some(0);
    let mut date = false;
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
            match (n, length) {
                (Some(n), None) => length = Some(n),
                (Some(n), Some(prior)) if n == prior => {}
                _ => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "content-length"));
                }
            }
            // Written once below, and never beside chunked framing.
            continue;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            // Another coding last: the body runs until the instance closes.
            other_coding = !chunked;
            continue;
        } else if name.eq_ignore_ascii_case(b"connection") {
            close |= h
                .value
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        } else if name.eq_ignore_ascii_case(b"date") {
            date = true;
        }
        if HOP_BY_HOP
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
        {
            continue;
        }
        push_header(out, name, h.value);
    }
    if !date {
        push_header(
            out,
            b"date",
            httpdate::fmt_http_date(SystemTime::now()).as_bytes(),
        );
    }
    let bodiless = *request_method == http::Method::HEAD
        || (100..200).contains(&status)
        || status == 204
        || status == 304;
    let framing = match (bodiless, chunked, other_coding, length) {
        (true, ..) => Framing::Length(0),
        (false, true, ..) => Framing::Chunked,
        (false, false, true, _) | (false, false, false, None) => Framing::Close,
        (false, false, false, Some(n)) => Framing::Length(n),
    };
    match (framing, length) {
        (Framing::Chunked | Framing::Close, _) => {
            push_header(out, b"transfer-encoding", b"chunked");
        }
        // A bodiless answer keeps the length the instance declared (HEAD's is the GET's).
        (Framing::Length(_), Some(n)) if !chunked => {
            push_header(out, b"content-length", crate::text::decimal(n).as_bytes());
        }
        (Framing::Length(_), _) => {}
    }
    Ok(Some(ResponseHead {
        status,
        framing,
        close: close || matches!(framing, Framing::Close),
        len,
    }))
}

/// One client connection on the fast path.
struct Connection<'g> {
    gateway: &'g Gateway,
    entry: &'g Entry,
    conn: Conn,
    /// The client's address as text, once per connection.
    peer_ip: Option<IpText>,
    client: TcpStream,
    buf: BytesMut,
    fields: Vec<(Range<usize>, Range<usize>)>,
    out: Vec<u8>,
    /// The response head for the client, reused from one response to the next.
    head_out: Vec<u8>,
    instance: Option<Instance>,
}

/// What became of one request.
enum Next {
    /// Read the next request.
    KeepAlive,
    /// Close the client connection.
    Close,
    /// Give the connection to hyper; nothing of this request was consumed.
    HandOff,
}

impl Gateway {
    /// Serve a client connection. HTTP/1.1 requests this path handles are answered here; at
    /// the first one it does not (see the module docs), the connection is returned, with the
    /// bytes already read, for hyper to serve from that request on. `None`: the connection is
    /// done. Between requests it stops when `shutdown` turns true.
    pub async fn serve_http1(
        &self,
        stream: TcpStream,
        entry: &Entry,
        conn: Conn,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Option<Rewound> {
        let mut c = Connection {
            gateway: self,
            entry,
            conn,
            peer_ip: conn.peer.map(|p| IpText::of(p.ip())),
            client: stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            fields: Vec::with_capacity(16),
            out: Vec::with_capacity(1024),
            head_out: Vec::with_capacity(1024),
            instance: None,
        };
        // One wait for the whole connection: a new one per request registered and removed a
        // waiter under the shutdown channel's lock, which every connection on every I/O
        // thread shares.
        let stop = shutdown.wait_for(|s| *s);
        tokio::pin!(stop);
        loop {
            let head = loop {
                if !c.buf.is_empty() {
                    match parse_request(&c.buf, &mut c.fields) {
                        Parsed::Complete(head) => break head,
                        Parsed::Partial => {}
                        Parsed::HandOff => return Some(c.rewound()),
                    }
                }
                c.buf.reserve(READ_CHUNK);
                let read = if c.buf.is_empty() {
                    tokio::select! {
                        biased;
                        r = c.client.read_buf(&mut c.buf) => r,
                        _ = &mut stop => return None,
                    }
                } else {
                    c.client.read_buf(&mut c.buf).await
                };
                match read {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            };
            match c.request(head).await {
                Next::KeepAlive => {}
                Next::Close => return None,
                Next::HandOff => return Some(c.rewound()),
            }
        }
    }
}

impl Connection<'_> {
    fn rewound(self) -> Rewound {
        Rewound {
            prefix: self.buf.freeze(),
            stream: self.client,
        }
    }

    async fn request(&mut self, head: Head) -> Next {
        let gateway = self.gateway;
        let buf = &self.buf[..];
        let f = facts(buf, &self.fields);
        let target = std::str::from_utf8(&buf[head.target.clone()]).unwrap_or("");
        let host_ok = match self.entry {
            Entry::Host => f.host.is_some_and(is_gateway_host),
            Entry::ServicePort(_) => true,
        };
        if f.hand_off || !host_ok || !target.starts_with('/') {
            return Next::HandOff;
        }
        let framing = match (f.chunked, f.content_length) {
            (true, _) => Framing::Chunked,
            (false, n) => Framing::Length(n.unwrap_or(0)),
        };
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        let text = |v: Option<&[u8]>| {
            v.and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned)
        };
        let log = LogContext {
            method: head.method.clone(),
            url: ["http://", f.host.unwrap_or("localhost"), target].concat(),
            user_agent: text(f.user_agent),
            referer: text(f.referer),
            request_size: match framing {
                Framing::Length(n) => Some(n),
                _ => None,
            },
            protocol: "HTTP/1.1",
            remote_ip: self.peer_ip,
            trace: Trace::from_values(f.cloud_trace, f.traceparent),
            started: Instant::now(),
            received: SystemTime::now(),
        };
        let routed = match gateway.route_to(f.host, path, self.entry) {
            Flow::Continue(r) => r,
            Flow::Respond(resp) => return self.answer(&head, framing, resp, f.close).await,
        };
        let (route, source) = match gateway.admit_route(&routed, self.conn) {
            Flow::Continue(admitted) => admitted,
            Flow::Respond(resp) => return self.answer(&head, framing, resp, f.close).await,
        };
        if route.iap_enabled {
            return Next::HandOff;
        }
        let field = |name: &'static str| {
            self.fields
                .iter()
                .filter(move |(n, _)| buf[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
                .map(|(_, v)| &buf[v.clone()])
        };
        let presented =
            headers::presented_of(field(X_SERVERLESS_AUTHORIZATION), field("authorization"));
        let admitted = match gateway.admit_caller(&routed, &route, &presented, source, &log) {
            Flow::Continue(admitted) => admitted,
            Flow::Respond(resp) => return self.answer(&head, framing, resp, f.close).await,
        };
        let (revision, slot) = match gateway.instance(&routed, &route, &log).await {
            Ok(picked) => picked,
            Err((resp, _)) => return self.answer(&head, framing, resp, f.close).await,
        };
        if slot.info.h2c {
            return Next::HandOff;
        }
        // The forwarded head: request line, the client's headers minus what the front end
        // drops or redacts, then the front end's own.
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(head.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        // The redacted header carries the presented token: its unsigned part, found once.
        let unsigned = match &presented {
            headers::Presented::Token { token, .. } if admitted.redact.is_some() => {
                headers::unsigned_part(token)
            }
            _ => None,
        };
        let redact: &[u8] = match admitted.redact {
            Some(TokenHeader::XServerless) => X_SERVERLESS_AUTHORIZATION.as_bytes(),
            Some(TokenHeader::Authorization) => b"authorization",
            None => b"",
        };
        for (name, value) in &self.fields {
            let name = &buf[name.clone()];
            let value = &buf[value.clone()];
            if dropped_inbound(name, &f.connection_named) {
                continue;
            }
            let redacted = !redact.is_empty() && name.eq_ignore_ascii_case(redact);
            match unsigned.filter(|_| redacted) {
                Some(unsigned) => push_header_parts(
                    out,
                    name,
                    &[
                        b"Bearer ",
                        unsigned.as_bytes(),
                        headers::SIGNATURE_REMOVED.as_bytes(),
                    ],
                ),
                None => push_header(out, name, value),
            }
        }
        if framing == Framing::Chunked {
            push_header(out, b"transfer-encoding", b"chunked");
        }
        if let Some(ip) = &self.peer_ip {
            // As the hyper path reads it: text or nothing.
            let prior = f.x_forwarded_for.filter(|v| std::str::from_utf8(v).is_ok());
            push_header_parts(out, b"x-forwarded-for", &headers::forwarded_for(prior, ip));
            push_header_parts(out, b"forwarded", &headers::forwarded(ip));
        }
        push_header(out, b"x-forwarded-proto", b"http");
        log.trace.push_headers(out);
        out.extend_from_slice(b"\r\n");
        let client_close = f.close;
        let method = head.method.clone();
        drop(f);
        self.buf.advance(head.len);
        self.forward(&method, framing, client_close, slot, &route, revision, &log)
            .await
    }

    /// Send the request to the instance, then its answer to the client.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the phase needs all of it"
    )]
    async fn forward(
        &mut self,
        method: &http::Method,
        framing: Framing,
        client_close: bool,
        slot: Slot,
        route: &ServiceRoute,
        revision: &str,
        log: &LogContext,
    ) -> Next {
        let gateway = self.gateway;
        let mut out = std::mem::take(&mut self.out);
        // The body bytes already read go out with the head.
        let mut left = match framing {
            // A request has no close-delimited body.
            Framing::Close => Left::Length(0),
            framing => match take_buffered(&mut self.buf, framing, &mut out) {
                Ok(left) => left,
                Err(BadChunk) => {
                    self.out = out;
                    return self.write_response(method, bad_request(), true).await;
                }
            },
        };
        let exchange = tokio::time::timeout(
            slot.info.timeout,
            self.exchange(slot.addr, &out, &mut left, method),
        )
        .await;
        self.out = out;
        let head = match exchange {
            Ok(Exchange::Answered(head)) => head,
            Ok(Exchange::ClientGone) => return Next::Close,
            Ok(Exchange::Unreachable(e)) => {
                tracing::warn!(error = %e, %revision, "instance unreachable");
                let resp = unavailable("The service is temporarily unavailable.");
                gateway.record(route, Some(revision), log, resp.status(), None);
                return self.write_response(method, resp, true).await;
            }
            Err(_) => {
                // The instance may still answer on that connection: never reuse it.
                self.instance = None;
                let mut resp = Response::new(crate::full_body("upstream request timeout"));
                *resp.status_mut() = StatusCode::GATEWAY_TIMEOUT;
                gateway.record(route, Some(revision), log, resp.status(), None);
                return self.write_response(method, resp, true).await;
            }
        };
        let status = StatusCode::from_u16(head.status).unwrap_or(StatusCode::BAD_GATEWAY);
        gateway.record(route, Some(revision), log, status, None);
        let next = self.relay(head, client_close).await;
        drop(slot);
        next
    }

    /// Connect (or reuse), send the request and read the response head. When the instance
    /// refuses or resets a connection before answering — a keep-alive connection it closed
    /// while idle, or a burst beyond its listen backlog — the request is sent again on a new
    /// connection, as nginx's `proxy_next_upstream error` does: only when the whole request
    /// was in hand and, unless the failed connection was a reused one, only for idempotent
    /// methods.
    async fn exchange(
        &mut self,
        addr: SocketAddr,
        out: &[u8],
        left: &mut Left,
        method: &http::Method,
    ) -> Exchange {
        const ATTEMPTS: u64 = 3;
        let whole = left.done();
        let idempotent = method.is_idempotent();
        let mut last = io::Error::from(io::ErrorKind::ConnectionReset);
        for attempt in 0..ATTEMPTS {
            let reuse = attempt == 0 && self.instance.as_ref().is_some_and(|i| i.addr == addr);
            if !reuse {
                self.instance = None;
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
                }
                match connect(self.gateway, addr).await {
                    Ok(instance) => self.instance = Some(instance),
                    Err(e) => {
                        last = e;
                        continue;
                    }
                }
            }
            let Some(instance) = self.instance.as_mut() else {
                break;
            };
            let retry = |e: &io::Error| whole && (reuse || idempotent) && is_stale(e);
            instance.buf.clear();
            if let Err(e) = instance.stream.write_all(out).await {
                self.instance = None;
                if retry(&e) {
                    last = e;
                    continue;
                }
                return Exchange::Unreachable(e);
            }
            if !whole {
                match copy_body(&mut self.client, &mut self.buf, instance, left).await {
                    Ok(()) => {}
                    Err(Copy::ClientGone) => {
                        self.instance = None;
                        return Exchange::ClientGone;
                    }
                    Err(Copy::Instance(e)) => {
                        self.instance = None;
                        return Exchange::Unreachable(e);
                    }
                }
            }
            match read_response_head(instance, method, &mut self.head_out).await {
                Ok(head) => return Exchange::Answered(head),
                Err(e) => {
                    let nothing = instance.buf.is_empty();
                    self.instance = None;
                    if nothing && retry(&e) {
                        last = e;
                        continue;
                    }
                    return Exchange::Unreachable(e);
                }
            }
        }
        Exchange::Unreachable(last)
    }

    /// The response head and body to the client. The instance connection stays for the next
    /// request only when its response ended cleanly.
    async fn relay(&mut self, head: ResponseHead, client_close: bool) -> Next {
        let Some(instance) = self.instance.as_mut() else {
            return Next::Close;
        };
        let ResponseHead {
            framing,
            close,
            len,
            ..
        } = head;
        let out = &mut self.head_out;
        instance.buf.advance(len);
        if client_close {
            push_header(out, b"connection", b"close");
        }
        out.extend_from_slice(b"\r\n");
        let mut left = match framing {
            Framing::Length(_) | Framing::Chunked => {
                take_buffered(&mut instance.buf, framing, out).unwrap_or(Left::Broken)
            }
            Framing::Close => {
                if !instance.buf.is_empty() {
                    push_chunk(out, &instance.buf);
                    instance.buf.clear();
                }
                Left::UntilClose
            }
        };
        if self.client.write_all(out).await.is_err() {
            self.instance = None;
            return Next::Close;
        }
        let clean = match relay_body(
            &mut instance.stream,
            &mut instance.buf,
            &mut self.client,
            &mut left,
        )
        .await
        {
            Ok(clean) => clean,
            Err(Copy::ClientGone) => {
                self.instance = None;
                return Next::Close;
            }
            Err(Copy::Instance(e)) => {
                // The client saw part of a response: closing is the only way to say so.
                tracing::debug!(error = %e, "instance connection failed mid-response");
                self.instance = None;
                return Next::Close;
            }
        };
        if close || !clean || !instance.buf.is_empty() {
            self.instance = None;
        }
        if client_close {
            Next::Close
        } else {
            Next::KeepAlive
        }
    }

    /// A response the front end makes itself. A request body not yet read closes the connection
    /// after it (the next request's start would be unknown).
    async fn answer(
        &mut self,
        head: &Head,
        framing: Framing,
        resp: Response<GatewayBody>,
        close: bool,
    ) -> Next {
        let body = &self.buf[head.len..];
        let consumed = match framing {
            Framing::Length(n) => (body.len() as u64 >= n).then_some(n as usize),
            Framing::Chunked => {
                let mut chunks = Chunks::new();
                match chunks.scan(body) {
                    Ok(n) if chunks == Chunks::Done => Some(n),
                    _ => None,
                }
            }
            Framing::Close => None,
        };
        let next = self
            .write_response(&head.method, resp, close || consumed.is_none())
            .await;
        if let Some(n) = consumed {
            self.buf.advance(head.len + n);
        }
        next
    }

    async fn write_response(
        &mut self,
        method: &http::Method,
        resp: Response<GatewayBody>,
        close: bool,
    ) -> Next {
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(parts.status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &parts.headers {
            push_header(out, name.as_str().as_bytes(), value.as_bytes());
        }
        push_header(out, b"content-length", body.len().to_string().as_bytes());
        push_header(
            out,
            b"date",
            httpdate::fmt_http_date(SystemTime::now()).as_bytes(),
        );
        if close {
            push_header(out, b"connection", b"close");
        }
        out.extend_from_slice(b"\r\n");
        if *method != http::Method::HEAD {
            out.extend_from_slice(&body);
        }
        if self.client.write_all(out).await.is_err() || close {
            Next::Close
        } else {
            Next::KeepAlive
        }
    }
}

/// Moves the part of a body already in `buf` (length or chunked framing) to `out`: what is left
/// of the body to copy.
fn take_buffered(
    buf: &mut BytesMut,
    framing: Framing,
    out: &mut Vec<u8>,
) -> Result<Left, BadChunk> {
    let (take, left) = match framing {
        Framing::Length(n) => {
            let take = (buf.len() as u64).min(n);
            (take as usize, Left::Length(n - take))
        }
        Framing::Chunked => {
            let mut chunks = Chunks::new();
            (chunks.scan(buf)?, Left::Chunked(chunks))
        }
        // Callers relay close-delimited bodies themselves.
        Framing::Close => (0, Left::Length(0)),
    };
    out.extend_from_slice(&buf[..take]);
    buf.advance(take);
    Ok(left)
}

/// What remains of a body being copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    Length(u64),
    Chunked(Chunks),
    /// Until the instance closes (re-framed as chunks for the client).
    UntilClose,
    /// The instance's chunked framing did not parse.
    Broken,
}

impl Left {
    fn done(&self) -> bool {
        matches!(self, Left::Length(0) | Left::Chunked(Chunks::Done))
    }
}

enum Copy {
    ClientGone,
    Instance(io::Error),
}

/// The rest of a request body, from the client to the instance. Bytes after the body (a
/// pipelined request) stay in `buf`.
async fn copy_body(
    client: &mut TcpStream,
    buf: &mut BytesMut,
    instance: &mut Instance,
    left: &mut Left,
) -> Result<(), Copy> {
    while !left.done() {
        if buf.is_empty() {
            buf.reserve(READ_CHUNK);
            match client.read_buf(buf).await {
                Ok(0) | Err(_) => return Err(Copy::ClientGone),
                Ok(_) => {}
            }
        }
        let take = match left {
            Left::Length(n) => {
                let take = (buf.len() as u64).min(*n) as usize;
                *n -= take as u64;
                take
            }
            Left::Chunked(chunks) => chunks.scan(buf).map_err(|BadChunk| Copy::ClientGone)?,
            Left::UntilClose | Left::Broken => return Err(Copy::ClientGone),
        };
        instance
            .stream
            .write_all(&buf[..take])
            .await
            .map_err(Copy::Instance)?;
        buf.advance(take);
    }
    Ok(())
}

/// The rest of a response body, from the instance to the client. `Ok(false)`: the response
/// ended in a way that leaves the instance connection unusable. Bytes after the body stay in
/// `buf`.
async fn relay_body(
    instance: &mut TcpStream,
    buf: &mut BytesMut,
    client: &mut TcpStream,
    left: &mut Left,
) -> Result<bool, Copy> {
    let mut framed = Vec::new();
    loop {
        if left.done() {
            return Ok(true);
        }
        if *left == Left::Broken {
            return Err(Copy::Instance(bad_framing()));
        }
        // Everything read so far was relayed.
        buf.clear();
        buf.reserve(READ_CHUNK);
        if instance.read_buf(buf).await.map_err(Copy::Instance)? == 0 {
            if *left != Left::UntilClose {
                return Err(Copy::Instance(io::ErrorKind::UnexpectedEof.into()));
            }
            client
                .write_all(b"0\r\n\r\n")
                .await
                .map_err(|_| Copy::ClientGone)?;
            return Ok(false);
        }
        let take = match left {
            Left::Length(rest) => {
                let take = (buf.len() as u64).min(*rest) as usize;
                *rest -= take as u64;
                take
            }
            Left::Chunked(chunks) => chunks
                .scan(buf)
                .map_err(|BadChunk| Copy::Instance(bad_framing()))?,
            Left::UntilClose | Left::Broken => {
                framed.clear();
                push_chunk(&mut framed, buf);
                client
                    .write_all(&framed)
                    .await
                    .map_err(|_| Copy::ClientGone)?;
                buf.clear();
                continue;
            }
        };
        client
            .write_all(&buf[..take])
            .await
            .map_err(|_| Copy::ClientGone)?;
        buf.advance(take);
    }
}

fn bad_framing() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "bad chunked framing")
}

/// One chunk of chunked framing around `data`.
fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

async fn read_response_head(
    instance: &mut Instance,
    method: &http::Method,
    out: &mut Vec<u8>,
) -> io::Result<ResponseHead> {
    loop {
        if !instance.buf.is_empty()
            && let Some(head) = parse_response(&instance.buf, method, out)?
        {
            if (100..200).contains(&head.status) {
                // Interim answers (103 Early Hints, …) are not relayed; a 101 to a request
                // that asked for no upgrade is an error.
                if head.status == 101 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "unasked 101"));
                }
                instance.buf.advance(head.len);
                continue;
            }
            return Ok(head);
        }
        instance.buf.reserve(READ_CHUNK);
        if instance.stream.read_buf(&mut instance.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

fn unavailable(message: &str) -> Response<GatewayBody> {
    crate::html(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::server_error(503, "Service Unavailable", message),
    )
}

fn bad_request() -> Response<GatewayBody> {
    crate::html(
        StatusCode::BAD_REQUEST,
        pages::server_error(
            400,
            "Bad Request",
            "Your client has issued a malformed or illegal request.",
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

    use super::*;
    use proptest::prelude::*;

    fn scan_all(pieces: &[&[u8]]) -> Result<(usize, Chunks), BadChunk> {
        let mut chunks = Chunks::new();
        let mut total = 0;
        for piece in pieces {
            total += chunks.scan(piece)?;
            if chunks == Chunks::Done {
                break;
            }
        }
        Ok((total, chunks))
    }

    #[test]
    fn chunked_framing_ends_where_rfc_9112_says() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"0\r\n\r\n", Some(5)),
            (b"0\r\n\r\nGET / HTTP/1.1\r\n", Some(5)),
            (b"5\r\nhello\r\n0\r\n\r\n", Some(15)),
            (b"5;ext=1\r\nhello\r\n0\r\n\r\n", Some(21)),
            (
                b"A\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\nrest",
                Some(34),
            ),
            (b"5\r\nhello\r\n", None),
            (b"5\r\nhel", None),
        ];
        for (input, end) in cases {
            let (n, state) = scan_all(&[input]).unwrap();
            match end {
                Some(end) => {
                    assert_eq!(state, Chunks::Done, "{:?}", String::from_utf8_lossy(input));
                    assert_eq!(n, *end);
                }
                None => {
                    assert_ne!(state, Chunks::Done);
                    assert_eq!(n, input.len());
                }
            }
        }
    }

    #[test]
    fn malformed_chunked_framing_is_refused() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"5\r\nhelloX\r\n",
            b"5\nhello",
            b"fffffffffffffffff\r\n",
            b"0\r\n\r\r",
        ] {
            assert!(
                scan_all(&[bad]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn encode(body: &[u8], sizes: &[usize], trailer: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].clamp(1, rest.len());
            i += 1;
            out.extend_from_slice(format!("{n:X}").as_bytes());
            if i % 3 == 0 {
                out.extend_from_slice(b";name=value");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        out.extend_from_slice(b"0\r\n");
        if trailer {
            out.extend_from_slice(b"x-checksum: 42\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    proptest! {
        /// However the bytes arrive, the scanner stops exactly at the end of the body and never
        /// swallows what follows it.
        #[test]
        fn the_end_of_a_chunked_body_does_not_depend_on_how_it_arrives(
            body in proptest::collection::vec(any::<u8>(), 0..600),
            sizes in proptest::collection::vec(1usize..80, 1..6),
            trailer in any::<bool>(),
            cuts in proptest::collection::vec(0usize..700, 0..8),
        ) {
            let mut wire = encode(&body, &sizes, trailer);
            let end = wire.len();
            wire.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(wire.len())).collect();
            cuts.push(wire.len());
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&wire[at..c]);
                at = c;
            }
            let (n, state) = scan_all(&pieces).unwrap();
            prop_assert_eq!(state, Chunks::Done);
            prop_assert_eq!(n, end);
        }

        /// Arbitrary bytes never panic the scanner.
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = scan_all(&[&input]);
        }
    }

    #[test]
    fn request_heads_this_path_does_not_take_go_to_hyper() {
        let mut fields = Vec::new();
        let hand_off =
            |raw: &[u8], fields: &mut Vec<_>| matches!(parse_request(raw, fields), Parsed::HandOff);
        assert!(hand_off(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &mut fields));
        assert!(hand_off(b"GET / HTTP/1.0\r\nHost: a\r\n\r\n", &mut fields));
        assert!(hand_off(b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n", &mut fields));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n", &mut fields),
            Parsed::Partial
        ));
        let big = [b"GET / HTTP/1.1\r\nx: ".as_slice(), &vec![b'a'; MAX_HEAD]].concat();
        assert!(hand_off(&big, &mut fields));
        let raw = b"POST /p?q HTTP/1.1\r\nHost: h.run.localhost\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
        let Parsed::Complete(head) = parse_request(raw, &mut fields) else {
            panic!()
        };
        assert_eq!(&raw[head.target], b"/p?q");
        assert!(facts(raw, &fields).hand_off);
        for raw in [
            &b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n",
        ] {
            let Parsed::Complete(_) = parse_request(raw, &mut fields) else { panic!() };
            assert!(facts(raw, &fields).hand_off, "{}", String::from_utf8_lossy(raw));
        }
        let raw = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close, X-Private\r\nX-Private: 1\r\nContent-Length: 0\r\n\r\n";
        let Parsed::Complete(_) = parse_request(raw, &mut fields) else {
            panic!()
        };
        let f = facts(raw, &fields);
        assert!(!f.hand_off && f.close);
        assert!(dropped_inbound(b"x-private", &f.connection_named));
        assert!(dropped_inbound(
            b"X-Goog-IAP-JWT-Assertion",
            &f.connection_named
        ));
        assert!(dropped_inbound(b"Keep-Alive", &f.connection_named));
        assert!(!dropped_inbound(b"authorization", &f.connection_named));
    }

    #[test]
    fn response_framing_follows_the_instance_and_the_request() {
        let get = http::Method::GET;
        let head = |raw: &[u8], m: &http::Method| {
            let mut out = b"stale".to_vec();
            let head = parse_response(raw, m, &mut out).unwrap().unwrap();
            (head, String::from_utf8(out).unwrap())
        };
        let (r, text) = head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
            &get,
        );
        assert_eq!((r.framing, r.close), (Framing::Length(2), false));
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("date: "),
            "{text}"
        );
        assert!(!text.to_ascii_lowercase().contains("connection"), "{text}");
        let (r, _) = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            &get,
        );
        assert_eq!(r.framing, Framing::Chunked);
        let (r, text) = head(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", &get);
        assert_eq!((r.framing, r.close), (Framing::Close, true));
        assert!(text.contains("transfer-encoding: chunked"), "{text}");
        let (r, _) = head(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", &get);
        assert_eq!((r.framing, r.close), (Framing::Length(2), true));
        let (r, _) = head(b"HTTP/1.1 204 No Content\r\n\r\n", &get);
        assert_eq!(r.framing, Framing::Length(0));
        let (r, text) = head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
            &http::Method::HEAD,
        );
        assert_eq!(r.framing, Framing::Length(0));
        assert!(text.contains("content-length: 9"), "{text}");
        // Chunked framing wins over a Content-Length (RFC 9112 §6.3); the client never sees both.
        let (r, text) = head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            &get,
        );
        assert_eq!(r.framing, Framing::Chunked);
        let text = text.to_ascii_lowercase();
        assert!(!text.contains("content-length"), "{text}");
        assert!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
                &get,
                &mut Vec::new()
            )
            .is_err()
        );
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\n", &get, &mut Vec::new())
                .unwrap()
                .is_none()
        );
    }
}
