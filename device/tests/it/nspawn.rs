//! The packaged service under a real systemd: a Debian 12 root
//! (debootstrap, cached in `target/nspawn/bookworm`) booted with
//! `systemd-nspawn -b --keep-unit --register=no`, the amd64 package
//! installed in it with `dpkg -i`, and the service started on a `dir:`
//! source with the fake engine (a drop-in). Checked: READY with its status,
//! events in the day file, the watchdog restarting a SIGSTOPped service,
//! the hardening (a write outside `ReadWritePaths` fails; the gallery's
//! writers cannot reach the rollback state) and an unsigned gallery
//! refused under the packaged settings.
//!
//! Ignored by default: root only, a minute or two (the first run
//! debootstraps for a few minutes more), and the package must be built
//! first: `scripts/package --profile dev`, then
//! `cargo test -p rollcall-device --test it -- --ignored nspawn`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rollcall_shared::signature::SecretKey;
use rollcall_testkit::{synthetic, tiny_gallery};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

fn run(c: &mut Command) -> (bool, String) {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The Debian 12 root, made once.
fn bookworm() -> PathBuf {
    let root = workspace().join("target/nspawn/bookworm");
    if !root.join("usr/lib/systemd/systemd").exists() {
        let tmp = root.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).expect("target/nspawn");
        let (ok, said) = run(Command::new("debootstrap")
            .args(["--variant=minbase", "--include=systemd,systemd-sysv,dbus,adduser", "bookworm"])
            .arg(&tmp)
            .arg("http://deb.debian.org/debian"));
        assert!(ok, "debootstrap: {said}");
        std::fs::rename(&tmp, &root).expect("the root");
    }
    root
}

/// A booted container, powered off when dropped.
struct Machine {
    nspawn: Child,
    leader: u32,
    root: PathBuf,
}

