//! A recognition run: the gallery and the models it was made with, the
//! sinks, the source; every frame through the [`Recognizer`]; events out.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::clock::ClockWatch;
use crate::error::{Error, Result};
use crate::events::now;
use crate::reload::{GalleryWatch, Trust};
use crate::runtime::{FrameTimes, Recognizer, dispatch};
use crate::service::Service;
use crate::settings::{GpioMode, Settings};
use crate::sinks::{DryRunPins, JsonLines, Leds, RppalPins, Serial, Sink, open_serial};
use crate::source::{Backoff, Latest, SourceError, SourceSpec, capture_loop, load_still, stills};

/// Every LED names someone the gallery knows (or `unknown`): a typo would
/// otherwise leave an LED dark forever without a word.
fn check_leds(leds: &std::collections::BTreeMap<String, u8>, labels: &[String]) -> Result<()> {
    for label in leds.keys() {
        if label != "unknown" && !labels.contains(label) {
            return Err(Error::Setting(format!(
                "--led {label}=...: the gallery has no `{label}` (it has {} and `unknown`)",
                labels.join(", ")
            )));
        }
    }
    Ok(())
}

/// The state folder the settings give, else the default one.
pub(crate) fn state_dir(s: &Settings) -> Result<std::path::PathBuf> {
    s.state_dir.clone().or_else(crate::rollback::default_dir).ok_or_else(|| {
        Error::Setting("--trust needs a folder to remember which galleries it accepted: pass --state-dir DIR (or set `state_dir`)".into())
    })
}

/// The trusted key and the serials accepted before, from the state folder.
pub(crate) fn trust(s: &Settings) -> Result<Option<Trust>> {
    let Some(key) = s.trust else { return Ok(None) };
    Ok(Some(Trust { key, serials: crate::rollback::Serials::open(&state_dir(s)?)? }))
}

/// Why the state folder is within reach of the gallery's writer, when it
/// is: the gallery's own folder (the old packaged layout), where whoever
/// replaces the gallery can delete the serials too.
pub(crate) fn state_beside_gallery(s: &Settings, state: &std::path::Path) -> Option<String> {
    let gallery_dir = s.gallery.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let same = match (std::fs::canonicalize(gallery_dir), std::fs::canonicalize(state)) {
        (Ok(a), Ok(b)) => a == b,
        _ => gallery_dir == state,
    };
    same.then(|| {
        format!(
            "the state folder {} is the gallery's own folder: whoever can replace the gallery can delete the serials \
             and bring an older gallery back; set `state_dir` to a folder only the service writes (the package uses /var/lib/rollcall/state)",
            rollcall_files::shown(state)
        )
    })
}

/// Refuses a deployment (settings file or camera) that accepts unsigned
/// galleries without saying so; warns about an unsigned run otherwise.
pub(crate) fn unsigned_allowed(s: &Settings) -> Result<()> {
    if s.trust.is_some() {
        return Ok(());
    }
    let gallery = rollcall_files::shown(&s.gallery);
    if s.deployed && !s.allow_unsigned {
        return Err(Error::Setting(format!(
            "galleries are not authenticated: no `trust` key is set, so anyone who can write {gallery} could add a person. \
             Set `trust` to the school's public key (KEY.pub from `rollcall keygen`; the package expects /etc/rollcall/school.pub) \
             and sign galleries with `rollcall export --sign KEY`, or set `allow_unsigned = true` (--allow-unsigned) to run without signatures on purpose"
        )));
    }
    tracing::warn!("galleries are not authenticated: anyone who can write {gallery} can add a person; pass --trust KEY.pub");
    Ok(())
}

/// Sends `events` to the sinks; every event while the clock is not
/// synchronised says so in the log.
fn emit(sinks: &mut [Box<dyn Sink>], clock: &mut ClockWatch, events: &[crate::events::Event]) {
    dispatch(sinks, events);
    if !events.is_empty() && clock.unsynchronised() {
        for e in events {
            tracing::warn!("{:?} at {:.0} logged while the clock is not synchronised: its time may be wrong", e.event, e.ts);
        }
    }
}

