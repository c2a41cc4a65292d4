//! The review server under slow clients and idle connections. A binary of
//! its own: it counts the process's threads and open files, which the
//! other tests' threads and files would change if they shared its process,
//! and it opens thousands of connections.

#[path = "it/common.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::classroom;
use rollcall_host::artifacts::Work;
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::review::Review;
use rollcall_host::review::server::{Limits, Server};
use rollcall_models::fake::FakeModels;

/// Held by each test for its whole run: they count this process's threads
/// and open files, which another test running beside them would change.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A review session on a classroom's work folder (fake engine), served in
/// this process with `limits`: its port, key and cookie.
fn serve_here(dir: &std::path::Path, limits: Limits) -> (u16, String, String) {
    let (photos, _) = classroom(dir);
    let work = Work::new(dir.join("work"));
    pipeline::run(&photos, &work.claim().expect("claim"), &FakeModels::default(), &RunOptions::default()).expect("run");
    let listener = rollcall_host::review::bind(0).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let r = Arc::new(Review::new(work, port, Some(0.5), None).expect("review"));
    let (key, cookie) = (r.token().to_string(), r.cookie());
    let server = Server::new(r, listener, limits).expect("server");
    std::thread::spawn(move || server.run());
    (port, key, cookie)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    // A guard against a hang, not a speed test.
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    s
}

/// Everything the server sends until it closes.
fn answer(mut s: TcpStream) -> String {
    let mut text = Vec::new();
    let _ = s.read_to_end(&mut text);
    String::from_utf8_lossy(&text).into_owned()
}

/// One request on a fresh connection, as the page's user makes it (with
/// the key and the cookie), answered whole: the answer.
fn ask(port: u16, path: &str, key: &str, cookie: &str) -> String {
    let mut s = connect(port);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Rollcall-Session: {key}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    answer(s)
}

/// A number from `/proc/PID/status` (`Threads`, `VmRSS` in KiB).
fn status(pid: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("no {field} in {text}"));
    let number = line[field.len() + 1..].trim().trim_end_matches(" kB");
    number.parse().unwrap_or_else(|e| panic!("{field}: {number:?}: {e}"))
}

/// Open files of process `pid`.
fn open_files(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}")).count()
}

/// Raises this process's soft limit on open files to its hard one; panics
/// if that is below `need`.
fn allow_open_files(need: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    }
    assert!(hard >= need, "this test needs {need} open files; the hard limit is {hard}");
}

