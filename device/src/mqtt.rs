//! MQTT, the way home-automation systems listen: events as JSON on
//! `PREFIX/events`, each person's presence retained on
//! `PREFIX/presence/<label>` (`present` / `absent`), the device's
//! availability retained on `PREFIX/status` (`online`, and `offline` as the
//! last will, which the broker sends if the device vanishes), and, if asked,
//! Home Assistant discovery: a `binary_sensor` of class `presence` per
//! person, as Frigate and Home Assistant users expect.
//!
//! Recognition never waits for the broker. Publishing only queues a message
//! in the client's bounded channel ([`MqttSettings::queue`] messages); a
//! background thread drives the connection, reconnects with exponential
//! backoff (0.5 s doubling to 30 s) when the broker goes away, and on every
//! (re)connection publishes `online`, the discovery configs and every
//! person's current presence again, so a broker restarted without
//! persistence is whole again. When the queue is full, new messages are
//! dropped and counted, and a warning says how many.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{Client, Event as MqttEvent, LastWill, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};
use crate::events::{Event, Kind, json};
use crate::sinks::Sink;

/// Where and how to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttSettings {
    /// `mqtts://` (TLS) or `mqtt://`.
    pub tls: bool,
    /// The broker's host name or address.
    pub host: String,
    /// The broker's port.
    pub port: u16,
    /// Topic prefix, e.g. `rollcall/door1`.
    pub prefix: String,
    /// The user name, when the broker asks for one.
    pub user: Option<String>,
    /// The password, from a file or the environment, never a flag.
    pub password: Option<Secret>,
    /// Home Assistant discovery prefix, when discovery is on.
    pub discovery: Option<String>,
    /// Messages queued while the broker is away.
    pub queue: usize,
    /// A certificate authority to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key.
    pub client_auth: Option<(PathBuf, PathBuf)>,
}

/// A password: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Messages queued by default while the broker is away: a morning of
/// arrivals at a classroom door.
pub const DEFAULT_QUEUE: usize = 1000;

impl MqttSettings {
    /// Parses `mqtt://[USER@]HOST[:PORT]/PREFIX` or `mqtts://...` (default
    /// ports 1883 and 8883; the scheme in any case). A password in the URL
    /// is refused: a command line is visible to every local user, and the
    /// URL reaches log lines. No error names the password: the user part is
    /// taken apart first, and URLs are shown as [`redact`] shows them.
    pub fn parse_url(url: &str) -> Result<MqttSettings> {
        let shown = redact(url);
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(Error::mqtt(format!("`{shown}`: an MQTT URL starts with mqtt:// or mqtts://")));
        };
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtts" => true,
            "mqtt" => false,
            _ => return Err(Error::mqtt(format!("`{shown}`: an MQTT URL starts with mqtt:// or mqtts://"))),
        };
        let password = || {
            Error::mqtt(
                "the MQTT URL holds a password, which every local user can read in the process list: \
                 put it in `password_file` (or `password_env`) under [mqtt] in the settings file",
            )
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((info, _)) if info.contains(':') => return Err(password()),
            Some((user, hostport)) => (Some(user.to_string()), hostport),
            // `u:se/cret@host/p`: a password with a `/` in it, which
            // ended the authority early (`u:se` is no HOST:PORT).
            None if prefix.contains('@') && authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_err()) => {
                return Err(password());
            }
            None => (None, authority),
        };
        // From here on the URL is named without its user part; and where an
        // `@` is left (`mqtt:///u:secret@x`: a user part after a slash),
        // without anything before it.
        let scheme = if tls { "mqtts" } else { "mqtt" };
        let named = format!("{hostport}/{prefix}");
        let url = &match named.rsplit_once('@') {
            Some((_, after)) => format!("{scheme}://***@{after}"),
            None => format!("{scheme}://{named}"),
        };
        if prefix.is_empty() {
            return Err(Error::mqtt(format!("`{url}`: no topic prefix (mqtt://HOST[:PORT]/PREFIX)")));
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() || prefix.contains(['+', '#']) || prefix.chars().any(char::is_control) {
            return Err(Error::mqtt(format!("`{url}`: the topic prefix must be non-empty, without + # or control characters")));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| Error::mqtt(format!("`{url}`: port `{p}` is not a number")))?),
            None => (hostport, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            return Err(Error::mqtt(format!("`{url}`: no host")));
        }
        Ok(MqttSettings {
            tls,
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
            user: user.filter(|u| !u.is_empty()),
            password: None,
            discovery: None,
            queue: DEFAULT_QUEUE,
            ca_file: None,
            client_auth: None,
        })
    }
}

