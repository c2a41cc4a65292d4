//! Where frames come from: replayed stills, or a live camera that may come
//! and go.
//!
//! `dir:PATH` and `image:FILE` replay photos in file-name order, every one
//! of them (tests, demos, offline use). A live camera runs on its own
//! thread and drops each frame into a one-slot [`Latest`] mailbox: the
//! newest frame wins and older ones are dropped, never queued, so a slow CPU
//! always works on the present. If the camera fails or is unplugged,
//! [`capture_loop`] logs it, waits with exponential backoff, reopens it and
//! carries on.

use rollcall_files::shown;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use image::RgbImage;

/// One frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The picture, decoded.
    pub image: RgbImage,
    /// Seconds since the Unix epoch when it was taken.
    pub ts: f64,
    /// Where it came from (a file name for stills).
    pub origin: String,
}

/// Why a source could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The camera could not be opened or configured.
    #[error("cannot open {device}")]
    Open {
        /// The camera's device file.
        device: String,
        /// What the driver said.
        #[source]
        source: std::io::Error,
    },
    /// The camera stopped delivering (unplugged, say).
    #[error("{device} stopped delivering frames")]
    Lost {
        /// The camera's device file.
        device: String,
        /// Why the last frame was not had.
        #[source]
        source: Lost,
    },
    /// The thread that reads the camera could not start.
    #[error("cannot start the capture thread for {device}")]
    Thread {
        /// The camera's device file.
        device: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The folder of stills could not be read.
    #[error("{}: cannot list the stills", shown(path))]
    Stills {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// Why a camera's frame was not had.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    /// Asked for a frame before the camera was opened.
    #[error("the camera is not open")]
    NotOpen,
    /// The driver failed to hand over a buffer.
    #[error("reading a buffer")]
    Read(#[source] std::io::Error),
    /// An MJPEG frame did not decode.
    #[error("decoding an MJPEG frame")]
    Decode(#[source] rollcall_models::Error),
    /// A YUYV frame had fewer bytes than its size needs.
    #[error("short YUYV frame: {got} bytes for {width}x{height}")]
    Short {
        /// Bytes delivered.
        got: usize,
        /// The frame's width, in pixels.
        width: usize,
        /// The frame's height, in pixels.
        height: usize,
    },
}

/// `SOURCE` on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// `v4l:/dev/video0[:640x480@15]`.
    V4l {
        /// The camera's device file.
        device: String,
        /// Width, height, frames per second.
        mode: (u32, u32, u32),
    },
    /// `dir:PATH`: every photo in the folder, by file name.
    Dir(PathBuf),
    /// `image:FILE`: one photo.
    Image(PathBuf),
}

impl std::str::FromStr for SourceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(p) = s.strip_prefix("dir:") {
            return Ok(SourceSpec::Dir(PathBuf::from(p)));
        }
        if let Some(p) = s.strip_prefix("image:") {
            return Ok(SourceSpec::Image(PathBuf::from(p)));
        }
        if let Some(rest) = s.strip_prefix("v4l:") {
            let (device, mode) = match rest.rsplit_once(':') {
                Some((d, m)) if m.contains('x') => (d, Some(m)),
                _ => (rest, None),
            };
            let mode = match mode {
                None => (640, 480, 15),
                Some(m) => {
                    let bad = || format!("`{m}`: expected WIDTHxHEIGHT@FPS, like 640x480@15");
                    let (wh, fps) = m.split_once('@').unwrap_or((m, "15"));
                    let (w, h) = wh.split_once('x').ok_or_else(bad)?;
                    (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?, fps.parse().map_err(|_| bad())?)
                }
            };
            return Ok(SourceSpec::V4l { device: device.to_string(), mode });
        }
        Err(format!("`{s}`: a source is v4l:/dev/videoN[:WxH@FPS], dir:PATH or image:FILE"))
    }
}

