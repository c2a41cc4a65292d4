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
    let mut c = Command::new(env!("CARGO_BIN_EXE_rollcall-device"));
    c.env("ROLLCALL_ENGINE", "fake").env("ROLLCALL_LOG", "warn");
    c.arg("--gallery").arg(gallery).arg("--source").arg(format!("dir:{}", still.display())).args(["--heartbeat-secs", "0"]);
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
    let good = write(d, "good.rcg", &school.sign(&plain));
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
    forged.extend_from_slice(&school.sign(&plain)[plain.len()..]);
    refused(&device(&write(d, "forged.rcg", &forged), Some(&public), &still), "changed after signing");

    // Signed by another key.
    refused(&device(&write(d, "other.rcg", &stranger.sign(&plain)), Some(&public), &still), "signed by another key");

    // A signature cut short.
    let signed = school.sign(&plain);
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
