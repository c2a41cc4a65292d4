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
    // ... and forward again: B's serial is above A's.
    std::fs::write(&gallery, &b).expect("write B");
    assert!(device(&gallery, Some(&public), &still).status.success());

    // The state is per key and lives in the state folder.
    let state = std::fs::read_to_string(d.join("state").join("gallery-serials.json")).expect("state file");
    assert!(state.contains(&school.public().hex()) && state.contains("200"), "{state}");
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
