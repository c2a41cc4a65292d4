//! A replayed school morning: the device replays stills on a simulated
//! clock (`--replay-start`, one frame every ten seconds) into its events
//! log, and `attendance` turns the day's log into the roll call. Fake
//! engine and the committed tiny gallery (ada, ben, cy): no models.

use std::path::Path;

use rollcall_device::settings::{Options, Settings};
use rollcall_host::stages::attendance::{Door, attendance};
use rollcall_testkit::{synthetic, tiny_gallery};

/// Stills: ada alone for 30 frames, nobody for 10, ada and ben for 30.
fn morning(dir: &Path) {
    let n = scene(dir, 0, &[(101, 1)], 30);
    let n = scene(dir, n, &[], 10);
    scene(dir, n, &[(101, 1), (102, 1)], 30);
}

#[test]
fn a_replayed_morning_becomes_the_roll_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (stills, log, out) = (dir.path().join("stills"), dir.path().join("log"), dir.path().join("out"));
    morning(&stills);
    replay_door(&stills, &log, (8, 0));

    // Every event is one synced JSON line in the day's file.
    let day = log.join("2026-11-27.jsonl");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&day).expect("the day's log").lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let tags: Vec<String> =
        lines.iter().map(|e| format!("{} {}", e["event"].as_str().unwrap_or("?"), e["label"].as_str().unwrap_or("?"))).collect();
    assert_eq!(tags, ["arrived ada", "left ada", "arrived ada", "arrived ben", "left ada", "left ben"]);

    // A torn last line, as after a power cut mid-write, is skipped.
    let mut torn = std::fs::read(&day).expect("log");
    torn.extend_from_slice(br#"{"event":"arrived","label":"cy","ts":17"#);
    std::fs::write(&day, torn).expect("tear");

    let labels = vec!["ada".to_string(), "ben".to_string(), "cy".to_string()];
    std::fs::create_dir_all(&out).expect("out");
    let a = attendance(&[Door::parse(&log.display().to_string())], "2026-11-27", &labels, &out).expect("attendance");
    assert_eq!(a.skipped.len(), 1, "the torn line");
    let row = |who: &str| a.rows.iter().find(|r| r.person == who).expect(who).clone();
    // Ada: third frame (08:00:20) to the fifth empty frame (08:05:40), then
    // again from the third frame of the pair (08:07:00) to the end of the
    // replay (70 frames: 08:11:40): 320 s + 280 s.
    let ada = row("ada");
    assert!(ada.present);
    assert_eq!((ada.first_arrival.as_str(), ada.last_departure.as_str(), ada.minutes_present), ("08:00:20", "08:11:40", 10.0));
    let ben = row("ben");
    assert_eq!((ben.first_arrival.as_str(), ben.last_departure.as_str(), ben.minutes_present), ("08:07:00", "08:11:40", 4.7));
    let cy = row("cy");
    assert!(!cy.present && cy.first_arrival.is_empty() && cy.minutes_present == 0.0);

    let csv = std::fs::read_to_string(&a.csv).expect("csv");
    assert_eq!(csv.lines().next(), Some("person,present,first_arrival,first_door,last_departure,last_door,minutes_present"));
    assert!(csv.contains("cy,false,,,,,0.0") && csv.contains("ada,true,08:00:20,log,08:11:40,log,10.0"), "{csv}");
    let html = std::fs::read_to_string(&a.html).expect("html");
    assert!(html.contains("2 of 3 present") && html.contains("<td>cy</td><td>absent</td>"), "{html}");
    // A second run replaces its own files; someone else's file is refused.
    attendance(&[Door::parse(&log.display().to_string())], "2026-11-27", &labels, &out).expect("again");
    std::fs::write(&a.csv, "my own notes\n").expect("user file");
    assert!(attendance(&[Door::parse(&log.display().to_string())], "2026-11-27", &labels, &out).is_err());
    assert_eq!(std::fs::read_to_string(&a.csv).expect("kept"), "my own notes\n");
}

/// `n` stills of `faces` (or nobody) in `dir`, numbered from `from`.
fn scene(dir: &Path, from: usize, faces: &[(u64, u64)], n: usize) -> usize {
    for i in from..from + n {
        let path = dir.join(format!("{i:03}.png"));
        if faces.is_empty() {
            synthetic::empty(&path);
        } else {
            synthetic::photo(&path, faces);
        }
    }
    from + n
}