impl Machine {
    fn boot(root: &Path) -> Machine {
        let nspawn = Command::new("systemd-nspawn")
            .args(["-q", "-b", "--keep-unit", "--register=no", "-D"])
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("systemd-nspawn");
        // The container's init: the child of nspawn's child, or its child.
        let deadline = Instant::now() + Duration::from_secs(30);
        let leader = loop {
            if let Some(pid) = descendants(nspawn.id()).into_iter().find(|p| comm(*p).as_deref() == Some("systemd")) {
                break pid;
            }
            assert!(Instant::now() < deadline, "no systemd in the container");
            std::thread::sleep(Duration::from_millis(100));
        };
        let m = Machine { nspawn, leader, root: root.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, state) = m.sh("systemctl is-system-running");
            if state.contains("running") || state.contains("degraded") {
                break;
            }
            assert!(Instant::now() < deadline, "the container did not boot: {state}");
            std::thread::sleep(Duration::from_millis(200));
        }
        m
    }

    /// `script` in the container's namespaces, as root.
    fn sh(&self, script: &str) -> (bool, String) {
        run(Command::new("nsenter")
            .args(["--target", &self.leader.to_string(), "--mount", "--uts", "--ipc", "--net", "--pid", "--", "/bin/sh", "-c", script])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
    }

    /// `script` must succeed.
    fn ok(&self, script: &str) -> String {
        let (ok, said) = self.sh(script);
        assert!(ok, "{script}: {said}");
        said
    }

    /// Waits until `script` succeeds.
    fn until(&self, what: &str, secs: u64, script: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (ok, said) = self.sh(script);
            if ok {
                return said;
            }
            assert!(Instant::now() < deadline, "{what}: {said}\n{}", self.sh("journalctl -u rollcall-device --no-pager | tail -30").1);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = self.sh("systemctl poweroff");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.nspawn.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
        if std::env::var_os("KEEP_NSPAWN").is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim().to_string())
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else { continue };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

#[test]
#[ignore = "boots Debian 12 with systemd-nspawn: root, minutes, and the package built first (scripts/package --profile dev)"]
fn nspawn_the_packaged_service_under_a_real_systemd() {
    let ws = workspace();
    let deb = std::fs::read_dir(ws.join("target/debian"))
        .expect("target/debian: run scripts/package --profile dev first")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("rollcall-device_") && p.to_string_lossy().ends_with("_amd64.deb"))
        .max()
        .expect("no rollcall-device amd64 package: run scripts/package --profile dev first");
    let cached = bookworm();
    // A copy of the cached root for this run.
    let root = ws.join(format!("target/nspawn/run-{}", std::process::id()));
    let (ok, said) = run(Command::new("cp").arg("-a").arg("--reflink=auto").arg(&cached).arg(&root));
    assert!(ok, "cp: {said}");
    let put = |to: &str| root.join(to.trim_start_matches('/'));
    std::fs::copy(&deb, put("/root/rollcall-device.deb")).expect("the package");
    let school = SecretKey::from_seed(&[33; 32]);
    std::fs::write(put("/root/school.pub"), school.public().to_text()).expect("school.pub");
    let plain = std::fs::read(tiny_gallery()).expect("tiny");
    std::fs::write(put("/root/signed.rcg"), school.sign(&plain, 1)).expect("signed");
    std::fs::write(put("/opt/signed-2.rcg"), school.sign(&plain, 2)).expect("signed");
    std::fs::write(put("/root/unsigned.rcg"), &plain).expect("unsigned");
    // Ada for a long while: the service keeps running.
    let stills = put("/opt/stills");
    let ada = synthetic::photo(&stills.join("000.png"), &[(101, 1)]);
    for n in 1..600 {
        std::os::unix::fs::symlink("000.png", stills.join(format!("{n:03}.png"))).expect("link");
    }
    assert!(ada.exists());

    let m = Machine::boot(&root);
    m.ok("dpkg -i /root/rollcall-device.deb");
    m.ok("install -m 0644 /root/school.pub /etc/rollcall/school.pub && \
         install -m 0644 /root/signed.rcg /var/lib/rollcall-gallery/gallery.rcg && \
         mkdir -p /etc/systemd/system/rollcall-device.service.d && \
         printf '[Service]\\nEnvironment=ROLLCALL_ENGINE=fake\\nWatchdogSec=3s\\nTimeoutAbortSec=2s\\nRestartSec=1s\\n\
ExecStart=\\nExecStart=/usr/bin/rollcall-device --config /etc/rollcall/device.toml --source dir:/opt/stills --fps 5\\n' \
         > /etc/systemd/system/rollcall-device.service.d/test.conf && systemctl daemon-reload");

    // READY, with the status; then the events.
    m.ok("systemctl start rollcall-device");
    let status = m.ok("systemctl show -p StatusText -p ActiveState rollcall-device");
    assert!(status.contains("ActiveState=active") && status.contains("recognising 3 people"), "{status}");
    m.until("arrived ada in the day file", 20, "grep -h '\"arrived\",\"label\":\"ada\"' /var/lib/rollcall/events/*.jsonl");
    m.until("the serial recorded", 10, "test -f /var/lib/rollcall/state/gallery-serials.json");

    // Hardening: in the service's own view, the gallery's folder (which
    // its group may write) is read-only, and /etc too.
    let pid = m.ok("systemctl show -p MainPID --value rollcall-device").trim().to_string();
    // (As the service's user for the folder its group may write; as root
    // elsewhere, whom only the read-only mounts stop: the unit once had
    // ConfigurationDirectory=, which left /etc/rollcall, the trusted key's
    // folder, writable.)
    let as_rollcall = "setpriv --reuid=rollcall --regid=rollcall --init-groups";
    for (user, path) in [(as_rollcall, "/var/lib/rollcall-gallery/x"), ("", "/etc/rollcall/x"), ("", "/usr/x"), ("", "/home/x")] {
        let (ok, said) = m.sh(&format!("nsenter -t {pid} -m {user} touch {path}"));
        assert!(!ok && (said.contains("Read-only file system") || said.contains("No such file")), "{path}: {said}");
    }
    let (ok, said) = m.sh(&format!("{as_rollcall} touch /var/lib/rollcall-gallery/x && rm /var/lib/rollcall-gallery/x"));
    assert!(ok, "outside the service, its group may write there: {said}");
    let (ok, said) =
        m.sh(&format!("nsenter -t {pid} -m setpriv --reuid=rollcall --regid=rollcall --init-groups touch /var/lib/rollcall/x"));
    assert!(ok, "the state directory is writable: {said}");
    // A gallery's writer: replaces the gallery, cannot reach the state.
    m.ok("adduser --system --no-create-home teacher >/dev/null && adduser teacher rollcall-gallery >/dev/null");
    let teacher = "setpriv --reuid=teacher --regid=nogroup --init-groups";
    m.ok(&format!(
        "{teacher} cp /opt/signed-2.rcg /var/lib/rollcall-gallery/new.rcg && \
         {teacher} mv /var/lib/rollcall-gallery/new.rcg /var/lib/rollcall-gallery/gallery.rcg"
    ));
    m.until("the new gallery's serial recorded", 10, "grep -q ': 2' /var/lib/rollcall/state/gallery-serials.json");
    for reach in ["ls /var/lib/rollcall/state", "rm -f /var/lib/rollcall/state/gallery-serials.json", "touch /var/lib/rollcall/state/x"] {
        let (ok, said) = m.sh(&format!("{teacher} {reach}"));
        assert!(!ok && said.contains("Permission denied"), "{reach}: {said}");
    }

    // The watchdog: a stopped service is killed and started again.
    m.ok(&format!("kill -STOP {pid}"));
    m.until(
        "a restart by the watchdog",
        30,
        &format!(
            "test \"$(systemctl show -p NRestarts --value rollcall-device)\" -ge 1 && \
             test \"$(systemctl show -p MainPID --value rollcall-device)\" != {pid} && systemctl is-active rollcall-device"
        ),
    );
    let journal = m.ok("journalctl -u rollcall-device --no-pager");
    assert!(journal.to_lowercase().contains("watchdog"), "{journal}");

    // An unsigned gallery under the packaged settings: refused.
    m.ok("systemctl stop rollcall-device && install -m 0644 /root/unsigned.rcg /var/lib/rollcall-gallery/gallery.rcg");
    let (ok, said) = m.sh("systemctl start rollcall-device");
    assert!(!ok, "an unsigned gallery started: {said}");
    m.until("the reason in the journal", 10, "journalctl -u rollcall-device --no-pager | grep 'not signed'");
}