/// `url` as it may be shown: a password in it becomes `***`
/// (`mqtt://u:***@host/p`). The user part ends at the last `@`, and the
/// password at its first `:`, so a password holding `/` or `@` is hidden
/// whole (a prefix holding `@` may be hidden too: better too much than the
/// password).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    match rest.rsplit_once('@') {
        Some((info, after)) if info.contains(':') => {
            let user = info.split_once(':').map_or(info, |(u, _)| u);
            format!("{scheme}{user}:***@{after}")
        }
        _ => url.to_string(),
    }
}

/// A label as one topic level, one-to-one: `/`, `+`, `#` (which would split
/// the level or be wildcards), control characters and `%` itself are
/// percent-encoded, so two labels never share a topic (`a+b` is `a%2Bb`,
/// `a_b` stays `a_b`).
pub fn topic_level(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        if matches!(c, '/' | '+' | '#' | '%') || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What is republished on every connection.
#[derive(Debug, Default)]
struct Retained {
    /// Presence by label.
    presence: BTreeMap<String, bool>,
    /// Gallery labels, for discovery.
    labels: Vec<String>,
}

/// The MQTT sink.
pub struct Mqtt {
    client: Client,
    settings: MqttSettings,
    retained: Arc<Mutex<Retained>>,
    closing: Arc<AtomicBool>,
    driver: Option<std::thread::JoinHandle<()>>,
    dropped: u64,
}

impl Mqtt {
    /// Starts the client; the connection is made in the background, so a
    /// broker that is down at start does not stop the device either.
    pub fn start(settings: MqttSettings) -> Result<Mqtt> {
        let mut opts = options(&settings, client_id(&settings.prefix))?;
        opts.set_last_will(LastWill::new(status_topic(&settings), "offline", QoS::AtLeastOnce, true));
        if !settings.tls && settings.password.is_some() {
            tracing::warn!(
                "MQTT: the password goes to {}:{} in clear text over mqtt://; use mqtts:// (a ca_file for a school's own broker)",
                settings.host,
                settings.port
            );
        }
        let (client, mut connection) = Client::new(opts, settings.queue.max(1));
        let retained = Arc::new(Mutex::new(Retained::default()));
        let closing = Arc::new(AtomicBool::new(false));
        let (c2, s2, r2, closing2) = (client.clone(), settings.clone(), retained.clone(), closing.clone());
        let driver = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || {
                let mut backoff = Duration::from_millis(500);
                for notification in connection.iter() {
                    match notification {
                        Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                            backoff = Duration::from_millis(500);
                            tracing::info!("MQTT connected to {}:{}", s2.host, s2.port);
                            republish(&c2, &s2, &r2);
                        }
                        Ok(MqttEvent::Outgoing(rumqttc::Outgoing::Disconnect)) if closing2.load(Ordering::SeqCst) => break,
                        Ok(_) => {}
                        Err(e) => {
                            if closing2.load(Ordering::SeqCst) {
                                break;
                            }
                            tracing::warn!("MQTT {}:{}: {e}; retrying in {:.1} s", s2.host, s2.port, backoff.as_secs_f64());
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_secs(30));
                        }
                    }
                }
            })
            .map_err(|e| Error::Mqtt { what: "cannot start the MQTT thread".into(), source: Some(e.into()) })?;
        Ok(Mqtt { client, settings, retained, closing, driver: Some(driver), dropped: 0 })
    }

    fn publish(&mut self, topic: String, retain: bool, payload: Vec<u8>) {
        if let Err(e) = self.client.try_publish(topic, QoS::AtLeastOnce, retain, payload) {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::warn!("MQTT queue full ({} messages): {} dropped so far ({e})", self.settings.queue, self.dropped);
            }
        }
    }
}

