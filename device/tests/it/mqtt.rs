//! MQTT against a real broker: Debian's `mosquitto`, started here on a free
//! loopback port, and a real subscriber checking topics, payloads, retained
//! flags and the last will, through a broker restart in the middle of a
//! run. Fake engine, committed tiny gallery: about fifteen seconds.
//!
//! Needs `mosquitto` (`scripts/test` installs it).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rollcall_testkit::{synthetic, tiny_gallery};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// A mosquitto on 127.0.0.1, stopped when dropped.
struct Broker {
    child: Child,
    port: u16,
    conf: PathBuf,
}

impl Broker {
    fn start(dir: &Path) -> Broker {
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")).expect("conf");
        Broker::on(port, conf)
    }

    fn on(port: u16, conf: PathBuf) -> Broker {
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto (scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker { child, port, conf }
    }

    /// Stops the broker and starts a new one on the same port.
    fn restart(&mut self) {
        self.stop();
        std::thread::sleep(Duration::from_millis(500));
        *self = Broker::on(self.port, self.conf.clone());
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn mosquitto() -> &'static str {
    if Path::new("/usr/sbin/mosquitto").exists() { "/usr/sbin/mosquitto" } else { "mosquitto" }
}

/// Recorded (as a topic no broker uses) when a subscription is granted.
const SUBSCRIBED: &str = "(subscribed)";

/// One message as a subscriber saw it.
#[derive(Debug, Clone)]
struct Seen {
    topic: String,
    payload: String,
    retain: bool,
}

/// A subscriber to `filter` that (re)subscribes on every connection and
/// records every message.
struct Subscriber {
    seen: Arc<Mutex<Vec<Seen>>>,
    client: Client,
}

impl Subscriber {
    fn new(port: u16, id: &str, filter: &str) -> Subscriber {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(opts, 100);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s2, c2, filter) = (seen.clone(), client.clone(), filter.to_string());
        std::thread::spawn(move || {
            for n in connection.iter() {
                match n {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = c2.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        s2.lock().expect("lock").push(Seen { topic: SUBSCRIBED.into(), payload: String::new(), retain: false })
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => s2.lock().expect("lock").push(Seen {
                        topic: p.topic.clone(),
                        payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        retain: p.retain,
                    }),
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        let sub = Subscriber { seen, client };
        // Events are not retained: the subscription must be in place
        // before anything is published.
        sub.wait_for("the subscription", |s| s.topic == SUBSCRIBED);
        sub
    }

    fn all(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Waits until a message satisfies `want`.
    fn wait_for(&self, what: &str, want: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.all().into_iter().find(|s| want(s)) {
                return s;
            }
            assert!(Instant::now() < deadline, "never saw {what}; saw {:#?}", self.all());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
    }
}

fn stills(dir: &Path, frames: usize) -> PathBuf {
    let d = dir.join("stills");
    for n in 0..frames {
        synthetic::photo(&d.join(format!("{n:03}.png")), &[(101, 1)]);
    }
    d
}

fn device(port: u16, stills: &Path, fps: &str) -> Command {
    device_for(port, stills, fps, "school/door1")
}

/// The device publishing under `prefix` (galleries unsigned on purpose:
/// `doctor` would fail them otherwise).
fn device_for(port: u16, stills: &Path, fps: &str, prefix: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rollcall-device"));
    c.env("ROLLCALL_ENGINE", "fake")
        .env("ROLLCALL_LOG", "warn")
        .arg("--gallery")
        .arg(tiny_gallery())
        .arg("--allow-unsigned")
        .arg("--source")
        .arg(format!("dir:{}", stills.display()))
        .args(["--heartbeat-secs", "0", "--fps", fps, "--mqtt-discovery", "--mqtt"])
        .arg(format!("mqtt://127.0.0.1:{port}/{prefix}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Two doors, `school/door-1` and `school/door_1`, had one client id
/// (`rollcall-school_door_1`): the broker threw each off when the other
/// connected (20 take-overs in 10 s), both doors' status flapped, and Home
/// Assistant saw one device for two classrooms. With ids one-to-one in the
/// exact prefix, both stay connected through a run side by side.
#[test]
fn regression_two_doors_whose_prefixes_fold_alike_threw_each_other_off_the_broker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Broker::start(dir.path());
    let live = Subscriber::new(broker.port, "live", "#");
    let stills = stills(dir.path(), 40);
    let doors = ["school/door-1", "school/door_1"];
    let runs: Vec<_> = doors.iter().map(|p| device_for(broker.port, &stills, "20", p).spawn().expect("start")).collect();
    for run in runs {
        let out = run.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // A door thrown off the broker says so, and reconnects.
        assert!(!stderr.contains("retrying"), "{stderr}");
    }
    let statuses =
        |door: &str| live.all().iter().filter(|s| s.topic == format!("{door}/status")).map(|s| s.payload.clone()).collect::<Vec<_>>();
    for door in doors {
        live.wait_for("arrived ada", |s| s.topic == format!("{door}/events") && s.payload.contains("arrived"));
        live.wait_for("offline at the end", |s| s.topic == format!("{door}/status") && s.payload == "offline");
        // online once, offline once: no flapping.
        let seen = statuses(door);
        assert_eq!(seen.iter().filter(|p| *p == "online").count(), 1, "{door}: {seen:?}");
    }
    let devices: std::collections::BTreeSet<String> = live
        .all()
        .iter()
        .filter(|s| s.topic.starts_with("homeassistant/") && !s.payload.is_empty())
        .filter_map(|s| serde_json::from_str::<serde_json::Value>(&s.payload).ok())
        .map(|c| c["device"]["identifiers"][0].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(devices.len(), 2, "one Home Assistant device per door: {devices:?}");
}

fn is_event(s: &Seen, event: &str, label: &str) -> bool {
    s.topic == "school/door1/events"
        && serde_json::from_str::<serde_json::Value>(&s.payload).is_ok_and(|e| e["event"] == event && e["label"] == label)
}

#[test]
fn events_presence_and_status_reach_a_real_broker_through_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut broker = Broker::start(dir.path());
    let live = Subscriber::new(broker.port, "live", "school/door1/#");

    // Ada in view for four seconds.
    let run = device(broker.port, &stills(dir.path(), 80), "20").spawn().expect("start rollcall-device");
    live.wait_for("arrived ada", |s| is_event(s, "arrived", "ada"));
    live.wait_for("ada present", |s| s.topic == "school/door1/presence/ada" && s.payload == "present");
    let onlines = || live.all().iter().filter(|s| s.topic == "school/door1/status" && s.payload == "online").count();
    let before = onlines();
    assert!(before >= 1);

    // The broker goes away and comes back (without persistence: it forgot
    // every retained message). Recognition goes on; the device reconnects,
    // says it is online and republishes what is retained.
    broker.restart();
    live.wait_for("online again", |_| onlines() > before);
    let out = run.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(r#""event":"arrived","label":"ada""#) && stdout.contains(r#""event":"left","label":"ada""#), "{stdout}");
    assert!(stderr.contains("retrying"), "the device noticed the broker go: {stderr}");
    live.wait_for("left ada", |s| is_event(s, "left", "ada"));
    live.wait_for("ada absent", |s| s.topic == "school/door1/presence/ada" && s.payload == "absent");
    live.wait_for("offline at the end", |s| s.topic == "school/door1/status" && s.payload == "offline");

    // A newcomer sees what the broker retained, flagged as retained.
    let late = Subscriber::new(broker.port, "late", "#");
    let retained = |topic: &str| late.wait_for(topic, |s| s.topic == topic);
    for (topic, payload) in
        [("school/door1/status", "offline"), ("school/door1/presence/ada", "absent"), ("school/door1/presence/ben", "absent")]
    {
        let s = retained(topic);
        assert!(s.retain && s.payload == payload, "{s:?}");
    }
    let config = late.wait_for("ada's discovery config", |s| {
        s.topic.starts_with("homeassistant/binary_sensor/rollcall_school_door1_ada_") && s.topic.ends_with("/config")
    });
    assert!(config.retain, "{config:?}");
    let config: serde_json::Value = serde_json::from_str(&config.payload).expect("json");
    assert_eq!(config["state_topic"], "school/door1/presence/ada");
    assert_eq!(config["availability_topic"], "school/door1/status");
    assert_eq!(config["device_class"], "presence");
    // Home Assistant as it is today: `object_id` (deprecated in 2025.10,
    // no longer honoured by Core 2026.4) is gone; `default_entity_id` names
    // the entity, domain included, as the unique id does.
    assert!(config.get("object_id").is_none(), "{config}");
    let unique = config["unique_id"].as_str().expect("a unique id");
    assert_eq!(config["default_entity_id"], format!("binary_sensor.{unique}"));
    let events: Vec<Seen> = late.all().into_iter().filter(|s| s.topic == "school/door1/events").collect();
    assert!(events.is_empty(), "events are not retained: {events:?}");
}

#[test]
fn the_last_will_says_offline_when_the_device_dies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Broker::start(dir.path());
    let live = Subscriber::new(broker.port, "live", "school/door1/status");
    let mut run = device(broker.port, &stills(dir.path(), 50), "5").spawn().expect("start rollcall-device");
    live.wait_for("online", |s| s.payload == "online");
    // No goodbye: the process is killed, so only the broker can tell.
    run.kill().expect("kill");
    let _ = run.wait();
    live.wait_for("the last will", |s| s.payload == "offline");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A school's own certificate authority, a broker certificate for
/// 127.0.0.1 and a client certificate, all signed by it.
fn school_pki(dir: &Path) {
    openssl(
        dir,
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=school CA", "-keyout", "ca.key", "-out", "ca.crt"],
    );
    for (name, ext) in [("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        std::fs::write(dir.join(format!("{name}.ext")), format!("{ext}\n")).expect("ext");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.crt"),
            ],
        );
    }
}

/// `mqtts://` to a school's own broker: its CA from `ca_file`, and a client
/// certificate the broker requires. Events arrive over TLS.
#[test]
fn mqtts_reaches_a_broker_signed_by_the_schools_own_ca_with_a_client_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    school_pki(d);
    let (plain, tls) = (free_port(), free_port());
    let conf = d.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "user {1}\nallow_anonymous true\npersistence false\nlistener {plain} 127.0.0.1\nlistener {tls} 127.0.0.1\n\
             cafile {0}/ca.crt\ncertfile {0}/server.crt\nkeyfile {0}/server.key\nrequire_certificate true\n",
            d.display(),
            // Started as root, mosquitto would become `mosquitto`, who
            // cannot read this user's private key.
            String::from_utf8_lossy(&Command::new("id").arg("-un").output().expect("id").stdout).trim()
        ),
    )
    .expect("conf");
    let _broker = Broker::on(tls, conf);
    let live = Subscriber::new(plain, "live", "school/door1/#");
    let settings = d.join("device.toml");
    std::fs::write(
        &settings,
        format!(
            "allow_unsigned = true\n[mqtt]\nurl = \"mqtts://127.0.0.1:{tls}/school/door1\"\nca_file = \"{0}/ca.crt\"\n\
             client_cert = \"{0}/client.crt\"\nclient_key = \"{0}/client.key\"\n",
            d.display()
        ),
    )
    .expect("device.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_ENGINE", "fake")
        .env("ROLLCALL_LOG", "warn")
        .arg("--config")
        .arg(&settings)
        .arg("--gallery")
        .arg(tiny_gallery())
        .arg("--source")
        .arg(format!("dir:{}", stills(d, 20).display()))
        .args(["--heartbeat-secs", "0", "--fps", "20"])
        .output()
        .expect("run rollcall-device");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    live.wait_for("arrived ada over TLS", |s| is_event(s, "arrived", "ada"));
    assert!(!stderr.contains("retrying"), "{stderr}");
}

/// A password sent over plain `mqtt://` is warned about, and never shown.
#[test]
fn a_password_over_plain_mqtt_is_warned_about_and_never_printed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let broker = Broker::start(d);
    std::fs::write(d.join("password"), "s3cret-pw\n").expect("password");
    let settings = d.join("device.toml");
    std::fs::write(
        &settings,
        format!(
            "allow_unsigned = true\n[mqtt]\nurl = \"mqtt://127.0.0.1:{}/school/door1\"\nuser = \"door\"\npassword_file = \"{}/password\"\n",
            broker.port,
            d.display()
        ),
    )
    .expect("device.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_ENGINE", "fake")
        .env("ROLLCALL_LOG", "debug")
        .arg("--config")
        .arg(&settings)
        .arg("--gallery")
        .arg(tiny_gallery())
        .arg("--source")
        .arg(format!("dir:{}", stills(d, 3).display()))
        .args(["--heartbeat-secs", "0"])
        .output()
        .expect("run rollcall-device");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    assert!(all.contains("clear text"), "{all}");
    assert!(!all.contains("s3cret-pw"), "the password was printed: {all}");
    // In the URL, it is refused without being echoed.
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_ENGINE", "fake")
        .args(["--gallery", &tiny_gallery().to_string_lossy(), "--source", "dir:/nonexistent", "--mqtt"])
        .arg(format!("mqtt://door:s3cret-pw@127.0.0.1:{}/school/door1", broker.port))
        .output()
        .expect("run rollcall-device");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("password_file") && !stderr.contains("s3cret-pw"), "{stderr}");
}

/// `rollcall-device doctor` connects as the device would: a running broker
/// passes, a stopped one fails the check and the command, with the fix.
#[test]
fn doctor_passes_a_running_broker_and_fails_a_stopped_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stills = stills(dir.path(), 1);
    let mut broker = Broker::start(dir.path());
    let out = device(broker.port, &stills, "1").arg("doctor").output().expect("doctor");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains(&format!("ok    MQTT broker  127.0.0.1:{} accepted a connection", broker.port)), "{said}");
    broker.stop();
    let out = device(broker.port, &stills, "1").arg("doctor").output().expect("doctor");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("FAIL  MQTT broker") && said.contains("check that the broker runs"), "{said}");
}
