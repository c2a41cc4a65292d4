//! `rollcall review` in a real headless Chromium, driven over WebDriver
//! with real clicks and typing, on a work directory from the
//! shared photos (`dlib_johns`, five Johns, clustered with k = 6: one too
//! many, so one John is split in two). After each step the folder tree on
//! disk is checked exactly. Screenshots are kept in
//! `target/rollcall-test-artifacts/review-*.png`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_host::artifacts::Work;
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::review::{self, Review};
use rollcall_host::stages::cluster::{ClusterOptions, cluster};
use rollcall_tests::browser::Browser;
use rollcall_tests::{labelled_tree, models, same_person_threshold, workspace};

/// The folder tree under `clusters/`: folder → sorted files.
fn tree(clusters: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for d in std::fs::read_dir(clusters).expect("clusters").filter_map(Result::ok).filter(|e| e.path().is_dir()) {
        let mut files: Vec<String> = std::fs::read_dir(d.path())
            .expect("folder")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        out.insert(d.file_name().to_string_lossy().into_owned(), files);
    }
    out
}

/// Which John each cluster folder mostly holds, from `metadata.csv`.
fn identities(work: &Work, photos: &Path) -> BTreeMap<String, String> {
    let rows = rollcall_host::artifacts::metadata::read(&work.metadata_csv()).expect("metadata");
    let mut out = BTreeMap::new();
    for (folder, files) in tree(&work.clusters()) {
        if folder.starts_with('_') {
            continue;
        }
        let mut votes = BTreeMap::<String, usize>::new();
        for f in &files {
            if let Some(r) = rows.iter().find(|r| &r.aligned_file == f) {
                let rel = Path::new(&r.original_file).strip_prefix(photos).expect("under the photos");
                *votes.entry(rel.components().next().expect("folder").as_os_str().to_string_lossy().into_owned()).or_default() += 1;
            }
        }
        let who = votes.into_iter().max_by_key(|(_, n)| *n).map(|(w, _)| w).unwrap_or_default();
        out.insert(folder, who);
    }
    out
}

/// Waits until `cond` holds (the page acts asynchronously).
fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn js(tab: &Browser, code: &str) -> serde_json::Value {
    tab.eval(code)
}

fn banner(tab: &Browser) -> String {
    js(tab, "document.getElementById('banner').textContent").as_str().unwrap_or_default().to_string()
}

fn shot(tab: &Browser, name: &str) {
    let png = tab.screenshot();
    let dir = workspace().join("target").join("rollcall-test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts");
    std::fs::write(dir.join(format!("review-{name}.png")), png).expect("write screenshot");
}

/// The school's signing key for this test.
fn school_key() -> rollcall_shared::signature::SecretKey {
    rollcall_shared::signature::SecretKey::from_seed(&[5; 32])
}

/// Types `name` into the name field of `folder`'s card and presses Enter.
fn type_name(tab: &Browser, folder: &str, name: &str) {
    let input = tab.wait_for(&format!("[data-folder=\"{folder}\"] input[data-role=name]")).expect("name field");
    input.click();
    js(tab, &format!("document.querySelector('[data-folder=\"{folder}\"] input[data-role=name]').select()"));
    tab.press_key("Backspace");
    input.type_text(name);
    tab.press_key("Enter");
}

/// A review session in a real browser on a work directory from the shared
/// photos, with one John split in two (k = 6 for five Johns).
struct Opened {
    _photos: tempfile::TempDir,
    _root: tempfile::TempDir,
    work: Work,
    tab: Browser,
    /// The server's port.
    port: u16,
    session: Arc<Review>,
    /// The two folders of the split John.
    split: Vec<String>,
    /// Folders that hold one John each, whole.
    singles: Vec<String>,
}

