//! `rollcall review WORK`: naming the people in a browser, locally.
//!
//! A small HTTP server on 127.0.0.1 serves one page (HTML, CSS and script
//! compiled into the binary: no CDN, no network) and a JSON API over the
//! work directory's `clusters/` folder. Every action is a plain file
//! operation there ([`actions`]), journalled so that undo survives a reload;
//! what the page shows is the folder tree as it is now ([`view`]).
//!
//! Who may drive it: the URL carries a random per-session token, which
//! every request must present (API calls in the `X-Rollcall-Token` header,
//! images in the query); a `Host` that is not the loopback address with the
//! server's port is refused (DNS rebinding), and so is an `Origin` other
//! than the page's own (another site open in the same browser). Each action
//! takes the work directory's lock, so a `run` or `cluster --force` in
//! progress makes the page say so instead of racing it.

pub mod actions;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    pub body: Vec<u8>,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Resp {
    fn json(status: u16, v: &impl serde::Serialize) -> Resp {
        Resp { status, content_type: "application/json", body: serde_json::to_vec(v).unwrap_or_default() }
    }

    fn error(status: u16, message: &str) -> Resp {
        Resp::json(status, &serde_json::json!({ "error": message }))
    }
}

/// The review session of one work directory.
pub struct Review {
    work: Work,
    port: u16,
    token: String,
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
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| Error::write(work.root())(std::io::Error::other(e.to_string())))?;
        let token = rollcall_shared::digest::hex(&bytes);
        let journal = Mutex::new(Journal::open(&work.root().join(JOURNAL)));
        Ok(Review { work, port, token, junk: crate::artifacts::people::default_junk(), threshold, journal, trainer })
    }

    /// The URL to open.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/?token={}", self.port, self.token)
    }

    /// The session token.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn allowed_hosts(&self) -> [String; 3] {
        [format!("127.0.0.1:{}", self.port), format!("localhost:{}", self.port), format!("[::1]:{}", self.port)]
    }

    /// Refuses requests another site or another user could make.
    fn check(&self, r: &Req) -> std::result::Result<(), Resp> {
        let hosts = self.allowed_hosts();
        if !r.host.as_deref().is_some_and(|h| hosts.iter().any(|a| a.eq_ignore_ascii_case(h))) {
            return Err(Resp::error(403, "refused: the Host header is not this server's loopback address"));
        }
        if let Some(origin) = &r.origin
            && !hosts.iter().any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")))
        {
            return Err(Resp::error(403, "refused: a request from another site"));
        }
        let token = r.token.clone().or_else(|| query_param(&r.url, "token"));
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

    /// Answers one request.
    pub fn handle(&self, r: &Req) -> Resp {
        if let Err(refused) = self.check(r) {
            return refused;
        }
        let path = r.url.split('?').next().unwrap_or("");
        match (r.method.as_str(), path) {
            ("GET", "/") => {
                Resp { status: 200, content_type: "text/html; charset=utf-8", body: PAGE.replace("__TOKEN__", &self.token).into_bytes() }
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

    fn chip(&self, rel: &str) -> Resp {
        let Some((folder, file)) = rel.split_once('/') else { return Resp::error(404, "no such face") };
        let bad = |s: &str| s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\']);
        if bad(folder) || bad(file) {
            return Resp::error(404, "no such face");
        }
        match std::fs::read(self.work.clusters().join(folder).join(file)) {
            Ok(bytes) => Resp { status: 200, content_type: "image/png", body: bytes },
            Err(_) => Resp::error(404, "no such face"),
        }
    }

    /// The photo a chip came from: only photos `metadata.csv` names.
    fn photo(&self, face: &str) -> Resp {
        let rows = crate::artifacts::metadata::read(&self.work.metadata_csv()).unwrap_or_default();
        let Some(row) = rows.iter().find(|m| m.aligned_file == face) else { return Resp::error(404, "no photo for that face") };
        let path = PathBuf::from(&row.original_file);
        let Ok(img) = rollcall_models::decode::load_rgb(&path) else { return Resp::error(404, "the photo cannot be read any more") };
        // Sent as JPEG at most 1600 px wide: EXIF orientation applied, as
        // the boxes assume, and never the user's original bytes to a page.
        let img = image::DynamicImage::ImageRgb8(img);
        let s = (1600.0 / img.width().max(img.height()) as f32).min(1.0);
        let img =
            img.resize((img.width() as f32 * s) as u32, (img.height() as f32 * s) as u32, image::imageops::FilterType::Triangle).to_rgb8();
        let mut buf = std::io::Cursor::new(Vec::new());
        match img.write_to(&mut buf, image::ImageFormat::Jpeg) {
            Ok(()) => Resp { status: 200, content_type: "image/jpeg", body: buf.into_inner() },
            Err(e) => Resp::error(500, &e.to_string()),
        }
    }
}

/// The page's "Train and export" button: what `rollcall train
/// WORK/clusters --out WORK/model` then `rollcall export WORK/model --out
/// WORK/gallery.rcg` do, and the text `train` prints (accuracy, open-set
/// estimates, suspect faces). `load` gives the models if `train` needs to
/// embed a face the work directory has no embedding for.
pub fn trainer(
    same_person: Option<f32>,
    load: impl Fn() -> Result<std::sync::Arc<dyn rollcall_models::Models>> + Send + Sync + 'static,
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
        let e = export::export(&model, &out, rollcall_shared::gallery::VectorForm::I8, &model.root().display().to_string())
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{}\nwrote {}\nwrote {}: {} people, {} reference faces, {} bytes",
            report.summary().trim_end(),
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

/// Serves `review` on `listener` until the process ends.
pub fn serve(review: &Review, server: &tiny_http::Server) {
    for mut request in server.incoming_requests() {
        let header = |name: &str| {
            request.headers().iter().find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name)).map(|h| h.value.as_str().to_string())
        };
        let mut req = Req {
            method: request.method().as_str().to_string(),
            url: request.url().to_string(),
            host: header("Host"),
            origin: header("Origin"),
            token: header("X-Rollcall-Token"),
            body: Vec::new(),
        };
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(request.as_reader(), 1 << 20), &mut req.body);
        let resp = review.handle(&req);
        let mut response = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
        for (k, v) in [
            ("Content-Type", resp.content_type),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            (
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
            ),
        ] {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                response.add_header(h);
            }
        }
        let _ = request.respond(response);
    }
}

/// Binds 127.0.0.1:`port` (0: any free port).
pub fn bind(port: u16) -> Result<tiny_http::Server> {
    tiny_http::Server::http(("127.0.0.1", port)).map_err(|e| Error::write(Path::new("127.0.0.1"))(std::io::Error::other(e.to_string())))
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
