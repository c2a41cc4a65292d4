//! The review page's HTTP server: one request per connection, on a fixed
//! pool of workers, each request read within a deadline.
//!
//! The page is one user's, on loopback, so the server is small: `httparse`
//! parses the request head, and the rest is what keeps one slow or hostile
//! client from taking the page away from its user. The request head is
//! read with a deadline and a size cap; the token, `Host` and `Origin` are
//! checked *before* any body is read; a body has a cap and the same
//! deadline; a fixed number of workers serve connections from a bounded
//! queue, and a connection that finds the queue full is answered 503 at
//! once and closed, so idle connections cost no threads.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use super::{Req, Resp, Review};

/// How much the server gives one client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub workers: usize,
    /// Accepted connections waiting for a worker.
    pub queue: usize,
    /// Time to send a whole request, head and body.
    pub deadline: Duration,
    /// Largest request head.
    pub max_head: usize,
    /// Largest request body (an action is a few hundred bytes).
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { workers: 8, queue: 32, deadline: Duration::from_secs(10), max_head: 16 << 10, max_body: 1 << 20 }
    }
}

/// How often the accept loop looks for a Ctrl-C while no one connects.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Serves `review` on `listener` until Ctrl-C (or
/// [`rollcall_files::interrupt::request`]): then no new connection is
/// taken, the requests in flight are answered, and it returns.
pub fn serve(review: &Review, listener: &TcpListener, limits: Limits) {
    // Non-blocking, so that the loop sees a stop request between
    // connections; a blocking accept would wait for the next client.
    if let Err(e) = listener.set_nonblocking(true) {
        tracing::debug!("review server: a blocking accept, Ctrl-C seen only at the next request: {e}");
    }
    let (tx, rx) = sync_channel::<TcpStream>(limits.queue);
    let rx = Mutex::new(rx);
    std::thread::scope(|scope| {
        for _ in 0..limits.workers.max(1) {
            scope.spawn(|| worker(review, &rx, limits));
        }
        while !rollcall_files::interrupt::requested() {
            // No one waiting (or an error such as too many open files):
            // look again shortly.
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(STOP_POLL);
                continue;
            };
            // The workers read with deadlines on a blocking socket.
            if stream.set_nonblocking(false).is_err() {
                continue;
            }
            match tx.try_send(stream) {
                Ok(()) => {}
                Err(TrySendError::Full(mut stream)) => {
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                    let _ = write_response(&mut stream, &Resp::error(503, "busy: too many connections; try again"));
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
        // The workers finish what is queued, then see the channel closed.
        drop(tx);
    });
}

fn worker(review: &Review, rx: &Mutex<Receiver<TcpStream>>, limits: Limits) {
    loop {
        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(mut stream) = next else { return };
        let deadline = Instant::now() + limits.deadline;
        let _ = stream.set_write_timeout(Some(limits.deadline));
        if let Some(resp) = exchange(review, &mut stream, deadline, limits) {
            let _ = write_response(&mut stream, &resp);
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Reads one request and answers it; `None` when the client went away or
/// ran out of time (nothing is worth sending then).
fn exchange(review: &Review, stream: &mut TcpStream, deadline: Instant, limits: Limits) -> Option<Resp> {
    let mut buf = Vec::with_capacity(1024);
    let head_len = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > limits.max_head {
            return Some(Resp::error(431, "request head too large"));
        }
        if read_some(stream, &mut buf, deadline, limits.max_head + 4)? == 0 {
            return None;
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..head_len]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Some(Resp::error(400, "not an HTTP request")),
    }
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::to_string)
    };
    let mut req = Req {
        method: parsed.method.unwrap_or("").to_string(),
        url: parsed.path.unwrap_or("").to_string(),
        host: header("Host"),
        origin: header("Origin"),
        token: header("X-Rollcall-Token"),
        cookie: header("Cookie"),
        body: Vec::new(),
    };
    let length: usize = match header("Content-Length").map(|v| v.trim().parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Some(Resp::error(400, "bad Content-Length")),
    };
    if header("Transfer-Encoding").is_some() {
        return Some(Resp::error(501, "chunked requests are not supported"));
    }
    // Who is asking, before a byte of the body is read: a client without
    // the token cannot make the server wait for one.
    if let Err(refused) = review.check(&req) {
        return Some(refused);
    }
    if length > limits.max_body {
        return Some(Resp::error(413, "request body too large"));
    }
    let mut body = buf.split_off(head_len);
    while body.len() < length {
        if read_some(stream, &mut body, deadline, length)? == 0 {
            return None;
        }
    }
    body.truncate(length);
    req.body = body;
    Some(review.handle(&req))
}

/// Appends what the client sent next, waiting no later than `deadline`
/// and taking no more than `cap` bytes in all; `None` on a timeout or an
/// error.
fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant, cap: usize) -> Option<usize> {
    let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
    stream.set_read_timeout(Some(left)).ok()?;
    let mut chunk = [0u8; 8192];
    let want = chunk.len().min(cap.saturating_sub(buf.len()).max(1));
    let n = stream.read(&mut chunk[..want]).ok()?;
    buf.extend_from_slice(&chunk[..n]);
    Some(n)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        423 => "Locked",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn write_response(stream: &mut TcpStream, resp: &Resp) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    for (name, value) in &resp.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&resp.body)?;
    stream.flush()
}