fn open() -> Opened {
    let photos = labelled_tree(&["dlib_johns"]);
    let root = tempfile::tempdir().expect("temp dir");
    let work = Work::new(root.path().join("work"));
    {
        let held = work.claim().expect("claim");
        pipeline::run(photos.path(), &held, models(), &RunOptions::default()).expect("run");
        let opts = ClusterOptions { k: Some(6), force: true, charts: false, ..ClusterOptions::default() };
        cluster(&held, same_person_threshold(), &opts).expect("cluster with k = 6");
    }
    let who = identities(&work, photos.path());
    let mut by_john = BTreeMap::<&str, Vec<String>>::new();
    for (folder, john) in &who {
        by_john.entry(john.as_str()).or_default().push(folder.clone());
    }
    let split = by_john.values().find(|f| f.len() == 2).expect("k = 6 splits one John in two").clone();
    let singles: Vec<String> = by_john.values().filter(|f| f.len() == 1).map(|f| f[0].clone()).collect();
    assert!(singles.len() >= 3, "{who:?}");

    // The server, on a free port, as `rollcall review` runs it.
    let server = review::bind(0).expect("bind");
    let port = server.local_addr().expect("an IP address").port();
    let threshold = same_person_threshold().map(|t| t.0);
    let load = || Ok(Arc::new(models().clone()) as Arc<dyn rollcall_models::Models>);
    let session =
        Arc::new(Review::new(work.clone(), port, threshold, Some(review::trainer(threshold, load, Some(school_key())))).expect("session"));
    let server = review::server(session.clone(), server).expect("server");
    std::thread::spawn(move || server.run());

    let tab = Browser::start(1400, 1600, &[]);
    // As `rollcall review` opens it: the browser gets the user's private
    // launch file, which trades a one-time code for the session cookie.
    let (_launch, page) = session.write_launch_file().expect("launch file");
    tab.goto(&format!("file://{}", page.display()));
    if tab.wait_for("[data-folder]").is_none() {
        panic!("the people are not shown at {}: {}", tab.url(), js(&tab, "document.body.innerText"));
    }
    let url = tab.url();
    assert!(url.starts_with(&format!("http://127.0.0.1:{port}/")) && !url.contains(session.token()), "{url}");
    Opened { _photos: photos, _root: root, work, tab, port, session, split, singles }
}

/// The folders the page shows, as cards.
fn shown_folders(tab: &Browser) -> BTreeSet<String> {
    let names = js(tab, "JSON.stringify(Array.from(document.querySelectorAll('[data-folder]')).map(c => c.dataset.folder))");
    serde_json::from_str(names.as_str().unwrap_or("[]")).expect("a list of folders")
}

/// Waits until the folders on disk are `expected` and the page, done
/// acting, shows them: the next click must find the page as it will stay,
/// not the cards an action's answer is about to replace.
fn until_shown(tab: &Browser, clusters: &Path, what: &str, expected: &BTreeMap<String, Vec<String>>) {
    until(what, || tree(clusters) == *expected);
    let names: BTreeSet<String> = expected.keys().cloned().collect();
    until(&format!("the page to show {what}"), || js(tab, "busy").as_bool() == Some(false) && shown_folders(tab) == names);
}

