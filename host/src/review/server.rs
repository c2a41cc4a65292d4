//! The review page's HTTP server: `hyper` on a one-thread `tokio` runtime.
//!
//! The page is one user's, on loopback, but any local user can connect to
//! it, so what a connection may cost is bounded, and an idle or slow one
//! costs no thread:
//!
//! - A connection must send its first byte within [`Limits::head`], and
//!   then its whole request head within [`Limits::head`] more (hyper's
//!   header read timeout, which also ends a keep-alive connection idle
//!   that long); a head is at most [`Limits::max_head`] bytes. A client
//!   sending its head a byte at a time is cut off then. Until its first
//!   byte a connection has no buffer: an idle one costs about a KiB.
//! - Who is asking (`Host`, `Origin`, session key and cookie) is checked
//!   on the head, *before* a byte of the body is read; a refused request's
//!   body is never read and its connection is closed.
//! - A body must arrive within [`Limits::body`] and be at most
//!   [`Limits::max_body`] bytes.
//! - At most [`Limits::connections`] connections are open; a new one
//!   closes the connection idle the longest (no request being answered)
//!   rather than being refused, so a flood of idle connections cannot keep
//!   the page's user out. The cap stays below the process's open-file
//!   limit, whose soft value is raised to the hard one at start.
//! - Answers are computed on at most [`Limits::handlers`] threads (reading
//!   folders, decoding a photo, training), never on the thread that reads
//!   and writes connections.
//!
//! Ctrl-C ([`rollcall_files::interrupt`]) and SIGTERM stop it: no new
//! connection is taken, the requests in flight are answered (for at most
//! [`Limits::body`] more), and [`Server::run`] returns.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Notify, mpsc, watch};

use super::{Req, Resp, Review};

/// What the server gives its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a connection's first byte, and then the request head.
    pub head: Duration,
    /// Time to send a request body, once its head is in.
    pub body: Duration,
    /// Largest request head (at least 8 KiB: hyper's smallest buffer).
    pub max_head: usize,
    /// Largest request body (an action is a few hundred bytes).
    pub max_body: usize,
    /// Connections open at once (lowered to fit the open-file limit).
    pub connections: usize,
    /// Requests answered at once.
    pub handlers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            head: Duration::from_secs(10),
            body: Duration::from_secs(10),
            max_head: 16 << 10,
            max_body: 1 << 20,
            connections: 4096,
            handlers: 8,
        }
    }
}

/// How often the server looks for a Ctrl-C.
const STOP_POLL: Duration = Duration::from_millis(50);

/// File descriptors kept for what is not a connection (the listener,
/// files the handlers open, the runtime's own).
const SPARE_FILES: u64 = 64;

/// The review server, bound and with its signals caught, not yet serving.
///
/// Made before the browser is sent to the page, so that a SIGTERM from
/// then on stops it the orderly way (the default action would end the
/// process at once and leave the launch page's folder behind).
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    term: Option<tokio::signal::unix::Signal>,
    review: Arc<Review>,
    limits: Limits,
}

impl Server {
    /// A server for `review` on `listener`.
    pub fn new(review: Arc<Review>, listener: std::net::TcpListener, mut limits: Limits) -> std::io::Result<Server> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .max_blocking_threads(limits.handlers.max(1))
            .thread_name("rollcall-review")
            .build()?;
        let (listener, term) = {
            // Both need the runtime's reactor.
            let _entered = runtime.enter();
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("review server: SIGTERM will end it without cleaning up: {e}");
                    None
                }
            };
            (listener, term)
        };
        let files = raise_open_files_limit();
        let fit = usize::try_from(files.saturating_sub(SPARE_FILES)).unwrap_or(usize::MAX).max(16);
        if fit < limits.connections {
            tracing::debug!("review server: {fit} connections at most (open-file limit {files})");
            limits.connections = fit;
        }
        Ok(Server { runtime, listener, term, review, limits })
    }

    /// Serves until Ctrl-C or SIGTERM; then answers the requests in flight
    /// and returns.
    pub fn run(self) {
        let Server { runtime, listener, term, review, limits } = self;
        runtime.block_on(serve(review, listener, term, limits));
        // Dropping the runtime waits for answers still being computed (a
        // training run); connections still open are dropped.
        drop(runtime);
    }
}

/// Raises the soft limit on open files to the hard one; returns the soft
/// limit in force.
fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return 1024 };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

