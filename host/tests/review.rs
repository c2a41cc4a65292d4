//! `rollcall review`'s server on the fake engine, request by request: who
//! may drive it (token, Host, Origin), actions as file operations with
//! undo, stale views, the lock, and names. No browser here; the real
//! browser test is `tests/tests/review.rs`.

mod common;

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
        token: Some(r.token().to_string()),
        ..Req::default()
    })
}

fn post(r: &Review, body: serde_json::Value) -> (u16, serde_json::Value) {
    let resp = r.handle(&Req {
        method: "POST".into(),
        url: "/api/act".into(),
        host: Some(format!("localhost:{PORT}")),
        origin: Some(format!("http://localhost:{PORT}")),
        token: Some(r.token().to_string()),
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
    let good =
        Req { method: "GET".into(), url: format!("/?token={}", r.token()), host: Some(format!("127.0.0.1:{PORT}")), ..Req::default() };
    let page = r.handle(&good);
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains(r.token()) && !html.contains("http://") && !html.contains("https://"), "self-contained page with the token");
    let refused = [
        Req { url: "/".into(), ..good.clone() },
        Req { url: "/?token=0000".into(), ..good.clone() },
        Req { host: Some("evil.example:4242".into()), ..good.clone() },
        Req { host: Some(format!("127.0.0.1:{}", PORT + 1)), ..good.clone() },
        Req { host: None, ..good.clone() },
        Req { origin: Some("http://evil.example".into()), ..good.clone() },
        Req { origin: Some(format!("http://127.0.0.1:{PORT}.evil.example")), ..good.clone() },
    ];
    for req in refused {
        let resp = r.handle(&req);
        assert_eq!(resp.status, 403, "{req:?} was not refused");
    }
    // The API wants the token too, in its header.
    let api = Req { method: "GET".into(), url: "/api/state".into(), host: Some(format!("127.0.0.1:{PORT}")), ..Req::default() };
    assert_eq!(r.handle(&api).status, 403);
    assert_eq!(r.handle(&Req { token: Some(r.token().into()), ..api }).status, 200);
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