#[test]
fn naming_merging_moving_undoing_and_junk_in_a_real_browser() {
    let opened = open();
    let (tab, work) = (&opened.tab, &opened.work);
    let (split, singles) = (&opened.split, &opened.singles);
    let clusters = work.clusters();
    let threshold = same_person_threshold().map(|t| t.0);
    let cards = || js(tab, "document.querySelectorAll('#people [data-folder]').length").as_u64().unwrap_or(0) as usize;
    assert_eq!(cards(), 6);
    // The suggestions panel shows what the server suggests, each with the
    // cosine behind it (or says there is none).
    let expected_suggestions = review::view::view(work, &rollcall_host::artifacts::people::default_junk(), threshold, None).suggestions;
    let shown = js(tab, "JSON.stringify(Array.from(document.querySelectorAll('#suggestions li')).map(l => l.textContent))");
    let shown: Vec<String> = serde_json::from_str(shown.as_str().expect("the suggestions panel")).expect("a list");
    if expected_suggestions.is_empty() {
        assert_eq!(shown, ["None."], "{shown:?}");
    } else {
        assert_eq!(shown.len(), expected_suggestions.len(), "{shown:?}");
        assert!(shown.iter().all(|s| s.contains("cosine") || s.contains(" against ")), "suggestions give their cosine: {shown:?}");
    }
    shot(tab, "1-start");

    // 1. Name two people, one with a non-ASCII name.
    let mut expected = tree(&clusters);
    for (folder, name) in [(singles[0].as_str(), "Zoë"), (singles[1].as_str(), "李雷")] {
        type_name(tab, folder, name);
        let files = expected.remove(folder).expect("folder");
        expected.insert(name.to_string(), files);
        until_shown(tab, &clusters, &format!("{folder} named {name}"), &expected);
    }
    shot(tab, "2-named");

    // Unsafe names are refused with a message, and nothing moves.
    for bad in ["a/b", ".."] {
        type_name(tab, &singles[2], bad);
        until("the refusal", || {
            !banner(tab).is_empty() && js(tab, "document.getElementById('banner').className").as_str() == Some("error")
        });
        assert_eq!(tree(&clusters), expected, "{bad} changed the folders");
        js(tab, "document.getElementById('banner').className = ''");
    }

    // 2. Merge the two halves of the split John.
    let (from, into) = (split[0].as_str(), split[1].as_str());
    js(tab, &format!("document.querySelector('[data-folder=\"{from}\"] [data-role=merge-into]').value = '{into}'"));
    tab.wait_for(&format!("[data-folder=\"{from}\"] button[data-role=merge]")).expect("merge button").click();
    let moved = expected.remove(from).expect("from");
    let target = expected.get_mut(into).expect("into");
    target.extend(moved);
    target.sort();
    until_shown(tab, &clusters, "the merge", &expected);
    assert_eq!(cards(), 5);
    shot(tab, "3-merged");

    // 3. Move a face to Zoë with a real click, then undo it.
    let face = expected[into][0].clone();
    tab.wait_for(&format!("[data-key=\"{into}/{face}\"]")).expect("the face").click();
    until("the selection", || js(tab, "document.getElementById('selected').textContent").as_str() == Some("1 selected"));
    until("the photo of the face", || js(tab, "!document.getElementById('box').hidden").as_bool() == Some(true));
    js(tab, "document.getElementById('move-to').value = 'person:Zoë'");
    tab.wait_for("#move").expect("move").click();
    let before_move = expected.clone();
    expected.get_mut(into).expect("into").retain(|f| f != &face);
    let zoe = expected.get_mut("Zoë").expect("Zoë");
    zoe.push(face.clone());
    zoe.sort();
    until_shown(tab, &clusters, "the move", &expected);
    shot(tab, "4-moved");
    tab.wait_for("#undo").expect("undo").click();
    expected = before_move;
    until_shown(tab, &clusters, "the undo", &expected);

    // 4. Mark a whole cluster as junk, with the keyboard's `u` undoing it
    //    and a click doing it again.
    let junk = singles[2].as_str();
    tab.wait_for(&format!("[data-folder=\"{junk}\"] button[data-role=junk]")).expect("junk").click();
    let files = expected.remove(junk).expect("junk folder");
    let mut junked = expected.clone();
    junked.insert(format!("_junk_{junk}"), files.clone());
    until_shown(tab, &clusters, "the junk", &junked);
    tab.wait_for("body").expect("body").click();
    tab.press_key("u");
    expected.insert(junk.to_string(), files);
    until_shown(tab, &clusters, "u undoes", &expected);
    tab.wait_for(&format!("[data-folder=\"{junk}\"] button[data-role=junk]")).expect("junk").click();
    until_shown(tab, &clusters, "the junk again", &junked);
    expected = junked;
    until("the junk section", || js(tab, "document.querySelectorAll('#junk [data-folder]').length").as_u64() == Some(1));
    shot(tab, "5-junk");

    // 5. A rename in a file manager while the page is open: noticed, shown,
    //    and the page acts on the new tree.
    std::fs::rename(clusters.join("李雷"), clusters.join("Li Lei")).expect("rename by hand");
    until("the page notices", || banner(tab).contains("changed on disk"));
    tab.wait_for("[data-folder=\"Li Lei\"]").expect("the new name is shown");
    let files = expected.remove("李雷").expect("李雷");
    expected.insert("Li Lei".into(), files);
    assert_eq!(tree(&clusters), expected);
    shot(tab, "6-file-manager");

    // 6. Train and export from the page: the same report `train` prints.
    // First with folders nobody named: refused, with their names.
    let unnamed: Vec<String> = expected.keys().filter(|f| f.starts_with("person_")).cloned().collect();
    assert!(!unnamed.is_empty(), "{expected:?}");
    tab.wait_for("#train").expect("train").click();
    let train_out = || js(tab, "document.getElementById('train-out').textContent").as_str().unwrap_or_default().to_string();
    until("the refusal", || train_out().contains("nobody named") && unnamed.iter().all(|f| train_out().contains(f.as_str())));
    for (i, folder) in unnamed.iter().enumerate() {
        let name = format!("Pupil {}", i + 1);
        type_name(tab, folder, &name);
        let files = expected.remove(folder).expect("folder");
        expected.insert(name.clone(), files);
        until_shown(tab, &clusters, &format!("{folder} named {name}"), &expected);
    }
    tab.wait_for("#train").expect("train").click();
    until("training", || js(tab, "document.getElementById('train-out').textContent").as_str().is_some_and(|t| t.contains("gallery.rcg")));
    let report = js(tab, "document.getElementById('train-out').textContent").as_str().unwrap_or_default().to_string();
    assert!(report.contains("4 people") && report.contains("cross-validation") && report.contains("FAR 95% bound"), "{report}");
    assert!(work.root().join("gallery.rcg").is_file() && work.root().join("model").join("training.json").is_file());
    // Signed with the key named at the start (`review --sign KEY`).
    assert!(report.contains(&format!("signed by key {}", school_key().public().short())), "{report}");
    let gallery = std::fs::read(work.root().join("gallery.rcg")).expect("gallery");
    rollcall_shared::gallery::Gallery::decode_verified(&gallery, &school_key().public()).expect("signed by the school's key");
    assert_eq!(tree(&clusters), expected, "training changes no folder");
    shot(tab, "7-trained");

    // Every image loaded, and every control is labelled.
    let broken = js(tab, "Array.from(document.images).filter(i => i.getAttribute('src') && (!i.complete || i.naturalWidth === 0)).length");
    assert_eq!(broken.as_u64(), Some(0), "broken images");
    let unlabelled = js(
        tab,
        "Array.from(document.querySelectorAll('input, select')).filter(e => !e.getAttribute('aria-label') && !document.querySelector('label[for=\"' + e.id + '\"]') && !e.closest('label')).length",
    );
    assert_eq!(unlabelled.as_u64(), Some(0), "every control has a label");
    let no_alt = js(tab, "Array.from(document.querySelectorAll('img')).filter(i => !i.getAttribute('alt')).length");
    assert_eq!(no_alt.as_u64(), Some(0), "every image has alt text");
}

