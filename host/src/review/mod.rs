//! `rollcall review WORK`: naming the people in a browser, locally.
//!
//! A small HTTP server on 127.0.0.1 serves one page (HTML, CSS and script
//! compiled into the binary: no CDN, no network) and a JSON API over the
//! work directory's `clusters/` folder. Every action is a plain file
//! operation there ([`actions`]), journalled so that undo survives a reload;
//! what the page shows is the folder tree as it is now ([`view`]).
//!
//! Who may drive it: a random per-session token, which every request must
//! present (an HttpOnly, SameSite=Strict cookie; API calls also in the
//! `X-Rollcall-Token` header; or in the query of the URL printed for
//! `--no-open`). The browser is opened on a file only the user can read,
//! which sends it to a one-time launch code that the server exchanges for
//! the cookie ([`Launch`]): a process list shows a path and a code that is
//! worthless once used, never the token. A `Host` that is not the loopback
//! address with the server's port is refused (DNS rebinding), and so is an
//! `Origin` other than the page's own (another site open in the same
//! browser). One session per work directory; each action also takes the
//! work directory's lock, so a `run` or `cluster --force` in progress makes
//! the page say so instead of racing it. What the server gives a slow
//! client is in [`server`].

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

/// The page, with `__TOKEN__` where the session token goes.
const PAGE: &str = include_str!("page.html");

/// Runs `train` and `export` for the page's button; returns what the
/// command line would print.
pub type Trainer = Box<dyn Fn(&Work) -> std::result::Result<String, String> + Send + Sync>;

/// A request, as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    /// Path and query.
    pub url: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub token: Option<String>,
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

/// The cookie that carries the session token.
const COOKIE: &str = "rollcall_review";

/// The one-time code the browser is opened with: exchanged once for the
/// session cookie, worthless afterwards (and to anyone who reads it in a
/// process list after the browser used it).
struct Launch {
    code: String,
    used: AtomicBool,
}

