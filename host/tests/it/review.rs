//! `rollcall review`'s server on the fake engine, request by request: who
//! may drive it (key, cookie, Host, Origin), actions as file operations with
//! undo, stale views, the lock, and names. No browser here; the real
//! browser test is `tests/tests/it/review.rs`.

use crate::common;

use std::path::Path;

use common::classroom;
use rollcall_host::artifacts::Work;
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::review::{Req, Resp, Review};
use rollcall_models::fake::FakeModels;

const PORT: u16 = 4242;

fn session(dir: &Path) -> (Work, Review) {
    let (photos, _) = classroom(dir);
    let work = Work::new(dir.join("work"));
    pipeline::run(&photos, &work.claim().expect("claim"), &FakeModels::default(), &RunOptions::default()).expect("run");
    let review = Review::new(work.clone(), PORT, Some(0.5), None).expect("review");
    (work, review)
}

fn get(r: &Review, url: &str) -> Resp {
    r.handle(&Req {
        method: "GET".into(),
        url: url.into(),
        host: Some(format!("127.0.0.1:{PORT}")),
        session: Some(r.token().to_string()),
        cookie: Some(r.cookie()),
        ..Req::default()
    })
}

fn post(r: &Review, body: serde_json::Value) -> (u16, serde_json::Value) {
    let resp = r.handle(&Req {
        method: "POST".into(),
        url: "/api/act".into(),
        host: Some(format!("localhost:{PORT}")),
        origin: Some(format!("http://localhost:{PORT}")),
        session: Some(r.token().to_string()),
        cookie: Some(r.cookie()),
        body: serde_json::to_vec(&body).expect("json"),
    });
    (resp.status, serde_json::from_slice(&resp.body).expect("json body"))
}

fn state(r: &Review) -> serde_json::Value {
    serde_json::from_slice(&get(r, "/api/state").body).expect("state")
}

fn folders(work: &Work) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(work.clusters())
        .expect("clusters")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn only_this_session_on_this_machine_may_drive_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, r) = session(dir.path());
    // The URL printed on the terminal hands the tab the session: the key
    // for its sessionStorage, the cookie, and on to the page.
    let good =
        Req { method: "GET".into(), url: format!("/?token={}", r.token()), host: Some(format!("127.0.0.1:{PORT}")), ..Req::default() };
    let handed = r.handle(&good);
    assert_eq!(handed.status, 200);
    let html = String::from_utf8_lossy(&handed.body);
    assert!(html.contains(r.token()) && html.contains("sessionStorage") && html.contains("location.replace(\"/\")"), "{html}");
    assert!(handed.headers.iter().any(|(k, v)| *k == "Set-Cookie" && v.starts_with(&r.cookie())), "{:?}", handed.headers);
    // The page itself, for the cookie: self-contained, and without the key.
    let page = r.handle(&Req { url: "/".into(), cookie: Some(r.cookie()), ..good.clone() });
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(!html.contains(r.token()) && !html.contains("http://") && !html.contains("https://"), "self-contained page, no key");
    let refused = [
        Req { url: "/".into(), ..good.clone() },
        Req { url: "/?token=0000".into(), ..good.clone() },
        Req { host: Some("evil.example:4242".into()), ..good.clone() },
        Req { host: Some(format!("127.0.0.1:{}", PORT + 1)), ..good.clone() },
        Req { host: None, ..good.clone() },
        Req { origin: Some("http://evil.example".into()), ..good.clone() },
        Req { origin: Some(format!("http://127.0.0.1:{PORT}.evil.example")), ..good.clone() },
        Req { origin: Some(format!("http://127.0.0.1:{}", PORT + 1)), ..good.clone() },
    ];
    for req in refused {
        let resp = r.handle(&req);
        assert_eq!(resp.status, 403, "{req:?} was not refused");
    }
    // The API wants both: the key in its header and the cookie; the key
    // in the query no longer does.
    let api = Req { method: "GET".into(), url: "/api/state".into(), host: Some(format!("127.0.0.1:{PORT}")), ..Req::default() };
    let key = Some(r.token().to_string());
    for req in [
        api.clone(),
        Req { session: key.clone(), ..api.clone() },
        Req { cookie: Some(r.cookie()), ..api.clone() },
        Req { url: format!("/api/state?token={}", r.token()), cookie: Some(r.cookie()), ..api.clone() },
        Req { session: Some("0000".into()), cookie: Some(r.cookie()), ..api.clone() },
    ] {
        assert_eq!(r.handle(&req).status, 403, "{req:?}");
    }
    assert_eq!(r.handle(&Req { session: key, cookie: Some(r.cookie()), ..api }).status, 200);
    // Paths out of clusters/ are not served.
    for url in ["/chip/../metadata.csv", "/chip/person_1/../../metadata.csv", "/chip/%2E%2E/x"] {
        assert_eq!(get(&r, url).status, 404, "{url}");
    }
}