/// One door's device replaying `stills` from `start` (local time on
/// 2026-11-27), a frame every 10 s, into `log`.
fn replay_door(stills: &Path, log: &Path, start: (u32, u32)) {
    let t0 = chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
        .and_then(|d| d.and_hms_opt(start.0, start.1, 0))
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .expect("a local time");
    let options = Options {
        gallery: Some(tiny_gallery()),
        source: Some(format!("dir:{}", stills.display())),
        heartbeat_secs: Some(0.0),
        fps: Some(0.1),
        replay_start: Some(t0.timestamp() as f64),
        events_log: Some(log.to_path_buf()),
        no_stdout: true,
        models: rollcall_cli::ModelArgs { engine: rollcall_cli::EngineKind::Fake, ..Default::default() },
        ..Options::default()
    };
    let settings = Settings::resolve(&options).expect("settings");
    rollcall_device::run::run(&settings).expect("replay");
}

/// Two doors, one roll: the front door sees ada come in at 08:00 and ben
/// at 08:10; the gym door sees ada at 08:05 (while the front door still
/// sees her: counted once) and both leave through it at 15:00.
#[test]
fn two_doors_make_one_roll_saying_which_door_saw_each_first_and_last() {
    let dir = tempfile::tempdir().expect("temp dir");
    let front = dir.path().join("front");
    let (front_morning, gym_morning, gym_afternoon) = (dir.path().join("f1"), dir.path().join("g1"), dir.path().join("g2"));
    // Front, from 08:00: ada for 10 minutes, nobody, ben for 5 minutes.
    let n = scene(&front_morning, 0, &[(101, 1)], 60);
    let n = scene(&front_morning, n, &[], 10);
    scene(&front_morning, n, &[(102, 1)], 30);
    replay_door(&front_morning, &front, (8, 0));
    // Gym, from 08:05: ada for 10 minutes; from 15:00: both for 2 minutes.
    let gym = dir.path().join("gym-log");
    scene(&gym_morning, 0, &[(101, 2)], 60);
    replay_door(&gym_morning, &gym, (8, 5));
    scene(&gym_afternoon, 0, &[(101, 3), (102, 3)], 12);
    replay_door(&gym_afternoon, &gym, (15, 0));

    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out");
    let labels = vec!["ada".to_string(), "ben".to_string(), "cy".to_string()];
    let doors = [Door::parse(&front.display().to_string()), Door::parse(&format!("gym={}", gym.display()))];
    let a = attendance(&doors, "2026-11-27", &labels, &out).expect("attendance");
    let row = |who: &str| a.rows.iter().find(|r| r.person == who).expect(who).clone();
    let ada = row("ada");
    // Seen from the third frame at each door; the gym's afternoon replay
    // ends after its twelfth frame (15:02:00), where everyone present
    // leaves.
    assert_eq!((ada.first_arrival.as_str(), ada.first_door.as_str()), ("08:00:20", "front"), "{ada:?}");
    assert_eq!((ada.last_departure.as_str(), ada.last_door.as_str()), ("15:02:00", "gym"), "{ada:?}");
    // Front 08:00:20-08:10:40 (the fifth empty frame) and gym
    // 08:05:20-08:15:00 overlap: one span, 880 s, not 620 + 580; then
    // 15:00:20-15:02:00, 100 s.
    assert_eq!(ada.minutes_present, 16.3, "{ada:?}");
    let ben = row("ben");
    // Front 08:12:00-08:16:40 (the end of that replay), gym 15:00:20-15:02:00.
    assert_eq!((ben.first_arrival.as_str(), ben.first_door.as_str()), ("08:12:00", "front"), "{ben:?}");
    assert_eq!((ben.last_departure.as_str(), ben.last_door.as_str(), ben.minutes_present), ("15:02:00", "gym", 6.3), "{ben:?}");
    assert!(!row("cy").present);
    let csv = std::fs::read_to_string(&a.csv).expect("csv");
    assert!(csv.contains("ada,true,08:00:20,front,15:02:00,gym,16.3"), "{csv}");
}