async fn serve(review: Arc<Review>, listener: tokio::net::TcpListener, term: Option<tokio::signal::unix::Signal>, limits: Limits) {
    let registry = Arc::new(Mutex::new(Registry::default()));
    // Every connection's task holds a sender: `recv` ends when all have
    // ended.
    let (alive, mut all_ended) = mpsc::channel::<()>(1);
    let (stopping, stop_seen) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.head).max_buf_size(limits.max_head.max(8192));
    let http = Arc::new(http);
    let stop = stop_requested(term);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: the connection waits in
                // the backlog; look again shortly.
                tracing::debug!("review server: accept: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Some((id, close)) = lock(&registry).admit(limits.connections) else {
            // Every connection is being answered: this one is refused.
            drop(stream);
            continue;
        };
        let conn = Connection { id, review: review.clone(), registry: registry.clone(), limits, _alive: alive.clone() };
        tokio::spawn(conn.serve(stream, http.clone(), close, stop_seen.clone()));
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(alive);
    // A client that does not read its answer would hold this forever.
    let _ = tokio::time::timeout(limits.body, all_ended.recv()).await;
}

/// Resolves on SIGTERM (which then asks the whole command to stop, as
/// Ctrl-C does) or once Ctrl-C was pressed.
async fn stop_requested(mut term: Option<tokio::signal::unix::Signal>) {
    loop {
        if rollcall_files::interrupt::requested() {
            return;
        }
        let signalled = async {
            match &mut term {
                Some(t) => t.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = signalled => {
                rollcall_files::interrupt::request();
                return;
            }
            () = tokio::time::sleep(STOP_POLL) => {}
        }
    }
}

fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    registry.lock().unwrap_or_else(|p| p.into_inner())
}

/// The open connections, and which are idle since when.
#[derive(Default)]
struct Registry {
    next: u64,
    /// Each open connection: what closes it, and its key in `idle` while
    /// it is not answering a request.
    open: HashMap<u64, (Arc<Notify>, Option<u64>)>,
    /// The idle connections, idle the longest first: order key to id.
    idle: BTreeMap<u64, u64>,
}

impl Registry {
    fn ticket(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Takes a new connection, closing the one idle the longest if `cap`
    /// are open; `None` if all of them are answering requests.
    fn admit(&mut self, cap: usize) -> Option<(u64, Arc<Notify>)> {
        while self.open.len() >= cap.max(1) {
            let (_, victim) = self.idle.pop_first()?;
            if let Some((close, _)) = self.open.remove(&victim) {
                // Stored if the task is not waiting yet: never lost.
                close.notify_one();
            }
        }
        let id = self.ticket();
        let key = self.ticket();
        let close = Arc::new(Notify::new());
        self.open.insert(id, (close.clone(), Some(key)));
        self.idle.insert(key, id);
        Some((id, close))
    }

    /// `id` is answering a request: not to be closed for another.
    fn busy(&mut self, id: u64) {
        if let Some((_, key)) = self.open.get_mut(&id)
            && let Some(key) = key.take()
        {
            self.idle.remove(&key);
        }
    }

    /// `id` answered its request: idle again, the most recently.
    fn rest(&mut self, id: u64) {
        let key = self.ticket();
        if let Some((_, slot)) = self.open.get_mut(&id) {
            if let Some(old) = slot.replace(key) {
                self.idle.remove(&old);
            }
            self.idle.insert(key, id);
        }
    }

    fn leave(&mut self, id: u64) {
        if let Some((_, Some(key))) = self.open.remove(&id) {
            self.idle.remove(&key);
        }
    }
}

/// One accepted connection.
struct Connection {
    id: u64,
    review: Arc<Review>,
    registry: Arc<Mutex<Registry>>,
    limits: Limits,
    /// Dropped when the connection's task ends.
    _alive: mpsc::Sender<()>,
}

impl Connection {
    async fn serve(
        self,
        stream: tokio::net::TcpStream,
        http: Arc<hyper::server::conn::http1::Builder>,
        close: Arc<Notify>,
        mut stopping: watch::Receiver<bool>,
    ) {
        let this = Arc::new(self);
        // Until its first byte, an idle connection is a socket and a small
        // task: hyper reserves its read buffer as soon as it starts. (A
        // peek, not `readable`, which is ready at once on a new socket.)
        let mut first = [0u8; 1];
        let started = tokio::select! {
            sent = tokio::time::timeout(this.limits.head, stream.peek(&mut first)) => matches!(sent, Ok(Ok(n)) if n > 0),
            () = close.notified() => false,
            _ = stopping.changed() => false,
        };
        if started {
            // Boxed: the connection's state is allocated only now.
            Box::pin(this.clone().exchanges(stream, &http, &close, &mut stopping)).await;
        }
        lock(&this.registry).leave(this.id);
    }

