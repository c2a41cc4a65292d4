//! `rollcall-device` as a systemd service, on the fake engine: the unit
//! as packaged passes `systemd-analyze verify` and its exposure is rated
//! OK; the notify protocol (READY, watchdog pings from the frame loop,
//! STOPPING) on a socket of the test's own; log lines without timestamps
//! when stderr is the journal; the events log kept `--keep-days` days
//! across a simulated midnight; and `forget` on the events log.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Days, Local, NaiveDate};
use rollcall_testkit::{synthetic, tiny_gallery};

fn device() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rollcall-device"));
    c.env("ROLLCALL_ENGINE", "fake").env("ROLLCALL_LOG", "info").env_remove("NOTIFY_SOCKET").env_remove("JOURNAL_STREAM");
    c
}

fn unit_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("debian").join("rollcall-device.service")
}

/// `n` stills of ada (identity 101), then `gone` empty frames.
fn stills(dir: &Path, n: usize, gone: usize) {
    for i in 0..n + gone {
        let path = dir.join(format!("{i:03}.png"));
        if i < n {
            synthetic::photo(&path, &[(101, 20)]);
        } else {
            synthetic::empty(&path);
        }
    }
}

fn systemd_analyze() -> &'static str {
    let path = "/usr/bin/systemd-analyze";
    assert!(Path::new(path).is_file(), "systemd-analyze is needed (scripts/test installs systemd); not found at {path}");
    path
}

/// The unit as shipped, with `ExecStart` pointing at this build's binary
/// (verify checks that the program exists).
fn unit_for_this_build(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(unit_file()).expect("the unit");
    assert!(text.contains("ExecStart=/usr/bin/rollcall-device "), "{text}");
    let text = text.replace("/usr/bin/rollcall-device", env!("CARGO_BIN_EXE_rollcall-device"));
    let path = dir.join("rollcall-device.service");
    std::fs::write(&path, text).expect("write the unit");
    path
}

#[test]
fn the_unit_verifies_and_its_exposure_is_rated_ok() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = unit_for_this_build(dir.path());
    let out = Command::new(systemd_analyze()).arg("verify").arg(&unit).output().expect("systemd-analyze verify");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !said.contains(unit.to_string_lossy().as_ref()), "verify: {said}");

    let out = Command::new(systemd_analyze()).args(["security", "--offline=yes"]).arg(&unit).output().expect("systemd-analyze security");
    let text = String::from_utf8_lossy(&out.stdout);
    let overall = text.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_else(|| panic!("no overall level: {text}"));
    // systemd's own rating; the figure is in docs/device.md.
    assert!(overall.contains(" OK"), "{overall}");
    for setting in
        ["Type=notify", "WatchdogSec=", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes", "DevicePolicy=closed"]
    {
        assert!(std::fs::read_to_string(&unit).expect("unit").contains(setting), "{setting}");
    }
}

#[test]
fn it_tells_systemd_it_is_ready_and_pings_the_watchdog_every_frame() {
    let dir = tempfile::tempdir().expect("temp dir");
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).expect("frames");
    stills(&frames, 6, 0);
    let socket_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&socket_path).expect("the notify socket");
    socket.set_nonblocking(true).expect("non-blocking");
    // A watchdog of 2 ms: a ping is due at every frame.
    let out = device()
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "2000")
        .arg("--gallery")
        .arg(tiny_gallery())
        .arg("--source")
        .arg(format!("dir:{}", frames.display()))
        .args(["--heartbeat-secs", "0"])
        .output()
        .expect("run rollcall-device");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut messages = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    // Only the device speaks on the socket: the `timedatectl` it asks
    // about the clock once said ERRNO= there when it failed.
    assert!(messages.first().is_some_and(|m| m.contains("READY=1") && m.contains("STATUS=recognising 3 people")), "{messages:?}");
    let pings = messages.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    assert!(pings >= 6, "a ping per frame: {messages:?}");
    assert!(messages.last().is_some_and(|m| m.contains("STOPPING=1")), "{messages:?}");

    // Without a watchdog: READY and STOPPING only.
    let out = device()
        .env("NOTIFY_SOCKET", &socket_path)
        .arg("--gallery")
        .arg(tiny_gallery())
        .arg("--source")
        .arg(format!("dir:{}", frames.display()))
        .output()
        .expect("run rollcall-device");
    assert!(out.status.success());
    let mut messages = Vec::new();
    while let Ok(n) = socket.recv(&mut buf) {
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(messages.len(), 2, "{messages:?}");
}

