//! `rollcall-device doctor`: the checks an IT person runs before leaving
//! the classroom, each with a verdict and, when it fails, the fix. The
//! same settings as a run (flags over `--config`), the same code paths:
//! the gallery is read and verified as at start, the models loaded for it,
//! a frame taken from the source, the pins and port opened, the broker
//! connected to, the events log folder written to, and the clock asked
//! whether it is synchronised.

use std::path::Path;
use std::time::Duration;

use crate::settings::{GpioMode, Settings};
use crate::source::{Camera, SourceSpec, load_still, stills};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Works as configured.
    Ok,
    /// Works, but something is worth knowing.
    Warn,
    /// The device would not work as configured.
    Fail,
}

/// One check's result.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked: "gallery", "camera", ...
    pub what: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do about it (failures and warnings).
    pub fix: Option<String>,
}

impl Check {
    fn ok(what: &'static str, detail: impl Into<String>) -> Check {
        Check { what, verdict: Verdict::Ok, detail: detail.into(), fix: None }
    }

    fn bad(what: &'static str, verdict: Verdict, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { what, verdict, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// Free space below which the events log folder fails the check: a day's
/// log is tens of kilobytes, but a full disk stops the log and the state.
const MIN_FREE_BYTES: u64 = 50 << 20;

/// How long a camera gets to deliver its first frame, and a broker to
/// accept a connection.
const WAIT: Duration = Duration::from_secs(10);

/// Every check for the settings `options` give, in the order a device meets
/// them. A source that is not set is one failed check, with its fix, and
/// every other check still runs: a doctor that stopped at the first missing
/// setting would check nothing.
pub fn checks_for(options: &crate::settings::Options) -> crate::error::Result<Vec<Check>> {
    let Some(_) = &options.source else {
        // The rest resolves as for a replay of a folder: the source is the
        // only thing not checked.
        let mut stand_in = options.clone();
        stand_in.source = Some("dir:.".into());
        let mut out = vec![Check::bad(
            "source",
            Verdict::Fail,
            "no source is set",
            "set `source` in device.toml, or pass --source v4l:/dev/video0 (a camera), dir:PATH or image:FILE",
        )];
        out.extend(checks_but_source(&Settings::resolve(&stand_in)?));
        return Ok(out);
    };
    Ok(checks(&Settings::resolve(options)?))
}

/// Every check, in the order a device meets them.
pub fn checks(s: &Settings) -> Vec<Check> {
    let mut out = checks_but_source(s);
    let at = out.iter().position(|c| c.what != "gallery" && c.what != "models").unwrap_or(out.len());
    out.insert(at, source(&s.source));
    out
}

fn checks_but_source(s: &Settings) -> Vec<Check> {
    let mut out = Vec::new();
    let gallery = gallery(s, &mut out);
    if let Some(g) = &gallery {
        out.push(models(s, g));
    }
    if !s.leds.is_empty() {
        out.push(match s.gpio {
            GpioMode::DryRun => Check::ok("GPIO", format!("{} LEDs, dry run (changes are logged)", s.leds.len())),
            GpioMode::Real => match crate::sinks::RppalPins::open() {
                Ok(_) => Check::ok("GPIO", format!("opened; {} LEDs", s.leds.len())),
                Err(e) => Check::bad(
                    "GPIO",
                    Verdict::Fail,
                    e.chain(),
                    "on a Raspberry Pi, add the user to the `gpio` group; elsewhere set `gpio = \"dry-run\"`",
                ),
            },
        });
    }
    if let Some((path, baud)) = &s.serial {
        out.push(match crate::sinks::open_serial(path, *baud) {
            Ok(_) => Check::ok("serial port", format!("{path} opened at {baud} baud")),
            Err(e) => Check::bad(
                "serial port",
                Verdict::Fail,
                e.chain(),
                "check the device name and that nothing else holds the port (a login console on it: `systemctl disable serial-getty@...`); the user must be in `dialout`",
            ),
        });
    }
    if let Some(m) = &s.mqtt {
        out.push(match crate::mqtt::probe(m, WAIT) {
            Ok(()) => Check::ok("MQTT broker", format!("{}:{} accepted a connection", m.host, m.port)),
            Err(e) => Check::bad(
                "MQTT broker",
                Verdict::Fail,
                e.chain(),
                "check that the broker runs and is reachable, and the user, password and CA in [mqtt]",
            ),
        });
    }
    if let Some(dir) = &s.events_log {
        out.push(events_log(dir));
    }
    out.push(clock());
    out
}

fn gallery(s: &Settings, out: &mut Vec<Check>) -> Option<rollcall_shared::gallery::Gallery> {
    let trust = match crate::run::trust(s) {
        Ok(t) => t,
        Err(e) => {
            out.push(Check::bad("gallery", Verdict::Fail, e.chain(), "set `state_dir` (the package uses /var/lib/rollcall/state)"));
            return None;
        }
    };
    if let Some(t) = &trust {
        out.push(serials(s, t));
    }
    match crate::reload::read(&s.gallery, trust.as_ref(), s.allow_downgrade) {
        Ok((g, serial)) => {
            let check = |signed: String| format!("{}: {} people; {signed}", rollcall_files::shown(&s.gallery), g.people());
            let sign = "sign galleries (`rollcall export --sign KEY`) and set `trust` to KEY.pub";
            out.push(match &s.trust {
                Some(key) if !serial.record => Check::bad(
                    "gallery",
                    Verdict::Warn,
                    check(format!(
                        "signed by the trusted key {}, serial {} ({}), more than a day ahead of the clock, which is not synchronised",
                        key.short(),
                        serial.value,
                        crate::rollback::date(serial.value)
                    )),
                    "synchronise the clock (`sudo timedatectl set-ntp true`): a serial more than a day ahead of a synchronised clock is refused",
                ),
                Some(key) => Check::ok(
                    "gallery",
                    check(format!("signed by the trusted key {}, serial {} ({})", key.short(), serial.value, crate::rollback::date(serial.value))),
                ),
                // An unsigned setup fails, unless the settings chose it.
                None if s.allow_unsigned => Check::bad(
                    "gallery",
                    Verdict::Warn,
                    check("not authenticated: no `trust` key is set (allow_unsigned = true)".into()),
                    sign,
                ),
                None => Check::bad(
                    "gallery",
                    Verdict::Fail,
                    check("not authenticated: no `trust` key is set, and the service refuses to start so".into()),
                    format!("{sign}; or set `allow_unsigned = true` to run without signatures on purpose"),
                ),
            });
            Some(g)
        }
        Err(e) => {
            out.push(Check::bad(
                "gallery",
                Verdict::Fail,
                e.chain(),
                "export it again on the laptop (`rollcall export MODEL --out gallery.rcg --sign KEY`) and copy it here; `trust` must be that key's .pub",
            ));
            None
        }
    }
}

/// The rollback state: where it is, whether a serial is recorded for the
/// trusted key, and whether the recorded one is from the future.
fn serials(s: &Settings, t: &crate::reload::Trust) -> Check {
    let what = "serials";
    let path = rollcall_files::shown(t.serials.path()).to_string();
    if let Some(missing) = t.serials.missing(&t.key) {
        return Check::bad(
            what,
            Verdict::Warn,
            missing,
            "on a first start, nothing to do (the service records the gallery's serial); otherwise the state was deleted: \
             check who can write the state folder",
        );
    }
    if let Some(dir) = t.serials.path().parent()
        && let Some(why) = crate::run::state_beside_gallery(s, dir)
    {
        return Check::bad(what, Verdict::Warn, why, "move the state file to a folder only the service writes, and set `state_dir`");
    }
    let highest = t.serials.highest(&t.key).unwrap_or(0);
    let now = crate::rollback::now_secs();
    let retired = t.serials.retired(&t.key);
    let retired = if retired.is_empty() { String::new() } else { format!("; retired: {retired:?}") };
    if highest > now.saturating_add(crate::rollback::MAX_AHEAD) {
        let synced = crate::clock::synchronised() == Some(true);
        return Check::bad(
            what,
            if synced { Verdict::Fail } else { Verdict::Warn },
            format!(
                "{path}: the highest serial recorded, {highest}, is {}, more than a day ahead of this device's clock ({}){}",
                crate::rollback::date(highest),
                crate::rollback::date(now),
                if synced { "" } else { ", which is not synchronised" }
            ),
            "a gallery signed on a laptop whose clock was wrong: fix that clock, export with `--reset-serial`, \
             copy the gallery here and start once with --allow-downgrade (the serial from the future is retired for good)",
        );
    }
    Check::ok(what, format!("{path}: highest serial {highest} ({}){retired}", crate::rollback::date(highest)))
}

fn models(s: &Settings, g: &rollcall_shared::gallery::Gallery) -> Check {
    let fix = "`rollcall-device models fetch` with internet, or copy the laptop's models folder to `models_dir`, then `rollcall-device models verify`";
    // Loading would fetch what is missing; the check only says so.
    match s.models.missing_for_gallery(g) {
        Ok(missing) if !missing.is_empty() => {
            let list: Vec<String> = missing.iter().map(|p| rollcall_files::shown(p).to_string()).collect();
            return Check::bad("models", Verdict::Fail, format!("missing: {}", list.join(", ")), fix);
        }
        Ok(_) => {}
        Err(e) => return Check::bad("models", Verdict::Fail, rollcall_models::error::describe(&e), fix),
    }
    match s.models.load_for_gallery(g, s.detector_size) {
        Ok(m) => {
            let card = m.card();
            Check::ok("models", format!("{} and {} load and match the gallery", card.detector.name, card.recognizer.name))
        }
        Err(e) => Check::bad("models", Verdict::Fail, rollcall_models::error::describe(&e), fix),
    }
}

fn source(spec: &SourceSpec) -> Check {
    match spec {
        SourceSpec::V4l { device, mode } => {
            let (device, mode) = (device.clone(), *mode);
            let (tx, rx) = std::sync::mpsc::channel();
            // A camera that opens but never delivers would block here
            // forever: the frame is waited for on a thread of its own.
            std::thread::spawn(move || {
                let mut cam = crate::camera::V4lCamera::new(&device, mode);
                let frame = cam.open().and_then(|()| cam.grab());
                let _ = tx.send(frame.map(|f| (f.width(), f.height())));
            });
            match rx.recv_timeout(WAIT) {
                Ok(Ok((w, h))) => Check::ok("camera", format!("delivered a {w}x{h} frame")),
                Ok(Err(e)) => Check::bad(
                    "camera",
                    Verdict::Fail,
                    e.to_string(),
                    "check the cable and the device name (`v4l2-ctl --list-devices`); the user must be in `video`",
                ),
                Err(_) => Check::bad(
                    "camera",
                    Verdict::Fail,
                    format!("no frame within {} s", WAIT.as_secs()),
                    "unplug and plug the camera in again; try another mode (`v4l2-ctl --list-formats-ext`)",
                ),
            }
        }
        spec => match stills(spec).map_err(|e| e.to_string()).and_then(|list| {
            let first = list.first().ok_or("no photos there")?;
            let frame = load_still(first).map_err(|e| rollcall_models::error::describe(&e))?;
            Ok((list.len(), frame.image.width(), frame.image.height()))
        }) {
            Ok((n, w, h)) => Check::ok("camera", format!("{n} stills, the first {w}x{h}")),
            Err(e) => Check::bad("camera", Verdict::Fail, e, "check the `source` path"),
        },
    }
}

fn events_log(dir: &Path) -> Check {
    let what = "events log";
    let writable = std::fs::create_dir_all(dir).and_then(|()| tempfile::NamedTempFile::new_in(dir).map(drop));
    if let Err(e) = writable {
        return Check::bad(
            what,
            Verdict::Fail,
            format!("cannot write in {}: {e}", rollcall_files::shown(dir)),
            "the service's user must own it (the package makes /var/lib/rollcall/events)",
        );
    }
    match fs4::available_space(dir) {
        Ok(free) if free < MIN_FREE_BYTES => Check::bad(
            what,
            Verdict::Fail,
            format!("{}: only {} MB free", rollcall_files::shown(dir), free >> 20),
            "free some space, or lower `keep_days`",
        ),
        Ok(free) => Check::ok(what, format!("{} writable, {} MB free", rollcall_files::shown(dir), free >> 20)),
        Err(e) => Check::bad(what, Verdict::Warn, format!("cannot tell the free space: {e}"), "check it with `df`"),
    }
}

fn clock() -> Check {
    match crate::clock::synchronised() {
        Some(true) => Check::ok("clock", "synchronised (NTP)"),
        Some(false) => Check::bad(
            "clock",
            Verdict::Fail,
            "not synchronised: a Pi has no real-time clock, and the attendance log would record the wrong day",
            "give it network access to an NTP server and `sudo timedatectl set-ntp true`",
        ),
        None => Check::bad("clock", Verdict::Warn, "cannot tell whether it is synchronised (no timedatectl)", "check the date with `date`"),
    }
}

/// Prints each check; true when none failed.
pub fn report(checks: &[Check]) -> bool {
    for c in checks {
        let tag = match c.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        println!("{tag}  {:<12} {}", c.what, c.detail);
        if let Some(fix) = &c.fix {
            println!("      {:<12} fix: {fix}", "");
        }
    }
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    if failed == 0 {
        println!("all checks passed");
    } else {
        println!("{failed} check(s) failed");
    }
    failed == 0
}