    /// Serves the connection's requests until it ends, is closed for
    /// another, or the server stops.
    async fn exchanges(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        http: &hyper::server::conn::http1::Builder,
        close: &Notify,
        stopping: &mut watch::Receiver<bool>,
    ) {
        let handler = self;
        let service = hyper::service::service_fn(move |request| {
            let handler = handler.clone();
            async move { Ok::<_, Infallible>(handler.answer(request).await) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        loop {
            tokio::select! {
                _ = &mut conn => break,
                () = close.notified() => break,
                changed = stopping.changed(), if !*stopping.borrow() => {
                    if changed.is_err() || *stopping.borrow() {
                        // Answers what it is answering, then closes.
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }

    /// Reads a request (its head checked before its body) and answers it.
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        lock(&self.registry).busy(self.id);
        let resp = self.exchange(request).await;
        lock(&self.registry).rest(self.id);
        resp
    }

    async fn exchange(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let header = |name: header::HeaderName| {
            let mut values = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
            let first = values.next()?.to_string();
            Some(values.fold(first, |all, v| format!("{all}; {v}")))
        };
        let mut req = Req {
            method: parts.method.as_str().to_string(),
            url: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            host: header(header::HOST),
            origin: header(header::ORIGIN),
            session: header(header::HeaderName::from_static(super::SESSION_HEADER)),
            cookie: header(header::COOKIE),
            body: Vec::new(),
        };
        // Who is asking, before a byte of the body is read: a client
        // without the session cannot make the server wait for one.
        if let Err(refused) = self.review.check(&req) {
            return closing(response(refused));
        }
        let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        // Only the API's POSTs, which need the whole session, have a body:
        // any other request that brings one (a `GET /launch` with a
        // megabyte behind it, from someone without the session) is
        // refused without reading it, so that no one but the teacher can
        // make the server hold a body or wait for one.
        let has_body = declared.is_some_and(|n| n > 0) || parts.headers.contains_key(header::TRANSFER_ENCODING);
        if parts.method != hyper::Method::POST {
            if has_body {
                return closing(response(Resp::error(400, "this request takes no body")));
            }
            return self.handled(req).await;
        }
        if declared.is_some_and(|n| n > self.limits.max_body as u64) {
            return closing(response(Resp::error(413, "request body too large")));
        }
        match tokio::time::timeout(self.limits.body, Limited::new(body, self.limits.max_body).collect()).await {
            Ok(Ok(collected)) => req.body = collected.to_bytes().to_vec(),
            Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                return closing(response(Resp::error(413, "request body too large")));
            }
            Ok(Err(_)) => return closing(response(Resp::error(400, "the request body could not be read"))),
            Err(_) => return closing(response(Resp::error(408, "the request body did not arrive in time"))),
        }
        self.handled(req).await
    }

    /// The answer to a request read whole, computed off the async thread.
    async fn handled(&self, req: Req) -> Response<Full<Bytes>> {
        let review = self.review.clone();
        match tokio::task::spawn_blocking(move || review.handle(&req)).await {
            Ok(resp) => response(resp),
            Err(e) => response(Resp::error(500, &format!("the request failed: {e}"))),
        }
    }
}

/// Asks the client to close the connection after this answer (a request
/// whose body was not read leaves nothing to go on with).
fn closing(mut resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The headers every answer gets: nothing cached, nothing sniffed, no
/// referrer, no framing, nothing of the page's for another origin.
const EVERY_ANSWER: [(&str, &str); 7] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

fn response(resp: Resp) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(Bytes::from(resp.body)));
    *out.status_mut() = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(resp.content_type));
    for (name, value) in EVERY_ANSWER {
        headers.insert(name, HeaderValue::from_static(value));
    }
    for (name, value) in resp.headers {
        if let (Ok(name), Ok(value)) = (header::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            headers.append(name, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_connection_closes_the_one_idle_the_longest_never_a_busy_one() {
        let mut r = Registry::default();
        let (a, close_a) = r.admit(2).expect("a");
        let (b, close_b) = r.admit(2).expect("b");
        r.busy(a);
        // a is busy: b goes, though a is older.
        let (c, _) = r.admit(2).expect("c");
        assert!(!r.open.contains_key(&b) && r.open.contains_key(&a) && r.open.contains_key(&c));
        // b's task is told to close; a's is not.
        assert!(tokio_test_notified(&close_b) && !tokio_test_notified(&close_a));
        r.busy(c);
        assert!(r.admit(2).is_none(), "both are answering: the new one is refused");
        r.rest(a);
        r.leave(c);
        assert_eq!((r.open.len(), r.idle.len()), (1, 1));
    }

    /// Whether `n` holds a notification, without waiting.
    fn tokio_test_notified(n: &Notify) -> bool {
        let waiting = n.notified();
        tokio::pin!(waiting);
        waiting.as_mut().enable()
    }
}
