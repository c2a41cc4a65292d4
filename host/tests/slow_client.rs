//! The review server under a slow client and idle connections. A binary
//! of its own: it counts the process's threads, which the other tests'
//! threads would change if they shared its process.

#[path = "it/common.rs"]
mod common;

use common::classroom;
use rollcall_host::artifacts::Work;
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::review::Review;
use rollcall_models::fake::FakeModels;

/// One slow client froze the page: the server read a request body on its
/// single thread before checking the token, with no timeout, so
/// `Content-Length: 100000` and then 10 bytes, without the token, made a
/// request with the valid token time out; 3,000 idle connections made
/// 3,000 threads. Now the token is checked before any body is read, reads
/// have a deadline, and a fixed pool serves a bounded queue.
#[test]
fn regression_a_slow_client_froze_the_review_page() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = Work::new(dir.path().join("work"));
    pipeline::run(&photos, &work.claim().expect("claim"), &FakeModels::default(), &RunOptions::default()).expect("run");
    let listener = rollcall_host::review::bind(0).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let r = std::sync::Arc::new(Review::new(work, port, Some(0.5), None).expect("review"));
    let token = r.token().to_string();
    // A short deadline: the idle connections that hold the workers end
    // sooner, and so does the test.
    let limits = rollcall_host::review::server::Limits { deadline: std::time::Duration::from_millis(750), ..Default::default() };
    let r2 = r.clone();
    std::thread::spawn(move || rollcall_host::review::server::serve(&r2, &listener, limits));
    let connect = || {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        // A guard against a hang, not a speed test.
        s.set_read_timeout(Some(std::time::Duration::from_secs(60))).expect("timeout");
        s
    };
    let answer = |mut s: TcpStream| {
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    };
    let threads = || {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|t| t.lines().find(|l| l.starts_with("Threads:")).and_then(|l| l[8..].trim().parse::<usize>().ok()))
            .unwrap_or(0)
    };

    // The slow client without the token is refused before its body.
    let mut slow = connect();
    write!(slow, "POST /api/act HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 100000\r\n\r\n0123456789").expect("send");
    assert!(answer(slow).starts_with("HTTP/1.1 403"), "refused at once");

    // Idle connections: no thread each, and the page's user is served.
    let before = threads();
    let idle: Vec<TcpStream> = (0..200).map(|_| connect()).collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(threads() <= before + 1, "threads grew with idle connections: {before} -> {}", threads());
    let mut served = false;
    for _ in 0..20 {
        let mut s = connect();
        // While the queue is full the server answers 503 and closes, which
        // can come before this write and break the pipe: that is a refusal
        // like the 503, so try again.
        let sent = write!(s, "GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Rollcall-Token: {token}\r\n\r\n");
        if sent.is_ok() && answer(s).starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(served, "the user's request was never served");
    drop(idle);

    // A slow body with the token ends at the deadline, not never.
    let mut slow = connect();
    write!(slow, "POST /api/act HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Rollcall-Token: {token}\r\nContent-Length: 100\r\n\r\n{{")
        .expect("send");
    let text = answer(slow);
    assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
}