/// The photos a stills source replays, sorted by file name.
pub fn stills(spec: &SourceSpec) -> Result<Vec<PathBuf>, SourceError> {
    match spec {
        SourceSpec::Image(p) => Ok(vec![p.clone()]),
        SourceSpec::Dir(d) => {
            let entries = std::fs::read_dir(d).map_err(|source| SourceError::Stills { path: d.clone(), source })?;
            let mut files: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| rollcall_files::photos::is_photo_name(p)).collect();
            files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
            Ok(files)
        }
        SourceSpec::V4l { .. } => Ok(Vec::new()),
    }
}

/// Decodes one still into a frame (with the time now).
pub fn load_still(path: &Path) -> rollcall_models::Result<Frame> {
    let image = rollcall_models::decode::load_rgb(path)?;
    Ok(Frame { image, ts: crate::events::now(), origin: shown(path).to_string() })
}

/// A one-slot mailbox: `put` replaces what is there (counting it as
/// dropped), `take` waits for something or for the mailbox to close.
#[derive(Debug, Default)]
pub struct Latest<T> {
    slot: Mutex<(Option<T>, u64, bool)>,
    ready: Condvar,
}

impl<T> Latest<T> {
    /// An empty, open mailbox.
    pub fn new() -> Self {
        Latest { slot: Mutex::new((None, 0, false)), ready: Condvar::new() }
    }

    /// Leaves `item`, replacing (and dropping) an unread one.
    pub fn put(&self, item: T) {
        if let Ok(mut s) = self.slot.lock() {
            if s.0.replace(item).is_some() {
                s.1 += 1;
            }
            self.ready.notify_one();
        }
    }

    /// Waits for the newest item; `None` once closed and empty.
    pub fn take(&self) -> Option<T> {
        let mut s = self.slot.lock().ok()?;
        loop {
            if let Some(item) = s.0.take() {
                return Some(item);
            }
            if s.2 {
                return None;
            }
            s = self.ready.wait(s).ok()?;
        }
    }

    /// Items replaced before anyone read them.
    pub fn dropped(&self) -> u64 {
        self.slot.lock().map(|s| s.1).unwrap_or(0)
    }

    /// No more items will come.
    pub fn close(&self) {
        if let Ok(mut s) = self.slot.lock() {
            s.2 = true;
            self.ready.notify_all();
        }
    }
}

/// A camera the capture loop can open, read and lose.
pub trait Camera: Send {
    /// Opens (or reopens) the device.
    fn open(&mut self) -> Result<(), SourceError>;
    /// Waits for and returns the next frame.
    fn grab(&mut self) -> Result<RgbImage, SourceError>;
    /// Releases the device after a failure.
    fn close(&mut self);
}

/// Exponential backoff between reconnection attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    first: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `first`, doubles up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff { next: first, first, max }
    }

    /// The wait before the next attempt.
    pub fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Back to the first wait, after a success.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Reads `camera` into `mailbox` until `stop` is set, reopening it with