#[test]
fn actions_are_file_operations_with_undo_and_stale_views_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (work, r) = session(dir.path());
    let before = folders(&work);
    let v = state(&r)["version"].as_str().expect("version").to_string();

    // Names: unsafe ones refused with a message, non-ASCII fine.
    for bad in ["a/b", "..", "", "x\u{1}"] {
        let (status, body) = post(&r, serde_json::json!({"version": v, "action": {"action": "name", "folder": "person_1", "name": bad}}));
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert_eq!(folders(&work), before);
    let (status, body) =
        post(&r, serde_json::json!({"version": v, "action": {"action": "name", "folder": "person_1", "name": "Zoë 李雷"}}));
    assert_eq!(status, 200, "{body}");
    assert!(work.clusters().join("Zoë 李雷").is_dir() && !work.clusters().join("person_1").exists());

    // The old version is stale now: refused, with the current view.
    let (status, body) = post(&r, serde_json::json!({"version": v, "action": {"action": "junk", "folder": "person_2"}}));
    assert_eq!(status, 409, "{body}");
    assert!(work.clusters().join("person_2").is_dir());
    let v = body["view"]["version"].as_str().expect("version").to_string();

    // A file manager's rename is seen as a new version.
    std::fs::rename(work.clusters().join("person_2"), work.clusters().join("Robin")).expect("rename by hand");
    let (status, _) = post(&r, serde_json::json!({"version": v, "action": {"action": "junk", "folder": "Robin"}}));
    assert_eq!(status, 409);
    let v = state(&r)["version"].as_str().expect("version").to_string();
    let (status, body) = post(&r, serde_json::json!({"version": v, "action": {"action": "junk", "folder": "Robin"}}));
    assert_eq!(status, 200, "{body}");
    assert!(work.clusters().join("_junk_Robin").is_dir());
    let junk: Vec<&serde_json::Value> =
        body["view"]["folders"].as_array().expect("folders").iter().filter(|f| f["section"] == "junk").collect();
    assert_eq!(junk.len(), 1);

    // Undo twice: back to the hand-renamed tree.
    for _ in 0..2 {
        let v = state(&r)["version"].as_str().expect("version").to_string();
        let (status, body) = post(&r, serde_json::json!({"version": v, "action": {"action": "undo"}}));
        assert_eq!(status, 200, "{body}");
    }
    assert!(work.clusters().join("person_1").is_dir() && work.clusters().join("Robin").is_dir());

    // Another command holding the work directory: the page says so.
    let held = work.open().expect("lock");
    let v = state(&r)["version"].as_str().expect("version").to_string();
    let (status, body) = post(&r, serde_json::json!({"version": v, "action": {"action": "junk", "folder": "Robin"}}));
    assert_eq!(status, 423, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("another rollcall command")));
    drop(held);
}

