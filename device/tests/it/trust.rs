//! Signed galleries on the device: with `--trust KEY.pub`, only galleries
//! signed by that key's secret half are loaded. Each forgery an attacker
//! who can write files to the device could try is refused with its reason.
//! Fake engine, committed tiny gallery: seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rollcall_shared::gallery::Gallery;
use rollcall_shared::signature::SecretKey;
use rollcall_testkit::{synthetic, tiny_gallery};

fn device(gallery: &Path, trust: Option<&Path>, still: &Path) -> Output {
    device_with(gallery, trust, still, &[])
}

/// The device, its state (accepted serials) beside the stills.
fn device_with(gallery: &Path, trust: Option<&Path>, still: &Path, extra: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rollcall-device"));
    c.env("ROLLCALL_ENGINE", "fake").env("ROLLCALL_LOG", "warn");
    c.arg("--gallery").arg(gallery).arg("--source").arg(format!("dir:{}", still.display())).args(["--heartbeat-secs", "0"]);
    c.arg("--state-dir").arg(still.with_file_name("state")).args(extra);
    if let Some(key) = trust {
        c.arg("--trust").arg(key);
    }
    c.output().expect("run rollcall-device")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

fn refused(out: &Output, wants: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.status.code() != Some(101), "not a clean refusal: {stderr}");
    assert!(stderr.contains(wants), "wanted `{wants}` in: {stderr}");
}

#[test]
fn only_galleries_signed_by_the_trusted_key_are_loaded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // Three frames of ada: enough for her to arrive.
    let still = d.join("stills");
    for n in 0..3 {
        synthetic::photo(&still.join(format!("{n}.png")), &[(101, 1)]);
    }
    let school = SecretKey::from_seed(&[11; 32]);
    let stranger = SecretKey::from_seed(&[12; 32]);
    let public = write(d, "school.pub", school.public().to_text().as_bytes());
    let plain = std::fs::read(tiny_gallery()).expect("tiny gallery");

    // Signed by the school: loaded, and recognition runs.
    let good = write(d, "good.rcg", &school.sign(&plain, 1));
    let out = device(&good, Some(&public), &still);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""event":"arrived","label":"ada""#), "ada is recognised");

    // Unsigned.
    refused(&device(&tiny_gallery(), Some(&public), &still), "not signed");

    // Tampered, then re-checksummed: someone adds themselves as "ada" by
    // renaming, recomputes the gallery's sha256 and keeps the old signature.
    let mut g = Gallery::decode(&plain).expect("decode");
    g.labels[1] = "mallory".into();
    let mut forged = g.encode().expect("encode");
    Gallery::decode(&forged).expect("the checksum alone is satisfied");
    forged.extend_from_slice(&school.sign(&plain, 1)[plain.len()..]);
    refused(&device(&write(d, "forged.rcg", &forged), Some(&public), &still), "changed after signing");

    // Signed by another key.
    refused(&device(&write(d, "other.rcg", &stranger.sign(&plain, 1)), Some(&public), &still), "signed by another key");

    // A signature cut short.
    let signed = school.sign(&plain, 1);
    refused(&device(&write(d, "cut.rcg", &signed[..signed.len() - 20]), Some(&public), &still), "truncated");

    // The trusted key itself must be a public key file.
    let secret_file = write(d, "school", school.to_text().as_bytes());
    refused(&device(&good, Some(&secret_file), &still), "not a rollcall public key file");

    // Without --trust: the signed and unsigned galleries both load, with a
    // warning that galleries are not authenticated.
    for g in [good.as_path(), tiny_gallery().as_path()] {
        let out = device(g, None, &still);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("not authenticated"), "{stderr}");
    }
}

/// The rollback's setting in `d`: `frames` stills of Ben, the school's
/// public key file, gallery A (serial 100, from when Ben's place was Eve's)
/// and gallery B (serial 200, today's).
fn rollback_setting(d: &Path, frames: usize) -> (SecretKey, PathBuf, Vec<u8>, Vec<u8>) {
    for n in 0..frames {
        synthetic::photo(&d.join("stills").join(format!("{n:03}.png")), &[(102, 1)]);
    }
    let school = SecretKey::from_seed(&[11; 32]);
    let public = write(d, "school.pub", school.public().to_text().as_bytes());
    let plain = std::fs::read(tiny_gallery()).expect("tiny gallery");
    let mut with_eve = Gallery::decode(&plain).expect("decode");
    let ben = with_eve.labels.iter().position(|l| l == "ben").expect("ben");
    with_eve.labels[ben] = "eve".into();
    let a = school.sign(&with_eve.encode().expect("encode"), 100);
    let b = school.sign(&plain, 200);
    (school, public, a, b)
}