fn status_topic(s: &MqttSettings) -> String {
    format!("{}/status", s.prefix)
}

fn presence_topic(s: &MqttSettings, label: &str) -> String {
    format!("{}/presence/{}", s.prefix, topic_level(label))
}

fn discovery_topic(s: &MqttSettings, discovery: &str, label: &str) -> String {
    format!("{discovery}/binary_sensor/{}/config", unique_id(s, label))
}

/// Letters and digits of `t`, lower case, the rest `_`: readable, but many
/// texts share one (`李雷` and `王芳` are both `__`).
fn ascii_id(t: &str) -> String {
    t.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// The readable part of an id made from the prefix, at most this long.
const READABLE: usize = 24;

/// The prefix as an id: its readable folding (cut to [`READABLE`]) and the
/// first 64 bits of the sha256 of its exact bytes, so that two prefixes
/// that fold alike (`school/door-1`, `school/door_1`) keep their own ids.
fn prefix_id(prefix: &str, sep: char) -> String {
    let mut readable = ascii_id(prefix);
    readable.truncate(READABLE);
    let hash = rollcall_shared::digest::sha256(prefix.as_bytes());
    format!("rollcall{sep}{readable}{sep}{}", rollcall_shared::digest::hex(&hash[..8]))
}

/// The device's MQTT client id, one-to-one with the exact prefix (two
/// doors with one id throw each other off the broker in turn): at most 9 +
/// 24 + 1 + 16 = 50 bytes of `[0-9a-z_-]`. That is above the 23 bytes an
/// MQTT 3.1.1 broker must accept, and within what mosquitto, EMQX, HiveMQ
/// and every broker Home Assistant users run accept; a broker that takes
/// 23 only answers "identifier rejected", which `doctor` shows.
fn client_id(prefix: &str) -> String {
    prefix_id(prefix, '-')
}

/// Home Assistant's id of a person's sensor: readable, and unique by a
/// short hash of the prefix and the exact label (the readable part alone
/// made `李雷` and `王芳` one sensor).
fn unique_id(s: &MqttSettings, label: &str) -> String {
    let mut text = s.prefix.as_bytes().to_vec();
    text.push(0);
    text.extend_from_slice(label.as_bytes());
    let hash = rollcall_shared::digest::sha256(&text);
    format!("rollcall_{}_{}_{}", ascii_id(&s.prefix), ascii_id(label), rollcall_shared::digest::hex(&hash[..6]))
}

/// Home Assistant's MQTT discovery config for one person.
fn discovery_config(s: &MqttSettings, label: &str) -> serde_json::Value {
    serde_json::json!({
        "name": label,
        "unique_id": unique_id(s, label),
        // The entity id to give the sensor: Home Assistant deprecated
        // `object_id` in 2025.10 and stopped honouring it in Core 2026.4;
        // `default_entity_id` is the full id, domain included.
        "default_entity_id": format!("binary_sensor.{}", unique_id(s, label)),
        "device_class": "presence",
        "state_topic": presence_topic(s, label),
        "payload_on": "present",
        "payload_off": "absent",
        "availability_topic": status_topic(s),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [prefix_id(&s.prefix, '_')],
            "name": format!("rollcall {}", s.prefix),
            "manufacturer": "rollcall",
        },
    })
}

/// Everything retained, again: after a (re)connection.
fn republish(client: &Client, s: &MqttSettings, retained: &Mutex<Retained>) {
    let r = retained.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = vec![(status_topic(s), b"online".to_vec())];
    if let Some(d) = &s.discovery {
        out.extend(r.labels.iter().map(|l| (discovery_topic(s, d, l), discovery_config(s, l).to_string().into_bytes())));
    }
    for label in &r.labels {
        let on = r.presence.get(label).copied().unwrap_or(false);
        out.push((presence_topic(s, label), if on { b"present".to_vec() } else { b"absent".to_vec() }));
    }
    for (topic, payload) in out {
        let _ = client.try_publish(topic, QoS::AtLeastOnce, true, payload);
    }
}