/// The sinks the settings ask for.
pub fn sinks(s: &Settings) -> Result<Vec<Box<dyn Sink>>> {
    let mut out: Vec<Box<dyn Sink>> = Vec::new();
    if s.stdout {
        out.push(Box::new(JsonLines(std::io::stdout())));
    }
    if let Some((path, baud)) = &s.serial {
        out.push(Box::new(Serial::new(open_serial(path, *baud)?, s.serial_format)));
    }
    if let Some(dir) = &s.events_log {
        out.push(Box::new(crate::events_log::EventsLog::new(dir, s.keep_days)?));
    }
    if let Some(m) = &s.mqtt {
        out.push(Box::new(crate::mqtt::Mqtt::start(m.clone())?));
    }
    if !s.leds.is_empty() {
        match s.gpio {
            GpioMode::Real => out.push(Box::new(Leds::new(RppalPins::open()?, s.leds.clone())?)),
            GpioMode::DryRun => out.push(Box::new(Leds::new(DryRunPins, s.leds.clone())?)),
        }
    }
    Ok(out)
}

/// Recognises until the source ends (stills) or the camera thread stops,
/// sending events where the settings say.
pub fn run(s: &Settings) -> Result<()> {
    let mut sinks = sinks(s)?;
    run_with(s, &mut sinks)
}

/// [`run`] with the caller's sinks.
pub fn run_with(s: &Settings, sinks: &mut [Box<dyn Sink>]) -> Result<()> {
    unsigned_allowed(s)?;
    let mut trust = trust(s)?;
    if let Some(t) = &trust {
        tracing::info!("galleries must be signed by key {}", t.key.short());
        if let Some(missing) = t.serials.missing(&t.key) {
            tracing::warn!("{missing}");
        }
        if let Some(dir) = t.serials.path().parent()
            && let Some(why) = state_beside_gallery(s, dir)
        {
            tracing::warn!("{why}");
        }
    }
    let (gallery, serial) = crate::reload::read(&s.gallery, trust.as_ref(), s.allow_downgrade)?;
    check_leds(&s.leds, &gallery.labels)?;
    // A still source that cannot be read now is a mistake in the settings,
    // not something to warn about and exit 0.
    let stills_list = match &s.source {
        SourceSpec::V4l { .. } => Vec::new(),
        spec => {
            let list = stills(spec)?;
            if let SourceSpec::Image(p) = spec {
                load_still(p)?;
            }
            list
        }
    };
    let models = s.models.load_for_gallery(&gallery, s.detector_size)?;
    let rec = Recognizer::new(models.as_ref(), gallery, s.classifier, s.smoothing, s.carry, s.heartbeat, s.threads)
        .map_err(|e| Error::In { path: s.gallery.clone(), source: Box::new(e) })?;
    tracing::info!("classifier {}; {:?}", rec.classifier().name(), s.smoothing);
    if let Some(t) = &mut trust {
        t.accepted(serial)?;
        tracing::info!("gallery serial {}", serial.value);
    }
    sinks.iter_mut().for_each(|sink| sink.gallery(rec.labels()));
    let mut clock = ClockWatch::new();
    if clock.unsynchronised() {
        tracing::warn!("the clock is not synchronised (NTP): until it is, events may be logged under the wrong time and day");
    }
    let mut service = Service::from_env();
    service.ready(&format!("recognising {} people", rec.labels().len()));
    let mut run = Running {
        watch: GalleryWatch::new(s.gallery.clone()),
        trust,
        rec,
        models: models.as_ref(),
        clock,
        service,
        times: FrameTimes::default(),
    };
    match &s.source {
        SourceSpec::V4l { device, mode } => run.camera(device, *mode, sinks)?,
        _ => run.replay(s, &stills_list, sinks)?,
    }
    run.service.stopping();
    sinks.iter_mut().for_each(|sink| sink.close());
    Ok(())
}