/// The token was visible to every local user: `rollcall review` passed the
/// URL with the token to `xdg-open`, whose command line (and the
/// browser's) any user reads with `ps`; a different user took it and got
/// 200 on `/api/state` and the chips, and could move faces. Now the
/// launcher gets a file only the user can read, which forwards to a
/// one-time launch code; the code buys the session (key and cookie) once
/// and is worthless afterwards.
#[test]
fn regression_the_token_was_visible_in_the_process_list() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, r) = session(dir.path());
    let (folder, page) = r.write_launch_file().expect("launch file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!((mode(folder.path()), mode(&page)), (0o700, 0o600), "only the user can read the launch page");
    }
    let html = std::fs::read_to_string(&page).expect("launch page");
    assert!(!html.contains(r.token()), "the launch page holds a code, not the key");
    let launch = r.launch_url();
    assert!(html.contains(&launch), "{html}");
    let url = launch.trim_start_matches(&format!("http://127.0.0.1:{PORT}"));
    let req = Req { method: "GET".into(), url: url.into(), host: Some(format!("127.0.0.1:{PORT}")), ..Req::default() };
    let first = r.handle(&req);
    assert_eq!(first.status, 200);
    let cookie = first.headers.iter().find(|(k, _)| *k == "Set-Cookie").map(|(_, v)| v.clone()).expect("a cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains(r.token()), "{cookie}");
    assert!(String::from_utf8_lossy(&first.body).contains(r.token()), "the launch hands the page its key");
    assert_eq!(r.handle(&req).status, 403, "a launch code is good once");
    // The cookie and the key open the API; a wrong cookie does not.
    let pair = cookie.split(';').next().expect("name=value").to_string();
    let api = Req {
        method: "GET".into(),
        url: "/api/state".into(),
        host: Some(format!("127.0.0.1:{PORT}")),
        session: Some(r.token().into()),
        ..Req::default()
    };
    assert_eq!(r.handle(&Req { cookie: Some(format!("other=1; {pair}")), ..api.clone() }).status, 200);
    let wrong = format!("{}=0000", pair.split('=').next().expect("a name"));
    assert_eq!(r.handle(&Req { cookie: Some(wrong), ..api }).status, 403);
}

/// A cookie set by `127.0.0.1:PORT` is sent by the browser to every port
/// of 127.0.0.1. Another local user listened on 127.0.0.1:39999, got the
/// teacher's browser there with a link, and the browser sent
/// `rollcall_review=...`; with it that user read a child's photo through
/// `/photo` and renamed `person_2` through `/api/act` (and with `review
/// --sign`, "Train and export" would have signed their labels with the
/// school's key). The cookie is only a second factor now: every call also
/// needs the key, which only the page at this origin holds; the page
/// itself, for the cookie, holds no key. (The real browser's side is
/// `tests/tests/it/review.rs`.)
#[test]
fn regression_the_session_cookie_opened_the_review_api_from_any_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (work, r) = session(dir.path());
    let before = folders(&work);
    let person = before.iter().find(|f| f.starts_with("person_")).expect("a person").clone();
    let chip = std::fs::read_dir(work.clusters().join(&person))
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".png"))
        .expect("a chip");
    let version = state(&r)["version"].as_str().expect("version").to_string();
    let rename = serde_json::json!({"version": version, "action": {"action": "name", "folder": person, "name": "Mallory"}});
    // Exactly what the other port's server got from the browser: its Host,
    // and every cookie of 127.0.0.1.
    let stolen = Req { host: Some(format!("127.0.0.1:{PORT}")), cookie: Some(format!("theirs=1; {}", r.cookie())), ..Req::default() };
    for (method, url) in [
        ("GET", "/api/state".to_string()),
        ("POST", "/api/act".to_string()),
        ("POST", "/api/train".to_string()),
        ("GET", format!("/photo?face={chip}")),
        ("GET", format!("/chip/{person}/{chip}")),
        ("GET", format!("/photo?face={chip}&token={}", r.cookie().split('=').nth(1).expect("a value"))),
    ] {
        let req = Req { method: method.into(), url: url.clone(), body: serde_json::to_vec(&rename).expect("json"), ..stolen.clone() };
        assert_eq!(r.handle(&req).status, 403, "{method} {url} opened with the cookie alone");
    }
    assert_eq!(folders(&work), before, "nothing was renamed");
    // The page, which the cookie does fetch, does not give the key away.
    let page = r.handle(&Req { method: "GET".into(), url: "/".into(), ..stolen });
    assert_eq!(page.status, 200);
    assert!(!String::from_utf8_lossy(&page.body).contains(r.token()), "the page gave the key to the cookie");
}