fn pem_bytes(path: &std::path::Path, what: &'static str) -> Result<Vec<u8>> {
    rollcall_shared::regular::read(path, rollcall_shared::regular::cap::SMALL_TEXT, what)
        .map_err(|source| Error::Read { path: path.to_path_buf(), source })
}

fn certificates(path: &std::path::Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = pem_bytes(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes).collect::<std::result::Result<Vec<_>, _>>().map_err(|e| Error::Content {
        path: path.to_path_buf(),
        what: format!("not a PEM {what}"),
        source: Some(e.into()),
    })?;
    if certs.is_empty() {
        return Err(Error::Content { path: path.to_path_buf(), what: "no certificate in it".into(), source: None });
    }
    Ok(certs)
}

/// A TLS client config: the system's root certificates, or only the
/// `ca_file`'s; a client certificate when given.
/// The connection options: address, keep-alive, credentials, TLS.
fn options(settings: &MqttSettings, id: String) -> Result<MqttOptions> {
    let mut opts = MqttOptions::new(id, settings.host.clone(), settings.port);
    opts.set_keep_alive(Duration::from_secs(5));
    if let Some(user) = &settings.user {
        opts.set_credentials(user.clone(), settings.password.clone().map(|p| p.0).unwrap_or_default());
    }
    if settings.tls {
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls_config(settings)?))));
    }
    Ok(opts)
}

/// Connects once, as the device would (TLS, credentials), and waits up to
/// `timeout` for the broker to accept; then disconnects. Under its own
/// client id, so that a running device is not thrown off the broker.
pub fn probe(settings: &MqttSettings, timeout: Duration) -> Result<()> {
    let id = format!("{}-doctor-{}", client_id(&settings.prefix), std::process::id());
    let (client, mut connection) = Client::new(options(settings, id)?, 10);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match connection.recv_timeout(left) {
            Ok(Ok(MqttEvent::Incoming(Packet::ConnAck(ack)))) => {
                let _ = client.disconnect();
                return if ack.code == rumqttc::ConnectReturnCode::Success {
                    Ok(())
                } else {
                    Err(Error::mqtt(format!("{}:{} refused the connection: {:?}", settings.host, settings.port, ack.code)))
                };
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(Error::Mqtt { what: format!("{}:{}", settings.host, settings.port), source: Some(e.into()) }),
            Err(_) => {
                return Err(Error::mqtt(format!("{}:{}: no answer within {} s", settings.host, settings.port, timeout.as_secs())));
            }
        }
    }
}