/// The review session of one work directory.
pub struct Review {
    work: Work,
    port: u16,
    token: String,
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
    /// `port`, with a fresh random token.
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
        let launch = Launch { code: random_hex().map_err(Error::write(work.root()))?, used: AtomicBool::new(false) };
        let journal = Mutex::new(Journal::open(&work.root().join(JOURNAL)));
        Ok(Review {
            work,
            port,
            token,
            launch,
            _session: session,
            junk: crate::artifacts::people::default_junk(),
            threshold,
            journal,
            trainer,
        })
    }

    /// The URL with the token, for the user who ran `review` to open by
    /// hand (printed on the terminal, never passed on a command line).
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

    /// The session token.
    pub fn token(&self) -> &str {
        &self.token
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

    /// Refuses requests without the session's token.
    fn check_token(&self, r: &Req) -> std::result::Result<(), Resp> {
        let token =
            r.token.clone().or_else(|| r.cookie.as_deref().and_then(|c| cookie_value(c, COOKIE))).or_else(|| query_param(&r.url, "token"));
        if !token.is_some_and(|t| same_secret(&t, &self.token)) {
            return Err(Resp::error(403, "refused: no valid session token (open the URL rollcall review printed)"));
        }
        Ok(())
    }

    fn undo_text(&self) -> Option<String> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner()).undoable().map(|e| e.what.clone())
    }

    fn state(&self) -> view::View {
        view::view(&self.work, &self.junk, self.threshold, self.undo_text())
    }

    /// The cookie that carries the token.
    fn session_cookie(&self) -> (&'static str, String) {
        ("Set-Cookie", format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", self.token))
    }

    /// `/launch?code=`: the one-time code for the session cookie, then the
    /// page. Host and Origin are checked as for every request.
    fn launch(&self, r: &Req) -> Resp {
        let code = query_param(&r.url, "code").unwrap_or_default();
        if !same_secret(&code, &self.launch.code) || self.launch.used.swap(true, Ordering::SeqCst) {
            return Resp::error(403, "refused: this launch link was used already; open the URL rollcall review printed");
        }
        // A page that moves on to `/` itself, not a redirect: the browser
        // came here from a file, and a SameSite=Strict cookie is not sent
        // along a redirect that a navigation from another site started.
        let page = "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url=/\"><title>rollcall review</title>\
                    <p><a href=\"/\">Open the review page</a></p>\n";
        let mut resp = Resp::new(200, "text/html; charset=utf-8", page.as_bytes().to_vec());
        resp.headers.push(self.session_cookie());
        resp
    }

    /// Checks who is asking (token, Host, Origin): the server calls it
    /// before reading a request's body.
    pub fn check(&self, r: &Req) -> std::result::Result<(), Resp> {
        if r.method == "GET" && r.url.split('?').next() == Some("/launch") {
            return self.check_site(r);
        }
        self.check_site(r)?;
        self.check_token(r)
    }

    /// Answers one request.
    pub fn handle(&self, r: &Req) -> Resp {
        if let Err(refused) = self.check(r) {
            return refused;
        }
        let path = r.url.split('?').next().unwrap_or("");
        match (r.method.as_str(), path) {
            ("GET", "/launch") => self.launch(r),
            ("GET", "/") => {
                let mut resp = Resp::new(200, "text/html; charset=utf-8", PAGE.replace("__TOKEN__", &self.token).into_bytes());
                resp.headers.push(self.session_cookie());
                resp
            }
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
        // The work directory's lock, for this action only.
        let _lock = match self.work.open() {
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
        let result = self.journal.lock().unwrap_or_else(|p| p.into_inner()).act(&self.work.clusters(), &req.action, &self.junk);
        match result {
            Ok(message) => Resp::json(200, &serde_json::json!({ "message": message, "view": self.state() })),
            Err(error) => Resp::json(400, &serde_json::json!({ "error": error, "view": self.state() })),
        }
    }

    fn train(&self) -> Resp {
        let Some(trainer) = &self.trainer else { return Resp::error(501, "training is not available in this session") };
        // The trainer takes the work directory's lock itself, as `train` does.
        match trainer(&self.work) {
            Ok(text) => Resp::json(200, &serde_json::json!({ "message": text })),
            Err(e) => Resp::error(400, &e),
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
/// WORK/gallery.rcg [--sign KEY]` do, and the text `train` prints
/// (accuracy, open-set estimates, suspect faces). `load` gives the models
/// if `train` needs to embed a face the work directory has no embedding
/// for; `key`, named when the session started, signs the gallery.
pub fn trainer(
    same_person: Option<f32>,
    load: impl Fn() -> Result<std::sync::Arc<dyn rollcall_models::Models>> + Send + Sync + 'static,
    key: Option<rollcall_shared::signature::SecretKey>,
) -> Trainer {
    Box::new(move |work: &Work| {
        use crate::stages::{export, train};
        let mut opts = train::TrainOptions::default();
        opts.learn.same_person = same_person;
        let dir = work.open().map_err(|e| e.to_string())?;
        let (gallery, report) = train::train_from_work(&work.clusters(), &dir, &opts, &load).map_err(|e| e.to_string())?;
        drop(dir);
        let model = crate::artifacts::training::ModelDir::new(work.root().join("model"));
        train::write_model_dir(&model, &gallery, &report).map_err(|e| e.to_string())?;
        let out = work.root().join("gallery.rcg");
        let e = export::export_signed(
            &model,
            &out,
            rollcall_shared::gallery::VectorForm::I8,
            &model.root().display().to_string(),
            key.as_ref(),
        )
        .map_err(|e| e.to_string())?;
        let signed = match (&e.signed_by, e.serial) {
            (Some(by), Some(serial)) => format!("signed by key {by}, serial {serial}"),
            _ => "not signed: a device started with --trust refuses it (start review with --sign KEY to sign)".to_string(),
        };
        Ok(format!(
            "{}\nwrote {}\nwrote {}: {} people, {} reference faces, {} bytes; {signed}",
            crate::render::training::summary(&report).trim_end(),
            model.root().display(),
            out.display(),
            e.people,
            e.references,
            e.bytes
        ))
    })
}

/// The journal's file name in the work directory.
pub const JOURNAL: &str = "review-journal.jsonl";

/// The session lock's file name in the work directory.
pub const SESSION_LOCK: &str = ".rollcall-review-lock";

/// Serves `review` on `listener` until Ctrl-C: the requests in flight are
/// answered, then it returns.
pub fn serve(review: &Review, listener: &std::net::TcpListener) {
    server::serve(review, listener, server::Limits::default());
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