/// `rollcall review --port 0` started as a user starts it, on a classroom's
/// work folder (fake engine), with a stand-in for `xdg-open` (the shell
/// script `xdg_open` makes from the test's folder) and a temporary folder of
/// the test's own, where the launch page's folder goes.
struct Launched {
    dir: tempfile::TempDir,
    tmp: std::path::PathBuf,
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

fn launch_review(xdg_open: impl FnOnce(&Path) -> String) -> Launched {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = dir.path().join("work");
    common::ok(&[&"run", &photos, &"--out", &work]);
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let script = bin.join("xdg-open");
    std::fs::write(&script, xdg_open(dir.path())).expect("script");
    std::process::Command::new("chmod").arg("755").arg(&script).status().expect("chmod");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .env("ROLLCALL_ENGINE", "fake")
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("TMPDIR", &tmp)
        .args(["review", "--port", "0"])
        .arg(&work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start review");
    let lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    Launched { dir, tmp, child, lines }
}

/// What `f` gives, asked every 20 ms for at most `tries` times.
fn poll<T>(tries: usize, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..tries {
        if let Some(t) = f() {
            return Some(t);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    None
}

/// The same, through the binary: what the launcher sees on its command
/// line is a file path; the token is only on the user's terminal.
#[test]
fn regression_the_browser_launcher_got_the_token_on_its_command_line() {
    // A stand-in for xdg-open that writes down its arguments.
    let mut r = launch_review(|dir| {
        let argv = dir.join("argv").display().to_string();
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {argv}.tmp && mv {argv}.tmp {argv}\n")
    });
    let first = r.lines.next().expect("a line").expect("text");
    let token = first.split("token=").nth(1).expect("the URL with the token on the terminal").trim().to_string();
    let recorded = poll(1500, || std::fs::read_to_string(r.dir.path().join("argv")).ok());
    let _ = r.child.kill();
    let _ = r.child.wait();
    let recorded = recorded.expect("the launcher ran");
    assert!(!recorded.contains(&token), "the token reached a command line: {recorded}");
    assert!(recorded.trim().ends_with("open.html"), "the launcher opens a file: {recorded}");
}

/// `rollcall review` says "press Ctrl-C to stop", but its server never
/// looked at Ctrl-C: the first press printed "finishing the current write,
/// then stopping" and the server went on serving; the second ended the
/// process at once, without destructors, and the folder holding the
/// browser's launch page stayed in the temporary folder (63 of them had
/// piled up on one machine). Now the first Ctrl-C stops the server: the
/// command removes the folder, says where the names are, and exits 0.
#[test]
fn regression_ctrl_c_did_not_stop_review_and_left_its_launch_page_behind() {
    stop_review_with("INT");
}

/// `systemctl stop`, a logout or `kill` send SIGTERM, not Ctrl-C's SIGINT:
/// `rollcall review` ended at once, without destructors, and the folder
/// holding the browser's launch page stayed in the temporary folder. Now
/// SIGTERM stops it as Ctrl-C does: the folder is removed, the command says
/// where the names are, and exits 0.
#[test]
fn regression_sigterm_left_the_review_launch_page_behind() {
    stop_review_with("TERM");
}

/// Starts `rollcall review`, waits for its launch page's folder, sends
/// `signal` (as `kill -SIGNAL`), and checks that it stopped the orderly
/// way: exit 0, "review stopped", the folder removed.
fn stop_review_with(signal: &str) {
    // A launcher that opens nothing.
    let mut r = launch_review(|_| "#!/bin/sh\nexit 0\n".to_string());
    let launch_folders = |tmp: &Path| {
        std::fs::read_dir(tmp)
            .expect("tmp")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("rollcall-review-"))
            .count()
    };
    let first = r.lines.next().expect("a line").expect("text");
    assert!(first.contains("token="), "{first}");
    poll(600, || (launch_folders(&r.tmp) == 1).then_some(()));
    assert_eq!(launch_folders(&r.tmp), 1, "the launch page is written");
    let sent = std::process::Command::new("kill").arg(format!("-{signal}")).arg(r.child.id().to_string()).status().expect("kill");
    assert!(sent.success());
    let Some(status) = poll(500, || r.child.try_wait().expect("wait")) else {
        let _ = r.child.kill();
        let _ = r.child.wait();
        panic!("review was still serving 10 s after SIG{signal}");
    };
    assert!(status.success(), "SIG{signal}: {status}");
    let rest: Vec<String> = r.lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.starts_with("review stopped")), "SIG{signal}: {rest:?}");
    assert_eq!(launch_folders(&r.tmp), 0, "SIG{signal}: the launch page's folder is removed");
}

/// `/chip` followed links out of `clusters/` and served any file as a PNG:
/// `person_2/x.png -> /etc/passwd` was served; a FIFO there hung the
/// server. A hand-edited `metadata.csv` pointing at a FIFO hung the whole
/// server, and one pointing at any other image on the disk served it.
#[test]
fn regression_chip_and_photo_served_files_outside_the_work_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (work, r) = session(dir.path());
    let folder = folders(&work).into_iter().find(|f| f.starts_with("person_")).expect("a person folder");
    std::os::unix::fs::symlink("/etc/passwd", work.clusters().join(&folder).join("x.png")).expect("link");
    std::process::Command::new("mkfifo").arg(work.clusters().join(&folder).join("f.png")).status().expect("mkfifo");
    std::fs::write(work.clusters().join(&folder).join("t.png"), b"not a png").expect("write");
    for file in ["x.png", "f.png", "t.png"] {
        assert_eq!(get(&r, &format!("/chip/{folder}/{file}")).status, 404, "{file}");
    }
    let chip = std::fs::read_dir(work.clusters().join(&folder))
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("aligned"))
        .expect("a chip");
    assert_eq!(get(&r, &format!("/chip/{folder}/{chip}")).status, 200);

    // metadata.csv edited by hand: a FIFO, an image outside the photos.
    let metadata = std::fs::read_to_string(work.metadata_csv()).expect("metadata");
    let original = metadata.lines().nth(1).and_then(|l| l.split(',').nth(1)).expect("a photo path").to_string();
    assert_eq!(get(&r, &format!("/photo?face={chip}")).status, 200, "its own photo is served");
    let elsewhere = dir.path().join("elsewhere.png");
    std::fs::copy(&original, &elsewhere).expect("copy");
    let fifo = dir.path().join("photos").join("fifo.png");
    std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    for target in [fifo.display().to_string(), elsewhere.display().to_string()] {
        std::fs::write(work.metadata_csv(), metadata.replace(&original, &target)).expect("edit");
        let face = metadata.lines().nth(1).and_then(|l| l.split(',').next()).expect("a face").to_string();
        assert_eq!(get(&r, &format!("/photo?face={face}")).status, 404, "{target}");
    }
}

