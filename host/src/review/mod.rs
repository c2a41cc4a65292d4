//! `rollcall review WORK`: naming the people in a browser, locally.
//!
//! A small HTTP server on 127.0.0.1 serves one page (HTML, CSS and script
//! compiled into the binary: no CDN, no network) and a JSON API over the
//! work directory's `clusters/` folder. Every action is a plain file
//! operation there ([`actions`]), journalled so that undo survives a reload;
//! what the page shows is the folder tree as it is now ([`view`]).
//!
//! Who may drive it: the tab the session was given to, and only at this
//! server's origin (scheme, host *and port*). A browser sends a cookie set
//! by `127.0.0.1:PORT` to every port of 127.0.0.1, so another local user
//! listening on another port gets it as soon as the browser visits them;
//! the cookie alone therefore opens nothing. The session's secret, the
//! *key*, is handed once to the page, which keeps it in `sessionStorage`
//! (one origin's, one tab's) and sends it in the `X-Rollcall-Session`
//! header with every API call and every image it fetches; the cookie
//! (HttpOnly, SameSite=Strict, named after the port) is a second factor.
//! The page itself (`/`) holds no secret.
//!
//! How the key reaches the page: the browser is opened on a file only the
//! user can read, which sends it to a one-time launch code ([`Launch`]);
//! the answer to that code, once, sets the cookie and stores the key. A
//! process list shows a path and a code that is worthless once used, never
//! the key. The URL printed on the terminal (`/?token=KEY`, for `--no-open`)
//! does the same for whoever has the terminal. A `Host` that is not the
//! loopback address with the server's port is refused (DNS rebinding), and
//! so is an `Origin` other than the page's own (another site open in the
//! same browser). One session per work directory; each action also takes
//! the work directory's lock, so a `run` or `cluster --force` in progress
//! makes the page say so instead of racing it. What the server gives a slow
//! or idle client is in [`server`].

pub mod actions;
pub mod server;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use crate::artifacts::Work;
use crate::error::{Error, Result};
use actions::{Action, Journal};

/// The page. It holds no secret: it finds the key in `sessionStorage`.
const PAGE: &str = include_str!("page.html");

/// The header that carries the session key.
pub const SESSION_HEADER: &str = "x-rollcall-session";

/// Where the page keeps the key, in its origin's `sessionStorage`.
const STORAGE_ITEM: &str = "rollcall-review-session";

/// Runs `train` and `export` for the page's button.
pub type Trainer = Box<dyn Fn(&Work) -> Result<crate::pipeline::Retrained> + Send + Sync>;

/// A request, as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    /// Path and query.
    pub url: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    /// The `X-Rollcall-Session` header.
    pub session: Option<String>,
    /// The `Cookie` header.
    pub cookie: Option<String>,
    pub body: Vec<u8>,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Headers beyond the ones every response gets.
    pub headers: Vec<(&'static str, String)>,
}

impl Resp {
    fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Resp {
        Resp { status, content_type, body, headers: Vec::new() }
    }

    fn json(status: u16, v: &impl serde::Serialize) -> Resp {
        Resp::new(status, "application/json", serde_json::to_vec(v).unwrap_or_default())
    }

    fn error(status: u16, message: &str) -> Resp {
        Resp::json(status, &serde_json::json!({ "error": message }))
    }
}

/// The one-time code the browser is opened with: exchanged once for the
/// session key and cookie, worthless afterwards (and to anyone who reads it
/// in a process list after the browser used it).
struct Launch {
    code: String,
    used: AtomicBool,
}

/// The review session of one work directory.
pub struct Review {
    work: Work,
    port: u16,
    /// The key: what the page sends in [`SESSION_HEADER`].
    token: String,
    /// The cookie's value, the second factor.
    cookie: String,
    launch: Launch,
    /// One session per work directory, for the session's lifetime.
    _session: rollcall_files::owned::Lock,
    junk: Vec<String>,
    threshold: Option<f32>,
    journal: Mutex<Journal>,
    trainer: Option<Trainer>,
}