/// The rollback: a school exported gallery A with Eve, retrained without
/// her and exported B; the device ran on B with `--trust`. Replacing the
/// file with A (`cp A tmp && mv tmp gallery.rcg`) was accepted, at start
/// and on reload ("new gallery in use"), and the device reported `arrived
/// eve`: both signatures verify, and nothing said which one is current.
/// Now each signature carries a serial and the device refuses one below
/// the highest it accepted, unless told to go back on purpose.
#[test]
fn regression_an_older_signed_gallery_was_accepted_rollback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (school, public, a, b) = rollback_setting(d, 3);
    let still = d.join("stills");
    let gallery = d.join("gallery.rcg");

    std::fs::write(&gallery, &b).expect("write B");
    let out = device(&gallery, Some(&public), &still);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""label":"ben""#));

    // At start: refused, with the reason and the way out.
    std::fs::write(&gallery, &a).expect("write A");
    let out = device(&gallery, Some(&public), &still);
    refused(&out, "serial 100");
    refused(&out, "already accepted serial 200");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("eve"));

    // Going back on purpose.
    let out = device_with(&gallery, Some(&public), &still, &["--allow-downgrade"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""event":"arrived","label":"eve""#));
    // B, gone back from, is retired (else the recovery from a serial
    // signed with a wrong clock would let that gallery in again); forward
    // again is a new export, with a higher serial.
    std::fs::write(&gallery, &b).expect("write B");
    refused(&device(&gallery, Some(&public), &still), "was retired");
    std::fs::write(&gallery, school.sign(&std::fs::read(tiny_gallery()).expect("tiny"), 300)).expect("write C");
    assert!(device(&gallery, Some(&public), &still).status.success());

    // The state is per key and lives in the state folder.
    let state = std::fs::read_to_string(d.join("state").join("gallery-serials.json")).expect("state file");
    assert!(state.contains(&school.public().hex()) && state.contains("300") && state.contains("200"), "{state}");
}

/// The same rollback while the device runs: the old gallery copied over
/// the current one is refused on reload and the current one stays.
#[test]
fn regression_an_older_signed_gallery_was_accepted_on_reload() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (_, public, a, b) = rollback_setting(d, 60);
    let still = d.join("stills");
    let gallery = write(d, "gallery.rcg", &b);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_ENGINE", "fake")
        .env("ROLLCALL_LOG", "warn")
        .arg("--gallery")
        .arg(&gallery)
        .arg("--trust")
        .arg(&public)
        .arg("--state-dir")
        .arg(d.join("state"))
        .arg("--source")
        .arg(format!("dir:{}", still.display()))
        .args(["--heartbeat-secs", "0", "--fps", "50"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start rollcall-device");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if line.contains(r#""event":"arrived","label":"ben""#) {
            let tmp = d.join("tmp");
            std::fs::write(&tmp, &a).expect("write");
            std::fs::rename(&tmp, &gallery).expect("rename");
        }
        lines.push(line);
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("an older gallery: serial 100") && stderr.contains("the old gallery stays in use"), "{stderr}");
    assert!(lines.iter().any(|l| l.contains(r#""label":"ben""#)), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains(r#""label":"eve""#) || l.contains(r#""event":"reload""#)), "{lines:?}");
}

/// The device with `args`, its clock synchronised or not (`synced`), and
/// its output as one text.
fn device_at(d: &Path, synced: &str, gallery: &Path, public: &Path, extra: &[&str]) -> (bool, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rollcall-device"));
    c.env("ROLLCALL_ENGINE", "fake").env("ROLLCALL_LOG", "info").env("PATH", crate::regression::clock_path(d, synced));
    c.arg("--gallery").arg(gallery).arg("--trust").arg(public).arg("--state-dir").arg(d.join("state"));
    c.arg("--source").arg(format!("dir:{}", d.join("stills").display())).args(["--heartbeat-secs", "0"]).args(extra);
    let out = c.output().expect("run rollcall-device");
    (
        out.status.success() && out.status.code() != Some(101),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

/// Serials are signing times. One export from a laptop whose clock read
/// 2100 (serial 4102444800) made the device refuse every later gallery
/// signed with that key, and the only way back, `--allow-downgrade`, let
/// the 2100 gallery in again (its serial was above the new one to beat).
/// Now a serial more than a day ahead of a synchronised clock is refused
/// and never recorded; a device that recorded one before (the state is
/// written here as the old device left it) says so, and `--allow-downgrade`
/// with an honest gallery retires the serial from the future for good.
#[test]
fn regression_a_gallery_signed_in_2100_locked_the_classroom_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (school, public, _, _) = rollback_setting(d, 3);
    let plain = std::fs::read(tiny_gallery()).expect("tiny gallery");
    let gallery = d.join("gallery.rcg");
    let from_2100 = school.sign(&plain, 4_102_444_800);
    let honest = school.sign(&plain, now());

    // A synchronised clock refuses the serial from the future, and does
    // not record it: the honest gallery is accepted next.
    std::fs::write(&gallery, &from_2100).expect("write");
    let (ok, said) = device_at(d, "yes", &gallery, &public, &[]);
    assert!(!ok && said.contains("more than a day ahead of this device's clock") && said.contains("2100-01-01"), "{said}");
    assert!(!d.join("state/gallery-serials.json").exists(), "never recorded: {said}");
    std::fs::write(&gallery, &honest).expect("write");
    let (ok, said) = device_at(d, "yes", &gallery, &public, &[]);
    assert!(ok, "{said}");

    // The state an old device left: the 2100 serial recorded.
    let state = d.join("state/gallery-serials.json");
    std::fs::write(&state, format!("{{\"highest\": {{\"{}\": 4102444800}}}}", school.public().hex())).expect("old state");
    let (ok, said) = device_at(d, "yes", &gallery, &public, &[]);
    assert!(!ok && said.contains("already accepted serial 4102444800") && said.contains("in the future"), "{said}");
    let doctor = |synced| device_at(d, synced, &gallery, &public, &["doctor"]);
    let (ok, said) = doctor("yes");
    assert!(!ok && said.contains("FAIL  serials") && said.contains("--allow-downgrade"), "{said}");

    // The recovery: the honest gallery in, the one from 2100 retired.
    let (ok, said) = device_at(d, "yes", &gallery, &public, &["--allow-downgrade"]);
    assert!(ok, "{said}");
    std::fs::write(&gallery, &from_2100).expect("write");
    // Even with a clock that cannot tell.
    let (ok, said) = device_at(d, "no", &gallery, &public, &[]);
    assert!(!ok && said.contains("was retired"), "{said}");
    let (ok, said) = device_at(d, "no", &gallery, &public, &["--allow-downgrade"]);
    assert!(!ok && said.contains("was retired"), "not even on purpose: {said}");
    // A newer honest gallery goes in as usual.
    std::fs::write(&gallery, school.sign(&plain, now() + 10)).expect("write");
    let (ok, said) = device_at(d, "yes", &gallery, &public, &[]);
    assert!(ok, "{said}");
    let (ok, said) = doctor("yes");
    assert!(said.contains("ok    serials") && said.contains("retired: [4102444800]"), "{ok} {said}");
}

/// The rollback state lived beside the gallery in the packaged layout
/// (whoever could write the gallery could delete it), and a missing state
/// file started afresh without a word: an older gallery was then accepted
/// once. A trusted key with no recorded serial is now warned about, at
/// start and by `doctor`, and so is a state folder that is the gallery's.
#[test]
fn regression_a_deleted_rollback_state_started_afresh_silently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (_, public, a, b) = rollback_setting(d, 3);
    let gallery = d.join("gallery.rcg");
    std::fs::write(&gallery, &b).expect("write");
    let (ok, said) = device_at(d, "yes", &gallery, &public, &[]);
    assert!(ok && said.contains("no gallery serial recorded for key") && said.contains("the state was deleted"), "{said}");
    let (ok, said) = device_at(d, "yes", &gallery, &public, &[]);
    assert!(ok && !said.contains("no gallery serial recorded"), "recorded now: {said}");
    std::fs::remove_file(d.join("state/gallery-serials.json")).expect("delete the state");
    std::fs::write(&gallery, &a).expect("write the older one");
    let (_, said) = device_at(d, "yes", &gallery, &public, &["doctor"]);
    assert!(said.contains("warn  serials") && said.contains("no gallery serial recorded"), "{said}");
    // The state in the gallery's own folder: warned about.
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_ENGINE", "fake")
        .env("PATH", crate::regression::clock_path(d, "yes"))
        .arg("--gallery")
        .arg(&gallery)
        .arg("--trust")
        .arg(&public)
        .arg("--state-dir")
        .arg(d)
        .arg("--source")
        .arg(format!("dir:{}", d.join("stills").display()))
        .output()
        .expect("run");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains("is the gallery's own folder"), "{said}");
}