/// Two `rollcall review` sessions on one work directory both ran; the
/// journal then held the same action id twice, and after a restart undo
/// skipped an action. One session per work directory now.
#[test]
fn regression_two_review_sessions_on_one_work_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (work, first) = session(dir.path());
    let Err(e) = Review::new(work.clone(), PORT, Some(0.5), None) else { panic!("a second session started") };
    assert!(e.to_string().contains("another `rollcall review`"), "{e}");
    drop(first);
    Review::new(work, PORT, Some(0.5), None).expect("once the first ended");
}

/// Names that differ only by case (`robin`, `Robin`) or by Unicode form
/// (`Zoë` with a precomposed ë and with e + combining diaeresis) were
/// accepted as two people; bidi controls passed (`\u{202E}` makes a name
/// read backwards); `_outliers` and `.rollcall-staging` could be renamed
/// into people through the API.
#[test]
fn regression_one_name_written_two_ways_made_two_people() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (work, r) = session(dir.path());
    let name = |folder: &str, name: &str| {
        let v = state(&r)["version"].as_str().expect("version").to_string();
        post(&r, serde_json::json!({"version": v, "action": {"action": "name", "folder": folder, "name": name}}))
    };
    let people: Vec<String> = folders(&work).into_iter().filter(|f| f.starts_with("person_")).collect();
    assert_eq!(name(&people[0], "robin").0, 200);
    let (status, body) = name(&people[1], "Robin");
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("robin")), "{body}");
    assert_eq!(name(&people[1], "Zo\u{eb}").0, 200);
    let (status, body) = name(&people[2], "Zoe\u{308}");
    assert_eq!(status, 400, "{body}");
    // Typed decomposed, stored composed.
    assert_eq!(name(&people[2], "Ame\u{301}lie").0, 200);
    assert!(work.clusters().join("Am\u{e9}lie").is_dir(), "{:?}", folders(&work));
    for bad in ["Eve\u{202E}", "\u{2067}Ali", "Ben\u{200B}"] {
        let (status, body) = name(&people[3], bad);
        assert_eq!(status, 400, "{bad:?}: {body}");
    }
    std::fs::create_dir_all(work.clusters().join(".rollcall-staging")).expect("staging");
    std::fs::create_dir_all(work.clusters().join("_outliers")).expect("outliers");
    for reserved in [".rollcall-staging", "_outliers"] {
        let (status, body) = name(reserved, "Sam");
        assert_eq!(status, 400, "{reserved}: {body}");
    }
    // And `train` refuses two folders made by hand in a file manager.
    std::fs::create_dir_all(work.clusters().join("ROBIN")).expect("mkdir");
    let err = rollcall_host::artifacts::people::folders(&work.clusters(), &rollcall_host::artifacts::people::default_junk())
        .expect_err("one name twice");
    assert!(err.to_string().contains("one name written two ways"), "{err}");
}