/// The page asks the server every 1.5 s whether the folders changed (a
/// file manager may have moved them). A poll answered just before an action
/// but read just after it drew the folders as they were before the action,
/// under the banner "The folders changed on disk", until the next poll drew
/// them again. CI met it as a click on a name field that the second drawing
/// had replaced ("stale element reference"). Here one poll's answer is held
/// in the page until an action has been answered, so the two cross for
/// certain.
#[test]
fn regression_a_poll_that_crossed_an_action_drew_the_old_folders() {
    let opened = open();
    let tab = &opened.tab;
    let clusters = opened.work.clusters();
    let hold = "(() => {
        const real = window.fetch;
        window.fetch = async (path, init) => {
            const held = window.hold && path === '/api/state';
            window.hold = false;
            const answer = await real(path, init);
            if (!held) return answer;
            const body = await answer.json();
            window.answered = true;
            await new Promise(go => { window.release = go; });
            return { status: answer.status, json: async () => body };
        };
        window.hold = true;
        window.polled = false;
        refresh().then(() => { window.polled = true; });
        return true;
    })()";
    assert_eq!(js(tab, hold), serde_json::json!(true));
    until("the poll's answer", || js(tab, "window.answered === true").as_bool() == Some(true));

    let mut expected = tree(&clusters);
    let folder = opened.singles[0].as_str();
    type_name(tab, folder, "Zoë");
    let files = expected.remove(folder).expect("folder");
    expected.insert("Zoë".into(), files);
    until_shown(tab, &clusters, "the name", &expected);

    js(tab, "window.release()");
    until("the poll", || js(tab, "window.polled").as_bool() == Some(true));
    let names: BTreeSet<String> = expected.keys().cloned().collect();
    assert_eq!(shown_folders(tab), names, "the page drew the folders from before the name");
    assert!(!banner(tab).contains("changed on disk"), "{}", banner(tab));
}

/// Every request head a server on `listener` is sent, kept in order; its
/// one page reloads itself once (as the page that took the session did).
fn record_requests(listener: std::net::TcpListener) -> Arc<std::sync::Mutex<Vec<String>>> {
    use std::io::{Read, Write};
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 && matches!(stream.read(&mut byte), Ok(1)) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let body = if head.starts_with("GET / ") {
                "<!doctype html><meta http-equiv=refresh content=\"0;url=/again\"><title>a game</title>"
            } else {
                "<!doctype html><title>a game</title><p>thanks"
            };
            kept.lock().unwrap_or_else(|p| p.into_inner()).push(head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    heads
}

/// `request` (a method and path) sent to the review server on `port` with
/// the header lines in `lines` and `body`: the status.
fn replay(port: u16, request: &str, lines: &[String], body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut head = format!("{request} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for l in lines {
        head.push_str(l);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes())).expect("send");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{request}: no status in {answer:?}"))
}