#[derive(Deserialize)]
struct ActRequest {
    version: String,
    action: Action,
}

fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(rollcall_shared::digest::hex(&bytes))
}

fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
}

fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| percent_decode(v))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compares without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Review {
    /// A session over `work` (which must have `clusters/`), for a server on
    /// `port`, with a fresh random key, cookie and launch code.
    pub fn new(work: Work, port: u16, threshold: Option<f32>, trainer: Option<Trainer>) -> Result<Review> {
        if !work.clusters().is_dir() {
            return Err(Error::Missing { path: work.clusters(), hint: "run `rollcall run` (or `cluster`) first" });
        }
        // Two sessions would both journal actions with the same ids.
        let session = rollcall_files::owned::lock_named(work.root(), SESSION_LOCK).map_err(|e| match e {
            rollcall_files::owned::OwnedError::Locked { holder, .. } => Error::ReviewRunning { path: work.root().to_path_buf(), holder },
            e => Error::Owned(e),
        })?;
        let token = random_hex().map_err(Error::write(work.root()))?;
        let cookie = random_hex().map_err(Error::write(work.root()))?;
        let launch = Launch { code: random_hex().map_err(Error::write(work.root()))?, used: AtomicBool::new(false) };
        let journal = Mutex::new(Journal::open(&work.root().join(JOURNAL)));
        Ok(Review {
            work,
            port,
            token,
            cookie,
            launch,
            _session: session,
            junk: crate::artifacts::people::default_junk(),
            threshold,
            journal,
            trainer,
        })
    }

    /// The URL with the key, for the user who ran `review` to open by hand
    /// (printed on the terminal, never passed on a command line).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/?token={}", self.port, self.token)
    }

    /// The one-time launch URL the browser is sent to.
    pub fn launch_url(&self) -> String {
        format!("http://127.0.0.1:{}/launch?code={}", self.port, self.launch.code)
    }

    /// Writes the page the browser is opened on: a file in a new folder
    /// only the user can read, which forwards to [`Review::launch_url`].
    /// The folder is removed when the returned guard drops.
    pub fn write_launch_file(&self) -> Result<(tempfile::TempDir, PathBuf)> {
        let mut builder = tempfile::Builder::new();
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let dir = builder.prefix("rollcall-review-").tempdir().map_err(Error::write(Path::new("temporary folder")))?;
        let path = dir.path().join("open.html");
        let url = self.launch_url();
        let html = format!(
            "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url={url}\">\
             <title>rollcall review</title><p><a href=\"{url}\">Open the review page</a></p>\n"
        );
        // The folder is 0700 and the file is created 0600: another local
        // user can read neither.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&path).map_err(Error::write(&path))?;
        std::io::Write::write_all(&mut f, html.as_bytes()).map_err(Error::write(&path))?;
        Ok((dir, path))
    }

    /// The session key, which the page sends in [`SESSION_HEADER`].
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The cookie's name: one per port, so that two sessions in one
    /// browser (cookies do not tell ports apart) keep their own.
    fn cookie_name(&self) -> String {
        format!("rollcall_review_{}", self.port)
    }

    /// The `Cookie` header a browser given this session sends (for clients
    /// other than the page, such as tests).
    pub fn cookie(&self) -> String {
        format!("{}={}", self.cookie_name(), self.cookie)
    }

    fn allowed_hosts(&self) -> [String; 3] {
        [format!("127.0.0.1:{}", self.port), format!("localhost:{}", self.port), format!("[::1]:{}", self.port)]
    }

    /// Refuses requests another site could make.
    fn check_site(&self, r: &Req) -> std::result::Result<(), Resp> {
        let hosts = self.allowed_hosts();
        if !r.host.as_deref().is_some_and(|h| hosts.iter().any(|a| a.eq_ignore_ascii_case(h))) {
            return Err(Resp::error(403, "refused: the Host header is not this server's loopback address"));
        }
        if let Some(origin) = &r.origin
            && !hosts.iter().any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")))
        {
            return Err(Resp::error(403, "refused: a request from another site"));
        }
        Ok(())
    }

    /// Whether the request carries this session's cookie.
    fn has_cookie(&self, r: &Req) -> bool {
        r.cookie.as_deref().and_then(|c| cookie_value(c, &self.cookie_name())).is_some_and(|c| same_secret(&c, &self.cookie))
    }

    /// Refuses requests without both factors: the key in its header (which
    /// only the page at this origin has) and the cookie.
    fn check_session(&self, r: &Req) -> std::result::Result<(), Resp> {
        let key = r.session.as_deref().is_some_and(|k| same_secret(k, &self.token));
        if !(key && self.has_cookie(r)) {
            return Err(Resp::error(
                403,
                "refused: no valid session (open the URL rollcall review printed, in this tab: the page keeps its key per tab)",
            ));
        }
        Ok(())
    }

    fn undo_text(&self) -> Option<String> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner()).undoable().map(|e| e.what.clone())
    }

    fn state(&self) -> view::View {
        view::view(&self.work, &self.junk, self.threshold, self.undo_text(), self.trained())
    }

    /// What the page's button trained last, read back from the model
    /// folder and the gallery: the same after a reload, or another day.
    fn trained(&self) -> Option<view::Trained> {
        let model = crate::artifacts::training::ModelDir::new(self.work.root().join(MODEL_DIR));
        let report = model.read_report().ok()?;
        let when = std::fs::metadata(model.report())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        let gallery = self.work.root().join(GALLERY_FILE);
        let signed = match rollcall_shared::regular::read(&gallery, rollcall_shared::regular::cap::GALLERY, "gallery") {
            Err(_) => format!("no {GALLERY_FILE} yet"),
            Ok(bytes) => match rollcall_shared::gallery::Gallery::signature_claim(&bytes) {
                Ok(Some(claim)) => format!(
                    "wrote {}: signed by key {}, serial {}",
                    gallery.display(),
                    rollcall_shared::digest::hex(&claim.signer[..6]),
                    claim.serial
                ),
                Ok(None) => format!(
                    "wrote {}: not signed: a device started with --trust refuses it (start review with --sign KEY to sign)",
                    gallery.display()
                ),
                Err(e) => format!("{}: {e}", gallery.display()),
            },
        };
        let details = format!("{}\nwrote {}\n{signed}", crate::render::training::summary(&report).trim_end(), model.root().display());
        let mut notes: Vec<String> = report
            .look_alikes
            .iter()
            .map(|l| format!("{} and {} look like one person: if they are, merge them and train again.", l.a, l.b))
            .collect();
        if !report.never_held_out.is_empty() {
            notes.push(format!(
                "Not tested (one photo only): {}. More photos of them make the gallery surer.",
                report.never_held_out.join(", ")
            ));
        }
        if !report.suspects.is_empty() {
            notes.push(format!(
                "{} {} like a mistake (in the wrong group?) and {} left out: see the details.",
                report.suspects.len(),
                if report.suspects.len() == 1 { "face looked" } else { "faces looked" },
                if report.suspects.len() == 1 { "was" } else { "were" }
            ));
        }
        Some(view::Trained { when, summary: crate::render::training::plain(&report), notes, people: report.people.clone(), details })
    }

    /// The cookie, the second factor.
    fn session_cookie(&self) -> (&'static str, String) {
        ("Set-Cookie", format!("{}; HttpOnly; SameSite=Strict; Path=/", self.cookie()))
    }

    /// The answer that hands this tab the session: the cookie, and a
    /// script that keeps the key in the origin's `sessionStorage` and moves
    /// on to the page (without the key in the address). Given only to a
    /// request that proved it is the launch (the one-time code) or the
    /// user (the key itself, from the terminal).
    fn hand_over(&self) -> Resp {
        // A page that moves on to `/` itself, not a redirect: the browser
        // came here from a file, and a SameSite=Strict cookie is not sent
        // along a redirect that a navigation from another site started.
        // The key is hex: nothing to escape.
        let page = format!(
            "<!doctype html><meta charset=utf-8><title>rollcall review</title>\
             <script>sessionStorage.setItem(\"{STORAGE_ITEM}\", \"{}\"); location.replace(\"/\");</script>\
             <noscript><p>The review page needs JavaScript.</p></noscript>\n",
            self.token
        );
        let mut resp = Resp::new(200, "text/html; charset=utf-8", page.into_bytes());
        resp.headers.push(self.session_cookie());
        resp
    }

    /// `/launch?code=`: the one-time code for the session. Host and Origin
    /// are checked as for every request.
    fn launch(&self, r: &Req) -> Resp {
        let code = query_param(&r.url, "code").unwrap_or_default();
        if !same_secret(&code, &self.launch.code) || self.launch.used.swap(true, Ordering::SeqCst) {
            return Resp::error(403, "refused: this launch link was used already; open the URL rollcall review printed");
        }
        self.hand_over()
    }

    /// Checks who is asking (Host, Origin, key and cookie): the server
    /// calls it before reading a request's body. `/launch` and `/?token=`
    /// check their secret themselves; the page (`/`) holds no secret and
    /// wants only the cookie; everything else wants both factors.
    pub fn check(&self, r: &Req) -> std::result::Result<(), Resp> {
        self.check_site(r)?;
        match (r.method.as_str(), r.url.split('?').next()) {
            // What a browser asks of every page by itself; the answer is empty.
            ("GET", Some("/launch") | Some("/favicon.ico")) => Ok(()),
            ("GET", Some("/")) => match query_param(&r.url, "token") {
                Some(key) if same_secret(&key, &self.token) => Ok(()),
                Some(_) => Err(Resp::error(403, "refused: not this session's key (open the URL rollcall review printed)")),
                None if self.has_cookie(r) => Ok(()),
                None => Err(Resp::error(403, "refused: no session cookie (open the URL rollcall review printed)")),
            },
            _ => self.check_session(r),
        }
    }

    /// Answers one request.
    pub fn handle(&self, r: &Req) -> Resp {
        if let Err(refused) = self.check(r) {
            return refused;
        }
        let path = r.url.split('?').next().unwrap_or("");
        match (r.method.as_str(), path) {
            ("GET", "/launch") => self.launch(r),
            ("GET", "/favicon.ico") => Resp::new(204, "image/x-icon", Vec::new()),
            ("GET", "/") if query_param(&r.url, "token").is_some() => self.hand_over(),
            ("GET", "/") => Resp::new(200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
            ("GET", "/api/state") => Resp::json(200, &self.state()),
            ("POST", "/api/act") => self.act(r),
            ("POST", "/api/train") => self.train(),
            ("GET", p) if p.starts_with("/chip/") => self.chip(&percent_decode(&p["/chip/".len()..])),
            ("GET", "/photo") => self.photo(&query_param(&r.url, "face").unwrap_or_default()),
            _ => Resp::error(404, "no such page"),
        }
    }

    fn act(&self, r: &Req) -> Resp {
        let req: ActRequest = match serde_json::from_slice(&r.body) {
            Ok(a) => a,
            Err(e) => return Resp::error(400, &format!("not an action: {e}")),
        };
        // The work directory's lock, for this action only: waited for a
        // moment (a process forked by another thread of this program while
        // the lock was held keeps it until it execs), refused while a
        // command such as `run` holds it.
        let _lock = match self.work.open_within(ACTION_LOCK_WAIT) {
            Ok(l) => l,
            Err(Error::Owned(rollcall_files::owned::OwnedError::Locked { .. })) => {
                return Resp::error(
                    423,
                    "another rollcall command (a run or cluster --force) is working in this folder; try again when it ends",
                );
            }
            Err(e) => return Resp::error(500, &e.to_string()),
        };
        let now = view::version(&self.work.clusters());
        if now != req.version {
            return Resp::json(
                409,
                &serde_json::json!({ "error": "the folders changed since the page was drawn (a file manager?); here they are now", "view": self.state() }),
            );
        }
        let result =
            actions::act(&mut self.journal.lock().unwrap_or_else(|p| p.into_inner()), &self.work.clusters(), &req.action, &self.junk);
        match result {
            Ok(message) => Resp::json(200, &serde_json::json!({ "message": message, "view": self.state() })),
            Err(error) => Resp::json(400, &serde_json::json!({ "error": error, "view": self.state() })),
        }
    }

    fn train(&self) -> Resp {
        let Some(trainer) = &self.trainer else { return Resp::error(501, "training is not available in this session") };
        // The trainer takes the work directory's lock itself, as `train` does.
        match trainer(&self.work) {
            Ok(_) => Resp::json(200, &serde_json::json!({ "message": "Trained and exported.", "trained": self.trained() })),
            Err(e) => Resp::error(400, &page_words(&e)),
        }
    }

    /// A face chip: a regular PNG file directly in a cluster folder, which
    /// resolves (links followed) inside the work directory.
    fn chip(&self, rel: &str) -> Resp {
        let not_found = || Resp::error(404, "no such face");
        let Some((folder, file)) = rel.split_once('/') else { return not_found() };
        let bad = |s: &str| s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\']);
        if bad(folder) || bad(file) || !file.to_ascii_lowercase().ends_with(".png") {
            return not_found();
        }
        let path = self.work.clusters().join(folder).join(file);
        let (Ok(real), Ok(root)) = (path.canonicalize(), self.work.root().canonicalize()) else { return not_found() };
        if !real.starts_with(&root) {
            return not_found();
        }
        match rollcall_shared::regular::read(&real, rollcall_shared::regular::cap::PHOTO, "chip") {
            Ok(bytes) if bytes.starts_with(b"\x89PNG\r\n\x1a\n") => Resp::new(200, "image/png", bytes),
            _ => not_found(),
        }
    }

    /// The photo a chip came from: only a photo that `metadata.csv` names
    /// for that chip *and* that the work directory's detection records
    /// list, under the folder they were found in; read as a regular file.
    fn photo(&self, face: &str) -> Resp {
        let rows = crate::artifacts::metadata::read(&self.work.metadata_csv()).unwrap_or_default();
        let Some(row) = rows.iter().find(|m| m.aligned_file == face) else { return Resp::error(404, "no photo for that face") };
        let Ok(detections) = crate::artifacts::detections::DetectionsFile::read(&self.work.detections_json()) else {
            return Resp::error(404, "no detection records in this work directory");
        };
        if !detections.photos.iter().any(|p| p.path == row.original_file) {
            return Resp::error(404, "no photo for that face");
        }
        // Under the input as found, the way `detect` walked it (links in
        // the photo folder followed, as the listing follows them).
        let path = PathBuf::from(&row.original_file);
        let input = PathBuf::from(&detections.input);
        let climbs = path.components().any(|c| matches!(c, std::path::Component::ParentDir));
        if climbs || !path.starts_with(&input) {
            return Resp::error(404, "no photo for that face");
        }
        let Ok(img) = rollcall_models::decode::load_rgb(&path) else { return Resp::error(404, "the photo cannot be read any more") };
        // Sent as JPEG at most 1600 px wide: EXIF orientation applied, as
        // the boxes assume, and never the user's original bytes to a page.
        let img = image::DynamicImage::ImageRgb8(img);
        let s = (1600.0 / img.width().max(img.height()) as f32).min(1.0);
        let img =
            img.resize((img.width() as f32 * s) as u32, (img.height() as f32 * s) as u32, image::imageops::FilterType::Triangle).to_rgb8();
        let mut buf = std::io::Cursor::new(Vec::new());
        match img.write_to(&mut buf, image::ImageFormat::Jpeg) {
            Ok(()) => Resp::new(200, "image/jpeg", buf.into_inner()),
            Err(e) => Resp::error(500, &e.to_string()),
        }
    }
}