/// A run's state between frames.
struct Running<'m> {
    watch: GalleryWatch,
    trust: Option<Trust>,
    rec: Recognizer,
    models: &'m dyn rollcall_models::Models,
    clock: ClockWatch,
    service: Service,
    times: FrameTimes,
}

impl Running<'_> {
    /// Swaps in the gallery file if it was replaced; a bad one is refused
    /// with a log line and the old one stays.
    fn reload(&mut self, sinks: &mut [Box<dyn Sink>]) {
        let Some(change) = self.watch.changed(self.trust.as_ref()) else { return };
        let swapped = change.and_then(|(g, serial)| Ok((self.rec.replace_gallery(self.models, g, now())?, serial)));
        match swapped {
            Ok((events, serial)) => {
                tracing::info!("new gallery in use");
                if let Some(t) = &mut self.trust
                    && let Err(e) = t.accepted(serial)
                {
                    tracing::warn!("{}", e.chain());
                }
                emit(sinks, &mut self.clock, &events);
                sinks.iter_mut().for_each(|sink| sink.gallery(self.rec.labels()));
            }
            Err(e) => tracing::warn!("{}; the old gallery stays in use", e.chain()),
        }
    }

    /// One frame's events out, and the watchdog told the loop is alive.
    fn frame(&mut self, frame: &crate::source::Frame, sinks: &mut [Box<dyn Sink>]) -> Result<()> {
        let events = self.rec.process(frame, &mut self.times)?;
        emit(sinks, &mut self.clock, &events);
        self.service.alive();
        Ok(())
    }

    /// Frames from a V4L2 camera on a capture thread of its own (the
    /// newest frame always wins), until the thread stops.
    fn camera(&mut self, device: &str, mode: (u32, u32, u32), sinks: &mut [Box<dyn Sink>]) -> Result<()> {
        let mailbox = Arc::new(Latest::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (m2, s2, dev) = (mailbox.clone(), stop.clone(), device.to_string());
        let capture = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let mut cam = crate::camera::V4lCamera::new(&dev, mode);
                let backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(10));
                capture_loop(&mut cam, &m2, &s2, backoff, &mut std::thread::sleep);
            })
            .map_err(|source| SourceError::Thread { device: device.to_string(), source })?;
        let mut last_report = Instant::now();
        while let Some(frame) = mailbox.take() {
            self.reload(sinks);
            self.frame(&frame, sinks)?;
            if last_report.elapsed() > Duration::from_secs(60) {
                last_report = Instant::now();
                tracing::info!("{} frames dropped so far (the newest frame always wins)", mailbox.dropped());
            }
        }
        let _ = capture.join();
        Ok(())
    }

    /// Stills in order: at `--fps`, or on a simulated clock from
    /// `--replay-start`, or as fast as they go; the people still present
    /// leave at the end.
    fn replay(&mut self, s: &Settings, stills: &[std::path::PathBuf], sinks: &mut [Box<dyn Sink>]) -> Result<()> {
        let started = Instant::now();
        // A replay on a simulated clock: frame n was taken n / fps seconds
        // after the start, and nobody waits for it.
        let simulated = |n: usize| s.replay_start.map(|t0| t0 + n as f64 / s.fps.unwrap_or(1.0));
        for (n, path) in stills.iter().enumerate() {
            if let (Some(fps), None) = (s.fps, s.replay_start) {
                // A replay at a camera's pace: frame n is due n / fps
                // seconds after the first.
                let due = started + Duration::from_secs_f64(n as f64 / fps);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            self.reload(sinks);
            let frame = match load_still(path) {
                Ok(mut f) => {
                    f.ts = simulated(n).unwrap_or(f.ts);
                    f
                }
                Err(e) => {
                    tracing::warn!("skipping {}", rollcall_models::error::describe(&e));
                    continue;
                }
            };
            self.frame(&frame, sinks)?;
        }
        let events = self.rec.finish(simulated(stills.len()).unwrap_or_else(now));
        emit(sinks, &mut self.clock, &events);
        Ok(())
    }
}