/// backoff whenever it fails. `sleep` is `std::thread::sleep` outside tests.
pub fn capture_loop(
    camera: &mut dyn Camera,
    mailbox: &Latest<Frame>,
    stop: &AtomicBool,
    mut backoff: Backoff,
    sleep: &mut dyn FnMut(Duration),
) {
    let mut open = false;
    while !stop.load(Ordering::Relaxed) {
        if !open {
            match camera.open() {
                Ok(()) => {
                    tracing::info!("camera open");
                    open = true;
                }
                Err(e) => {
                    let wait = backoff.step();
                    tracing::warn!("{}; retrying in {wait:?}", rollcall_models::error::describe(&e));
                    sleep(wait);
                    continue;
                }
            }
        }
        match camera.grab() {
            Ok(image) => {
                backoff.reset();
                mailbox.put(Frame { image, ts: crate::events::now(), origin: "camera".into() });
            }
            Err(e) => {
                camera.close();
                open = false;
                let wait = backoff.step();
                tracing::warn!("{}; reconnecting in {wait:?}", rollcall_models::error::describe(&e));
                sleep(wait);
            }
        }
    }
    mailbox.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Arc;

    /// The log line for a lost camera names the device and, through the
    /// error's sources, why.
    #[test]
    fn a_lost_camera_says_which_and_why() {
        let e = SourceError::Lost { device: "/dev/video0".into(), source: Lost::Short { got: 100, width: 640, height: 480 } };
        assert_eq!(rollcall_models::error::describe(&e), "/dev/video0 stopped delivering frames: short YUYV frame: 100 bytes for 640x480");
        let e = SourceError::Stills { path: "/no/such".into(), source: std::io::Error::from(std::io::ErrorKind::NotFound) };
        assert!(rollcall_models::error::describe(&e).starts_with("/no/such: cannot list the stills: "), "{e}");
    }

    #[test]
    fn source_specs_parse() {
        assert_eq!("v4l:/dev/video0".parse::<SourceSpec>(), Ok(SourceSpec::V4l { device: "/dev/video0".into(), mode: (640, 480, 15) }));
        assert_eq!(
            "v4l:/dev/video2:1280x720@30".parse::<SourceSpec>(),
            Ok(SourceSpec::V4l { device: "/dev/video2".into(), mode: (1280, 720, 30) })
        );
        assert_eq!("dir:/tmp/x".parse::<SourceSpec>(), Ok(SourceSpec::Dir("/tmp/x".into())));
        assert!("v4l:/dev/video0:axb@1".parse::<SourceSpec>().is_err());
        assert!("rtsp://camera".parse::<SourceSpec>().is_err());
    }

    #[test]
    fn the_newest_frame_wins() {
        let m = Latest::new();
        m.put(1);
        m.put(2);
        m.put(3);
        assert_eq!(m.take(), Some(3));
        assert_eq!(m.dropped(), 2);
        m.close();
        assert_eq!(m.take(), None);
    }

    /// Fails to open twice, gives two frames, is unplugged, fails to reopen
    /// once, then gives frames again.
    struct Flaky {
        script: VecDeque<&'static str>,
        log: Vec<String>,
        stop: Arc<AtomicBool>,
    }

    impl Camera for Flaky {
        fn open(&mut self) -> Result<(), SourceError> {
            let step = self.script.pop_front().unwrap_or("stop");
            self.log.push(format!("open:{step}"));
            match step {
                "ok" => Ok(()),
                _ => Err(SourceError::Open { device: "/dev/fake".into(), source: std::io::Error::other(step) }),
            }
        }

        fn grab(&mut self) -> Result<RgbImage, SourceError> {
            let step = self.script.pop_front().unwrap_or("stop");
            self.log.push(format!("grab:{step}"));
            if self.script.is_empty() {
                self.stop.store(true, Ordering::Relaxed);
            }
            match step {
                "frame" => Ok(RgbImage::new(4, 4)),
                _ => Err(SourceError::Lost { device: "/dev/fake".into(), source: Lost::Read(std::io::Error::other(step)) }),
            }
        }

        fn close(&mut self) {
            self.log.push("close".into());
        }
    }

    #[test]
    fn an_unplugged_camera_is_reopened_with_backoff() {
        let stop = Arc::new(AtomicBool::new(false));
        let script = ["busy", "busy", "ok", "frame", "frame", "unplugged", "missing", "ok", "frame"];
        let mut cam = Flaky { script: script.into_iter().collect(), log: Vec::new(), stop: stop.clone() };
        let mailbox = Latest::new();
        let mut waits = Vec::new();
        capture_loop(&mut cam, &mailbox, &stop, Backoff::new(Duration::from_millis(100), Duration::from_secs(2)), &mut |d| waits.push(d));
        assert_eq!(
            cam.log,
            [
                "open:busy",
                "open:busy",
                "open:ok",
                "grab:frame",
                "grab:frame",
                "grab:unplugged",
                "close",
                "open:missing",
                "open:ok",
                "grab:frame"
            ]
        );
        // 100, 200 ms while it would not open; reset by the frames; then 100, 200 ms.
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 100, 200]);
        assert!(mailbox.take().is_some(), "frames flow again after the reconnection");
        assert_eq!(mailbox.dropped(), 2, "three frames, nobody reading: the newest survives");
    }
}