/// The page's "Train and export" button: what `rollcall train
/// WORK/clusters --out WORK/model` then `rollcall export WORK/model --out
/// WORK/gallery.rcg [--sign KEY]` do, through [`crate::pipeline::retrain`].
/// `published` gives a recognizer's same-person cosine; `load` gives the
/// models if `train` needs to embed a face the work directory has no
/// embedding for; `key`, named when the session started, signs the gallery.
pub fn trainer(
    published: impl Fn(&str) -> Option<f32> + Send + Sync + 'static,
    load: impl Fn() -> Result<std::sync::Arc<dyn rollcall_models::Models>> + Send + Sync + 'static,
    key: Option<rollcall_shared::signature::SecretKey>,
) -> Trainer {
    Box::new(move |work: &Work| {
        let dir = work.open()?;
        let model = crate::artifacts::training::ModelDir::new(work.root().join(MODEL_DIR));
        let out = work.root().join(GALLERY_FILE);
        let to = crate::pipeline::RetrainTo { model: &model, gallery: Some((&out, key.as_ref())) };
        crate::pipeline::retrain(&work.clusters(), Some(&dir), &Default::default(), &published, &load, to)
    })
}

/// Why training was refused, in the page's words: its buttons, not the
/// command line's flags and folder names.
fn page_words(e: &Error) -> String {
    match e {
        Error::Unnamed { folders, .. } => format!(
            "Not trained yet: {} {} no name: {}. Type a name in each, press \"Mark as junk\" on a group that is nobody, or move \
             strangers' faces to \"unknown\" (select them, then Move).",
            folders.len(),
            if folders.len() == 1 { "group has" } else { "groups have" },
            folders.join(", ")
        ),
        Error::Owned(rollcall_files::owned::OwnedError::Locked { .. }) => {
            "another rollcall command (a run or cluster --force) is working in this folder; try again when it ends".to_string()
        }
        e => e.to_string(),
    }
}