fn tls_config(s: &MqttSettings) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match &s.ca_file {
        Some(ca) => {
            for cert in certificates(ca, "CA certificate")? {
                roots.add(cert).map_err(|e| Error::Content {
                    path: ca.clone(),
                    what: "not a usable CA certificate".into(),
                    source: Some(e.into()),
                })?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(Error::mqtt("mqtts://: no root certificates found on this system; set `ca_file` under [mqtt]"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Mqtt { what: "TLS setup".into(), source: Some(e.into()) })?
        .with_root_certificates(roots);
    Ok(match &s.client_auth {
        Some((cert, key)) => {
            let chain = certificates(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(&pem_bytes(key, "client key")?).map_err(|e| Error::Content {
                path: key.clone(),
                what: "not a PEM private key".into(),
                source: Some(e.into()),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Mqtt { what: "the client certificate and key do not go together".into(), source: Some(e.into()) })?
        }
        None => builder.with_no_client_auth(),
    })
}

impl Sink for Mqtt {
    fn emit(&mut self, e: &Event) -> Result<()> {
        self.publish(format!("{}/events", self.settings.prefix), false, json(e).into_bytes());
        if let (Kind::Arrived | Kind::Left, Some(label)) = (e.event, &e.label) {
            let here = e.event == Kind::Arrived;
            self.retained.lock().unwrap_or_else(|p| p.into_inner()).presence.insert(label.clone(), here);
            let payload = if here { b"present".to_vec() } else { b"absent".to_vec() };
            self.publish(presence_topic(&self.settings, label), true, payload);
        }
        Ok(())
    }

    fn gallery(&mut self, labels: &[String]) {
        let mut all: Vec<String> = labels.to_vec();
        all.push("unknown".into());
        let old = std::mem::replace(&mut self.retained.lock().unwrap_or_else(|p| p.into_inner()).labels, all.clone());
        let s = self.settings.clone();
        for gone in old.iter().filter(|l| !all.contains(l)) {
            // An empty retained message removes what the broker keeps.
            self.publish(presence_topic(&s, gone), true, Vec::new());
            if let Some(d) = &s.discovery {
                self.publish(discovery_topic(&s, d, gone), true, Vec::new());
            }
        }
        let present = self.retained.lock().unwrap_or_else(|p| p.into_inner()).presence.clone();
        for label in &all {
            if let Some(d) = &s.discovery {
                self.publish(discovery_topic(&s, d, label), true, discovery_config(&s, label).to_string().into_bytes());
            }
            let on = present.get(label).copied().unwrap_or(false);
            self.publish(presence_topic(&s, label), true, if on { b"present".to_vec() } else { b"absent".to_vec() });
        }
    }

    fn close(&mut self) {
        if self.driver.is_none() {
            return;
        }
        self.publish(status_topic(&self.settings), true, b"offline".to_vec());
        self.closing.store(true, Ordering::SeqCst);
        let _ = self.client.try_disconnect();
        if let Some(driver) = self.driver.take() {
            // The queued messages go out before the disconnect; give them
            // a few seconds, but never hang the device's exit on a broker.
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while !driver.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Mqtt {
    /// A run that ends in an error still says `offline` (the last will
    /// covers a crash).
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_ports_and_bad_ones_are_named() {
        let s = MqttSettings::parse_url("mqtt://broker.local/rollcall/door1").expect("url");
        assert_eq!((s.tls, s.host.as_str(), s.port, s.prefix.as_str()), (false, "broker.local", 1883, "rollcall/door1"));
        let s = MqttSettings::parse_url("mqtts://10.0.0.2:9000/r/").expect("url");
        assert_eq!((s.tls, s.port, s.prefix.as_str()), (true, 9000, "r"));
        for bad in ["http://x/y", "mqtt://host", "mqtt://host/", "mqtt://host:port/p", "mqtt://:1883/p", "mqtt://h/a/#"] {
            assert!(MqttSettings::parse_url(bad).is_err(), "{bad}");
        }
    }

    /// A password in the URL was taken as part of the host name
    /// (`mqtt://user:secret@host/p` made host `user:secret@host`) and
    /// printed in every reconnect warning.
    #[test]
    fn regression_a_password_in_the_mqtt_url_was_logged() {
        let e = MqttSettings::parse_url("mqtt://ada:s3cret@broker.local:1884/door").expect_err("refused");
        assert!(!format!("{e:#}").contains("s3cret") && format!("{e:#}").contains("password_file"), "{e:#}");
        let s = MqttSettings::parse_url("mqtt://ada@broker.local:1884/door").expect("a user alone");
        assert_eq!((s.user.as_deref(), s.host.as_str(), s.port), (Some("ada"), "broker.local", 1884));
        let s = MqttSettings { password: Some(Secret("s3cret".into())), ..s };
        assert!(!format!("{s:?}").contains("s3cret"), "Debug never shows it");
    }

    /// People `a+b` and `a_b` shared one presence topic, and `李雷` and
    /// `王芳` one Home Assistant id (`rollcall_rollcall_door1___`), so Home
    /// Assistant showed one sensor for two children.
    #[test]
    fn regression_labels_collided_in_topics_and_discovery_ids() {
        let s = MqttSettings::parse_url("mqtt://h/rollcall/door1").expect("url");
        assert_ne!(presence_topic(&s, "a+b"), presence_topic(&s, "a_b"));
        assert_ne!(presence_topic(&s, "a%2Bb"), presence_topic(&s, "a+b"), "% is escaped too: one-to-one");
        assert_ne!(unique_id(&s, "李雷"), unique_id(&s, "王芳"));
        assert_ne!(discovery_topic(&s, "homeassistant", "李雷"), discovery_topic(&s, "homeassistant", "王芳"));
        assert_ne!(unique_id(&s, "a+b"), unique_id(&s, "a_b"));
    }

    /// The client id was `rollcall-` and an ASCII folding of the prefix, so
    /// `school/door-1` and `school/door_1` had one id: the broker logged 20
    /// take-overs in 10 s, both doors' status flapped, and Home Assistant
    /// saw one device (`rollcall_school_door_1`) for two classrooms. Ids now
    /// carry a hash of the exact prefix.
    #[test]
    fn regression_two_doors_whose_prefixes_fold_alike_shared_one_client_id() {
        let prefixes = ["school/door-1", "school/door_1", "school/door 1", "School/Door-1", "李雷/1", "王芳/1"];
        let ids: std::collections::BTreeSet<String> = prefixes.iter().map(|p| client_id(p)).collect();
        assert_eq!(ids.len(), prefixes.len(), "{ids:?}");
        let devices: std::collections::BTreeSet<String> = prefixes.iter().map(|p| prefix_id(p, '_')).collect();
        assert_eq!(devices.len(), prefixes.len(), "{devices:?}");
        for p in prefixes.iter().copied().chain(["a".repeat(300).as_str()]) {
            let id = client_id(p);
            assert!(id.len() <= 50 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
            assert!(id.starts_with("rollcall-"), "{id}");
        }
        assert!(client_id("school/door-1").starts_with("rollcall-school_door_1-"), "readable: {}", client_id("school/door-1"));
        let s = |p: &str| MqttSettings::parse_url(&format!("mqtt://h/{p}")).expect("url");
        assert_ne!(
            discovery_config(&s("school/door-1"), "ada")["device"]["identifiers"],
            discovery_config(&s("school/door_1"), "ada")["device"]["identifiers"]
        );
    }

    /// `mqtt://u:se/cret@host/p` answered "port `se` is not a number" with
    /// the whole URL, password included; so did `MQTT://` and `tcp://`
    /// URLs with a password. The user part is taken apart first.
    #[test]
    fn regression_a_malformed_url_printed_its_password() {
        for url in [
            "mqtt://u:se/cret@host/p",
            "MQTT://u:secret@host/p",
            "Mqtts://u:secret@host:port/p",
            "tcp://u:secret@host/p",
            "mqtt://u:sec@ret@host/p",
            "mqtt:/u:secret@host/p",
            "u:secret@host/p",
        ] {
            let e = MqttSettings::parse_url(url).expect_err(url);
            let text = e.chain();
            assert!(!text.contains("secret") && !text.contains("cret") && !text.contains("ret@"), "{url}: {text}");
        }
        assert_eq!(redact("tcp://u:se/cret@host/p"), "tcp://u:***@host/p");
        assert_eq!(redact("mqtt://host:1883/p"), "mqtt://host:1883/p");
        // The scheme is case-insensitive; `@` may be in a prefix.
        let s = MqttSettings::parse_url("MQTTS://door@host:8884/school/door@1").expect("url");
        assert_eq!(
            (s.tls, s.user.as_deref(), s.host.as_str(), s.port, s.prefix.as_str()),
            (true, Some("door"), "host", 8884, "school/door@1")
        );
        let s = MqttSettings::parse_url("mqtt://host:1883/a@b").expect("an @ in the prefix");
        assert_eq!((s.host.as_str(), s.prefix.as_str(), s.user), ("host", "a@b", None));
    }

    #[test]
    fn labels_become_single_topic_levels() {
        assert_eq!(topic_level("Zoë/+#%"), "Zoë%2F%2B%23%25");
        let s = MqttSettings::parse_url("mqtt://h/School Door").expect("url");
        assert!(unique_id(&s, "Zoë Li").starts_with("rollcall_school_door_zo__li_"), "{}", unique_id(&s, "Zoë Li"));
        let config = discovery_config(&s, "Robin");
        assert_eq!(config["state_topic"], "School Door/presence/Robin");
        assert_eq!(config["availability_topic"], "School Door/status");
        assert_eq!(config["device_class"], "presence");
    }
}