/// `regression_one_name_written_two_ways_made_two_people` failed on a
/// loaded machine with 423 ("another rollcall command is working in this
/// folder") instead of 400: the work directory's lock, released by
/// `session`'s run, was still held for a moment by a process another test
/// thread had forked meanwhile (a forked child shares the lock until it
/// execs), and an action took the lock without waiting. An action now
/// waits a moment for the lock; a holder that keeps it (a `run`) is still
/// refused with 423.
#[test]
fn regression_an_action_was_refused_while_the_lock_was_let_go() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (work, r) = session(dir.path());
    let people: Vec<String> = folders(&work).into_iter().filter(|f| f.starts_with("person_")).collect();
    let held = rollcall_files::owned::lock(work.root()).expect("lock");
    let letting_go = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(held);
    });
    let v = state(&r)["version"].as_str().expect("version").to_string();
    let (status, body) = post(&r, serde_json::json!({"version": v, "action": {"action": "name", "folder": people[0], "name": "Robin"}}));
    assert_eq!(status, 200, "{body}");
    letting_go.join().expect("thread");

    // Held for good (a run in progress): refused, with the reason.
    let _run = rollcall_files::owned::lock(work.root()).expect("lock");
    let v = state(&r)["version"].as_str().expect("version").to_string();
    let (status, body) = post(&r, serde_json::json!({"version": v, "action": {"action": "name", "folder": people[1], "name": "Sam"}}));
    assert_eq!(status, 423, "{body}");
}
