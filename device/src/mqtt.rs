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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rumqttc::{Client, Event as MqttEvent, LastWill, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

use crate::events::{Event, Kind};
use crate::sinks::Sink;

/// Where and how to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttSettings {
    /// `mqtts://` (TLS) or `mqtt://`.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Topic prefix, e.g. `rollcall/door1`.
    pub prefix: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Home Assistant discovery prefix, when discovery is on.
    pub discovery: Option<String>,
    /// Messages queued while the broker is away.
    pub queue: usize,
}

/// Messages queued by default while the broker is away: a morning of
/// arrivals at a classroom door.
pub const DEFAULT_QUEUE: usize = 1000;

impl MqttSettings {
    /// Parses `mqtt://HOST[:PORT]/PREFIX` or `mqtts://...` (default ports
    /// 1883 and 8883).
    pub fn parse_url(url: &str) -> Result<MqttSettings> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            bail!("`{url}`: an MQTT URL starts with mqtt:// or mqtts://");
        };
        let (hostport, prefix) = rest.split_once('/').with_context(|| format!("`{url}`: no topic prefix (mqtt://HOST[:PORT]/PREFIX)"))?;
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() || prefix.contains(['+', '#']) || prefix.chars().any(char::is_control) {
            bail!("`{url}`: the topic prefix must be non-empty, without + # or control characters");
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().with_context(|| format!("`{url}`: port `{p}` is not a number"))?),
            None => (hostport, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            bail!("`{url}`: no host");
        }
        Ok(MqttSettings {
            tls,
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
            user: None,
            password: None,
            discovery: None,
            queue: DEFAULT_QUEUE,
        })
    }
}

/// A label as one topic level: `/`, `+`, `#` and control characters become
/// `_` (they would split the level or be wildcards).
pub fn topic_level(label: &str) -> String {
    label.chars().map(|c| if matches!(c, '/' | '+' | '#') || c.is_control() { '_' } else { c }).collect()
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
        let id = format!("rollcall-{}", topic_level(&settings.prefix).replace('/', "_"));
        let mut opts = MqttOptions::new(id, settings.host.clone(), settings.port);
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_last_will(LastWill::new(status_topic(&settings), "offline", QoS::AtLeastOnce, true));
        if let Some(user) = &settings.user {
            opts.set_credentials(user.clone(), settings.password.clone().unwrap_or_default());
        }
        if settings.tls {
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls_config()?))));
        }
        let (client, mut connection) = Client::new(opts, settings.queue.max(1));
        let retained = Arc::new(Mutex::new(Retained::default()));
        let closing = Arc::new(AtomicBool::new(false));
        let (c2, s2, r2, closing2) = (client.clone(), settings.clone(), retained.clone(), closing.clone());
        let driver = std::thread::Builder::new().name("mqtt".into()).spawn(move || {
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
        })?;
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

fn unique_id(s: &MqttSettings, label: &str) -> String {
    let clean = |t: &str| t.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect::<String>();
    format!("rollcall_{}_{}", clean(&s.prefix), clean(label))
}

/// Home Assistant's MQTT discovery config for one person.
fn discovery_config(s: &MqttSettings, label: &str) -> serde_json::Value {
    serde_json::json!({
        "name": label,
        "unique_id": unique_id(s, label),
        "object_id": unique_id(s, label),
        "device_class": "presence",
        "state_topic": presence_topic(s, label),
        "payload_on": "present",
        "payload_off": "absent",
        "availability_topic": status_topic(s),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [format!("rollcall_{}", unique_id(s, ""))],
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

/// A TLS client config with the system's root certificates.
fn tls_config() -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        bail!("mqtts://: no root certificates found on this system");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Sink for Mqtt {
    fn emit(&mut self, e: &Event) -> Result<()> {
        self.publish(format!("{}/events", self.settings.prefix), false, e.json().into_bytes());
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

    #[test]
    fn labels_become_single_topic_levels() {
        assert_eq!(topic_level("Zoë/+#"), "Zoë___");
        let s = MqttSettings::parse_url("mqtt://h/School Door").expect("url");
        assert_eq!(unique_id(&s, "Zoë Li"), "rollcall_school_door_zo__li");
        let config = discovery_config(&s, "Robin");
        assert_eq!(config["state_topic"], "School Door/presence/Robin");
        assert_eq!(config["availability_topic"], "School Door/status");
        assert_eq!(config["device_class"], "presence");
    }
}