/// A cookie set by `127.0.0.1:PORT` is sent by the browser to every port of
/// 127.0.0.1. Another local user listened on 127.0.0.1:39999, got the
/// teacher's browser there with a link, the page reloaded itself, and the
/// browser sent `rollcall_review=...`; with it that user read a child's
/// photo through `/photo` and renamed `person_2` through `/api/act` (with
/// `review --sign`, "Train and export" would then have signed their labels
/// with the school's key). Here the same browser that opened the review
/// page visits a server on another free loopback port, which records all
/// it is sent; replayed against the review server, that opens nothing,
/// while the review page, visited again and reloaded, works on.
#[test]
fn regression_a_page_on_another_port_got_the_review_session() {
    let opened = open();
    let (tab, port, work) = (&opened.tab, opened.port, &opened.work);
    let clusters = work.clusters();
    let hostile = std::net::TcpListener::bind("127.0.0.1:0").expect("another port");
    let hostile_port = hostile.local_addr().expect("address").port();
    let heads = record_requests(hostile);
    tab.goto(&format!("http://127.0.0.1:{hostile_port}/"));
    until("the other page to reload itself", || heads.lock().unwrap_or_else(|p| p.into_inner()).len() >= 2);
    let heads = heads.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let all = heads.join("\n");
    // The story's premise: the browser gives that server the review cookie.
    assert!(all.contains(&format!("rollcall_review_{port}=")), "the browser sent no review cookie to another port: {all}");
    assert!(!all.contains(opened.session.token()), "the session's key reached another port: {all}");

    // Everything it was sent, replayed: every header but the ones that
    // frame a request.
    let mut lines: Vec<String> = heads
        .iter()
        .flat_map(|h| h.lines().skip(1))
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let name = l.split(':').next().unwrap_or_default().to_ascii_lowercase();
            !["host", "connection", "content-length", "transfer-encoding"].contains(&name.as_str())
        })
        .map(str::to_string)
        .collect();
    lines.sort();
    lines.dedup();
    let before = tree(&clusters);
    let (folder, files) = before.iter().find(|(f, _)| f.starts_with("person_")).expect("a person");
    let chip = files.iter().find(|f| f.ends_with(".png")).expect("a chip");
    let version = review::view::version(&clusters);
    let rename = serde_json::json!({"version": version, "action": {"action": "name", "folder": folder, "name": "Mallory"}}).to_string();
    for (request, body) in [
        ("GET /api/state".to_string(), String::new()),
        ("POST /api/act".to_string(), rename.clone()),
        ("POST /api/train".to_string(), String::new()),
        (format!("GET /photo?face={chip}"), String::new()),
        (format!("GET /chip/{folder}/{chip}"), String::new()),
    ] {
        assert_eq!(replay(port, &request, &lines, &body), 403, "{request} opened with what another port was sent: {lines:?}");
    }
    assert_eq!(tree(&clusters), before, "nothing was renamed");
    assert!(!work.root().join("gallery.rcg").exists(), "nothing was trained");

    // The teacher's tab goes back to the page, which still works: an
    // action, its photos, and again after a reload.
    tab.goto(&format!("http://127.0.0.1:{port}/"));
    tab.wait_for(&format!("[data-folder=\"{folder}\"]")).expect("the page, back");
    let mut expected = before.clone();
    let files = expected.remove(folder).expect("folder");
    expected.insert("Zoë".into(), files);
    type_name(tab, folder, "Zoë");
    until_shown(tab, &clusters, "the name, back on the page", &expected);
    tab.reload();
    tab.wait_for("[data-folder=\"Zoë\"]").expect("the page, reloaded");
    let chips_shown =
        "Array.from(document.querySelectorAll('#people img')).every(i => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0)";
    until("the chips after the reload", || js(tab, chips_shown).as_bool() == Some(true));
    js(tab, &format!("document.querySelector('[data-folder=\"Zoë\"] [data-role=name]').value = '{}'", "Zoë Li"));
    tab.wait_for("[data-folder=\"Zoë\"] button[data-role=save-name]").expect("save").click();
    let files = expected.remove("Zoë").expect("Zoë");
    expected.insert("Zoë Li".into(), files);
    until_shown(tab, &clusters, "the name, after the reload", &expected);
}