/// One slow client froze the page: the server read a request body on its
/// single thread before checking the token, with no timeout, so
/// `Content-Length: 100000` and then 10 bytes, without the token, made a
/// request with the valid token time out; 3,000 idle connections made
/// 3,000 threads. Now who is asking is checked before any body is read,
/// bodies have a deadline, and idle connections cost no thread.
#[test]
fn regression_a_slow_client_froze_the_review_page() {
    let _alone = one_at_a_time();
    let dir = tempfile::tempdir().expect("temp dir");
    // Short deadlines: the test ends sooner.
    let limits = Limits { head: Duration::from_millis(750), body: Duration::from_millis(750), ..Limits::default() };
    let (port, key, cookie) = serve_here(dir.path(), limits);
    let threads = || status("self", "Threads");

    // The slow client without the session is refused before its body.
    let mut slow = connect(port);
    write!(slow, "POST /api/act HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 100000\r\n\r\n0123456789").expect("send");
    let started = Instant::now();
    let text = answer(slow);
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert!(started.elapsed() < Duration::from_millis(700), "refused at once, not at the deadline: {:?}", started.elapsed());

    // Idle connections: no thread each, and the page's user is served.
    let before = threads();
    let idle: Vec<TcpStream> = (0..200).map(|_| connect(port)).collect();
    std::thread::sleep(Duration::from_millis(200));
    assert!(threads() <= before, "threads grew with idle connections: {before} -> {}", threads());
    let text = ask(port, "/api/state", &key, &cookie);
    assert!(text.starts_with("HTTP/1.1 200"), "the user's request was not served: {text}");
    drop(idle);

    // A slow body with the session ends at the deadline, not never.
    let mut slow = connect(port);
    write!(
        slow,
        "POST /api/act HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Rollcall-Session: {key}\r\nCookie: {cookie}\r\nContent-Length: 100\r\n\r\n{{"
    )
    .expect("send");
    let text = answer(slow);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

/// With more connections open than the server keeps, a new one closes the
/// one idle the longest: the page's user, who connects last, is served, and
/// the server holds no more connections than its cap.
#[test]
fn a_full_server_closes_its_longest_idle_connection_for_a_new_one() {
    let _alone = one_at_a_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let cap = 32;
    let (port, key, cookie) = serve_here(dir.path(), Limits { connections: cap, ..Limits::default() });
    let files = || open_files("self");
    let before = files();
    let idle: Vec<TcpStream> = (0..100).map(|_| connect(port)).collect();
    let started = Instant::now();
    let text = ask(port, "/api/state", &key, &cookie);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    // The idle clients the server closed see the end of their stream.
    let mut closed = 0;
    for mut s in idle.iter() {
        s.set_read_timeout(Some(Duration::from_millis(20))).expect("timeout");
        if matches!(s.read(&mut [0u8; 1]), Ok(0)) {
            closed += 1;
        }
    }
    assert!(closed >= 100 - cap, "only {closed} of 100 idle connections were closed, with a cap of {cap}");
    // This process holds the 100 client ends; the server's ends are at
    // most the cap (and the listener's).
    let now = files();
    assert!(now <= before + 100 + cap + 1, "{before} open files before, {now} after");
}

/// The review server (8 workers and a queue of 32, on std TCP) could be
/// taken offline by any local user: 40 connections sending their headers
/// a byte at a time, or a few hundred idle clients reconnecting whenever
/// the server closed them, and the teacher got "connection reset" for as
/// long as they lasted. Here `rollcall review` runs as a user runs it,
/// with 60 such slow clients and 3,000 idle ones, which reconnect when
/// closed, for longer than the server gives a request head; the teacher's
/// page and an API call must answer within a second each time, and the
/// server's memory, threads and open files must stay bounded.
#[test]
fn regression_slow_and_idle_clients_took_the_review_page_offline() {
    let _alone = one_at_a_time();
    const SLOW: usize = 60;
    const IDLE: usize = 3000;
    allow_open_files((SLOW + IDLE + 256) as u64);
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = dir.path().join("work");
    common::ok(&[&"run", &photos, &"--out", &work]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .env("ROLLCALL_ENGINE", "fake")
        .args(["-q", "review", "--no-open", "--port", "0"])
        .arg(&work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start review");
    let pid = child.id().to_string();
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).expect("the URL");
    let url = first.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")).expect("the URL on the terminal").to_string();
    let (port, key) = {
        let rest = url.trim_start_matches("http://127.0.0.1:");
        let (port, query) = rest.split_once("/?token=").expect("port and key");
        (port.parse::<u16>().expect("a port"), query.to_string())
    };
    // The terminal's URL hands over the session: the cookie is in its answer.
    let handed = ask(port, &format!("/?token={key}"), "", "");
    let cookie = handed
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no cookie in {handed}"))
        .to_string();

    // The teacher: the page and the state, each on a new connection.
    let teacher = || {
        for path in ["/", "/api/state"] {
            let started = Instant::now();
            let text = ask(port, path, &key, &cookie);
            let took = started.elapsed();
            assert!(text.starts_with("HTTP/1.1 200"), "{path}: {}", text.lines().next().unwrap_or("nothing"));
            assert!(took < Duration::from_secs(1), "{path} took {took:?}");
        }
    };
    teacher();
    let rss_before = status(&pid, "VmRSS");

    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    // The slow clients: one byte of a request head each, every 100 ms, and
    // again from the start when the server closes one.
    let slow = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let head = format!("GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Padding: {}\r\n", "a".repeat(4000));
            let mut clients: Vec<(TcpStream, usize)> = (0..SLOW).map(|_| (connect(port), 0)).collect();
            let mut cut = 0;
            while !stop.load(Ordering::SeqCst) {
                for (s, sent) in clients.iter_mut() {
                    if s.write_all(&head.as_bytes()[*sent % head.len()..][..1]).is_err() {
                        *s = connect(port);
                        *sent = 0;
                        cut += 1;
                    } else {
                        *sent += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            cut
        })
    };
    // The idle clients: connected, silent, and back at once when closed.
    let idle = {
        let (stop, opened) = (stop.clone(), opened.clone());
        std::thread::spawn(move || {
            let idle_one = || {
                let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                s.set_nonblocking(true).expect("nonblocking");
                s
            };
            let mut clients = Vec::with_capacity(IDLE);
            for _ in 0..IDLE {
                clients.push(idle_one());
                opened.fetch_add(1, Ordering::SeqCst);
            }
            let mut again = 0;
            while !stop.load(Ordering::SeqCst) {
                for s in clients.iter_mut() {
                    match s.read(&mut [0u8; 1024]) {
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        _ => {
                            *s = idle_one();
                            again += 1;
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            again
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while opened.load(Ordering::SeqCst) < IDLE {
        assert!(Instant::now() < deadline, "only {} idle connections opened", opened.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(50));
    }

    // Long enough for the server to cut the slow clients' heads (10 s)
    // and for them all to come back.
    let mut most = (0, 0, 0);
    for _ in 0..14 {
        std::thread::sleep(Duration::from_secs(1));
        teacher();
        most = (most.0.max(status(&pid, "VmRSS")), most.1.max(status(&pid, "Threads")), most.2.max(open_files(&pid)));
    }
    stop.store(true, Ordering::SeqCst);
    let cut = slow.join().expect("the slow clients");
    let again = idle.join().expect("the idle clients");
    let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
    let _ = child.wait();

    let (rss, threads, files) = most;
    eprintln!(
        "review under {SLOW} slow and {IDLE} idle clients: VmRSS {rss_before} -> at most {rss} KiB, {threads} threads, \
         {files} open files; {cut} slow and {again} idle clients reconnected"
    );
    assert!(cut >= SLOW, "the server cut the slow clients' heads ({cut} reconnects)");
    // Bounded: about a KiB for an idle connection (hyper's buffers only
    // once it sends something), no thread for any.
    assert!(rss < rss_before + 24 * 1024, "VmRSS grew from {rss_before} to {rss} KiB");
    assert!(threads <= 16, "{threads} threads");
    assert!(files <= 4096 + 64, "{files} open files");
}

/// A reviewer found that `GET /launch`, which needs no session (it hands
/// one over), passed the "who is asking" check and then had its body read:
/// 4200 clients each declaring a megabyte and stalling kept the teacher's
/// page from answering, and 400 of them sending it raised the server's
/// memory to 450 MB. Only the API's POSTs, which need the whole session,
/// have a body now; any other request that brings one is refused at once,
/// its body unread.
#[test]
fn regression_a_get_with_a_body_made_the_server_hold_it() {
    let _alone = one_at_a_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let (port, key, cookie) = serve_here(dir.path(), Limits::default());
    for path in ["/launch", "/launch?code=0", "/?token=nothing"] {
        let mut s = connect(port);
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 1048576\r\n\r\nx").expect("send");
        let started = Instant::now();
        let text = answer(s);
        // Refused (400, or 403 for a wrong key), not served after a wait.
        assert!(text.starts_with("HTTP/1.1 400") || text.starts_with("HTTP/1.1 403"), "{path}: {text}");
        // The body's deadline is 10 s: an answer before it means the body
        // was not waited for.
        assert!(started.elapsed() < Duration::from_secs(5), "{path}: answered after {:?}", started.elapsed());
    }
    let text = ask(port, "/api/state", &key, &cookie);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}