#[test]
fn log_lines_carry_no_timestamp_when_stderr_is_the_journal() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let still = synthetic::photo(&dir.path().join("a.png"), &[(101, 20)]);
    let run = |journal: bool| {
        let log = dir.path().join(format!("stderr-{journal}"));
        let file = std::fs::File::create(&log).expect("stderr file");
        let meta = file.metadata().expect("metadata");
        // systemd names the stream it connects as DEVICE:INODE; a stream
        // that is not the one named is not the journal.
        let stream = if journal { format!("{}:{}", meta.dev(), meta.ino()) } else { format!("{}:{}", meta.dev(), meta.ino() + 1) };
        let status = device()
            .env("JOURNAL_STREAM", stream)
            .arg("--gallery")
            .arg(tiny_gallery())
            .arg("--source")
            .arg(format!("image:{}", still.display()))
            .stderr(file)
            .status()
            .expect("run");
        assert!(status.success());
        std::fs::read_to_string(&log).expect("read stderr")
    };
    let year = Local::now().format("%Y-").to_string();
    let journal = run(true);
    let terminal = run(false);
    let line = |text: &str| text.lines().find(|l| l.contains("classifier")).unwrap_or_else(|| panic!("no log line: {text}")).to_string();
    assert!(!line(&journal).contains(&year) && line(&journal).trim_start().starts_with("INFO"), "{journal}");
    assert!(line(&terminal).starts_with(&year), "{terminal}");
}

fn day_file(dir: &Path, date: NaiveDate) -> PathBuf {
    dir.join(format!("{}.jsonl", date.format("%Y-%m-%d")))
}

#[test]
fn the_events_log_keeps_keep_days_days_at_start_and_at_midnight() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("events");
    std::fs::create_dir(&log).expect("log folder");
    let today = Local::now().date_naive();
    let days_ago = |n: u64| today - Days::new(n);
    for n in [5, 3, 2] {
        std::fs::write(day_file(&log, days_ago(n)), "{\"event\":\"heartbeat\",\"present\":0,\"ts\":1.0}\n").expect("old day");
    }
    std::fs::write(log.join("notes.txt"), "the school's own file").expect("notes");
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).expect("frames");
    // ada from 23:59:56 (arrives on the third frame, before midnight),
    // then nobody from 00:00:00: she leaves after midnight.
    stills(&frames, 4, 6);
    let start = format!("{}T23:59:56", today.format("%Y-%m-%d"));
    let out = device()
        .arg("--gallery")
        .arg(tiny_gallery())
        .arg("--source")
        .arg(format!("dir:{}", frames.display()))
        .args(["--heartbeat-secs", "0", "--fps", "1", "--replay-start", &start, "--keep-days", "3", "--no-stdout"])
        .arg("--events-log")
        .arg(&log)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // At start (today): more than 3 days old goes. At midnight
    // (tomorrow): the day that is now more than 3 days old goes too.
    assert!(!day_file(&log, days_ago(5)).exists(), "{stderr}");
    assert!(!day_file(&log, days_ago(3)).exists(), "{stderr}");
    assert!(day_file(&log, days_ago(2)).exists(), "{stderr}");
    assert!(log.join("notes.txt").exists(), "not the log's, not deleted");
    let tonight = std::fs::read_to_string(day_file(&log, today)).expect("today's file");
    let tomorrow = std::fs::read_to_string(day_file(&log, today + Days::new(1))).expect("tomorrow's file");
    assert!(tonight.contains("\"arrived\"") && tomorrow.contains("\"left\""), "{tonight}\n{tomorrow}");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&day_file(&log, today)), 0o640, "not world-readable");

    // Erasure on request: ada's lines go, the rest stays.
    let out =
        Command::new(env!("CARGO_BIN_EXE_rollcall-device")).args(["forget", "ada", "--events-log"]).arg(&log).output().expect("forget");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("removed 2 arrivals and departures of ada"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (_, path) in rollcall_device::events_log::day_files(&log).expect("list") {
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("\"ada\""), "{}: {text}", path.display());
    }
    assert_eq!(mode(&day_file(&log, today)), 0o640, "forget keeps the mode");
}

/// A Pi without a real-time clock starts in the past until NTP answers:
/// the device warns at start and on every event while the clock is not
/// synchronised, and `doctor` fails the clock. The clock is asked with
/// `timedatectl`; a stand-in on PATH answers here.
#[test]
fn an_unsynchronised_clock_is_warned_about_at_start_and_on_every_event() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let answer = |synced: &str| {
        let script = bin.join("timedatectl");
        std::fs::write(&script, format!("#!/bin/sh\necho {synced}\n")).expect("timedatectl");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).expect("frames");
    stills(&frames, 4, 0);
    let run = |doctor: bool| {
        let mut c = device();
        c.env("PATH", &path).arg("--gallery").arg(tiny_gallery()).arg("--source").arg(format!("dir:{}", frames.display()));
        c.args(["--heartbeat-secs", "0"]);
        if doctor {
            c.args(["--allow-unsigned", "doctor"]);
        }
        let out = c.output().expect("run");
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    answer("no");
    let (ok, said) = run(false);
    assert!(ok, "{said}");
    assert!(said.contains("the clock is not synchronised (NTP)"), "at start: {said}");
    // ada arrives, and leaves at the end: two events, two warnings.
    assert_eq!(said.matches("logged while the clock is not synchronised").count(), 2, "{said}");
    let (ok, said) = run(true);
    assert!(!ok && said.contains("FAIL  clock") && said.contains("timedatectl set-ntp true"), "{said}");

    answer("yes");
    let (ok, said) = run(false);
    assert!(ok && !said.contains("not synchronised"), "{said}");
    let (ok, said) = run(true);
    assert!(ok && said.contains("ok    clock        synchronised"), "{said}");
}