/// The model folder the page's button writes, in the work directory.
pub const MODEL_DIR: &str = "model";

/// The gallery the page's button writes, in the work directory.
pub const GALLERY_FILE: &str = "gallery.rcg";

/// The journal's file name in the work directory.
pub use crate::artifacts::journal::JOURNAL;

/// How long an action waits for the work directory's lock.
const ACTION_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The session lock's file name in the work directory.
pub const SESSION_LOCK: &str = ".rollcall-review-lock";

/// The server for `review` on `listener`, with the default limits, its
/// signals caught: make it before sending the browser to the page.
pub fn server(review: std::sync::Arc<Review>, listener: std::net::TcpListener) -> Result<server::Server> {
    server::Server::new(review, listener, server::Limits::default()).map_err(Error::write(Path::new("127.0.0.1")))
}

/// Serves `review` on `listener` until Ctrl-C or SIGTERM: the requests in
/// flight are answered, then it returns.
pub fn serve(review: std::sync::Arc<Review>, listener: std::net::TcpListener) -> Result<()> {
    server(review, listener)?.run();
    Ok(())
}

/// Binds 127.0.0.1:`port` (0: any free port).
pub fn bind(port: u16) -> Result<std::net::TcpListener> {
    std::net::TcpListener::bind(("127.0.0.1", port)).map_err(Error::write(Path::new("127.0.0.1")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_and_query_parameters() {
        assert_eq!(percent_decode("Zo%C3%AB+Li"), "Zoë Li");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(query_param("/x?a=1&token=ab%20c", "token").as_deref(), Some("ab c"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }
}
