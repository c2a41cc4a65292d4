//! `rollcall-device doctor`, on the fake engine and stills (the "camera"
//! of a machine without one): everything in order passes; a missing model,
//! a gallery signed with another key, a serial port another program holds
//! and a source that is not there each fail their check, with the fix, and
//! the command. (The broker: `mqtt.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rollcall_testkit::{synthetic, tiny_gallery};

fn doctor(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_LOG", "error")
        .args(args.iter().map(|a| a.as_ref()))
        .arg("doctor")
        .output()
        .expect("run rollcall-device doctor");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, said)
}

fn stills(dir: &Path) -> String {
    let d = dir.join("stills");
    synthetic::photo(&d.join("001.png"), &[(101, 1)]);
    format!("dir:{}", d.display())
}

#[test]
fn a_device_in_order_passes_every_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = stills(dir.path());
    let log = dir.path().join("events");
    let (out, said) = doctor(&[
        &"--engine",
        &"fake",
        &"--gallery",
        &tiny_gallery(),
        &"--source",
        &source,
        &"--gpio",
        &"dry-run",
        &"--led",
        &"ada=17",
        &"--events-log",
        &log,
        &"--allow-unsigned",
    ]);
    assert!(out.status.success(), "{said}");
    for line in ["ok    models", "ok    camera       1 stills, the first", "ok    GPIO", "ok    events log", "all checks passed"] {
        assert!(said.contains(line), "{line}: {said}");
    }
    // Unsigned galleries chosen on purpose (`allow_unsigned`) work, with a
    // warning and its fix (without it: regression.rs).
    assert!(said.contains("warn  gallery") && said.contains("3 people; not authenticated") && said.contains("--sign KEY"), "{said}");
}

#[test]
fn a_missing_model_fails_with_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = stills(dir.path());
    let empty = dir.path().join("models");
    std::fs::create_dir(&empty).expect("models folder");
    let (out, said) = doctor(&[&"--models-dir", &empty, &"--gallery", &tiny_gallery(), &"--source", &source]);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("FAIL  models       missing: ") && said.contains("models fetch"), "{said}");
    assert!(std::fs::read_dir(&empty).expect("models folder").next().is_none(), "doctor fetched nothing");
}

#[test]
fn a_gallery_signed_with_another_key_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = stills(dir.path());
    let gallery = dir.path().join("gallery.rcg");
    let bytes = std::fs::read(tiny_gallery()).expect("the tiny gallery");
    std::fs::write(&gallery, rollcall_shared::signature::SecretKey::from_seed(&[1; 32]).sign(&bytes, 1)).expect("signed by Eve");
    let school = dir.path().join("school.pub");
    std::fs::write(&school, rollcall_shared::signature::SecretKey::from_seed(&[2; 32]).public().to_text()).expect("school.pub");
    let state = dir.path().join("state");
    let (out, said) =
        doctor(&[&"--engine", &"fake", &"--gallery", &gallery, &"--trust", &school, &"--state-dir", &state, &"--source", &source]);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("FAIL  gallery") && said.contains("gallery.rcg") && said.contains("export it again"), "{said}");
}

#[test]
fn a_missing_source_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nowhere = format!("dir:{}", dir.path().join("nowhere").display());
    let (out, said) = doctor(&[&"--engine", &"fake", &"--gallery", &tiny_gallery(), &"--source", &nowhere]);
    assert!(!out.status.success() && said.contains("FAIL  camera") && said.contains("nowhere"), "{said}");
}

/// A serial port another program holds: the device opens ports
/// exclusively (TIOCEXCL), so a second open is refused with EBUSY. Root
/// is exempt, so the doctor runs as `nobody` here when the test is root.
#[test]
fn a_busy_serial_port_fails() {
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let slave: PathBuf = nix::unistd::ttyname(&pty.slave).expect("its name");
    let _held = serialport::new(slave.to_string_lossy(), 9600).open().expect("the first program opens it");
    let dir = tempfile::tempdir().expect("temp dir");
    let source = stills(dir.path());
    use std::os::unix::fs::PermissionsExt;
    for p in [dir.path(), &dir.path().join("stills"), &slave] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).expect("open to nobody");
    }
    let root = nix::unistd::geteuid().is_root();
    let mut command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", env!("CARGO_BIN_EXE_rollcall-device")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
    };
    let out = command
        .env("ROLLCALL_LOG", "error")
        .args(["--engine", "fake", "--gallery"])
        .arg(tiny_gallery())
        .args(["--source", &source, "--serial"])
        .arg(format!("{}@9600", slave.display()))
        .arg("doctor")
        .output()
        .expect("run rollcall-device doctor");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("FAIL  serial port") && said.contains("nothing else holds the port"), "{said}");
    assert!(said.to_lowercase().contains("busy"), "{said}");
}

/// `rollcall-device doctor --source ...` was refused ("unexpected
/// argument") although `doctor --gallery` was accepted, and without a
/// source doctor stopped at "no source" and checked nothing. Every flag a
/// device run takes is accepted before or after `doctor`, and a missing
/// source is one failed check, with its fix, beside all the others.
#[test]
fn regression_doctor_refused_its_flags_after_it_and_stopped_at_no_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = stills(dir.path());
    let after = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_LOG", "error")
        .args(["doctor", "--engine", "fake", "--allow-unsigned", "--source", &source, "--events-log"])
        .arg(dir.path().join("events"))
        .arg("--gallery")
        .arg(tiny_gallery())
        .output()
        .expect("run rollcall-device doctor");
    let said = format!("{}{}", String::from_utf8_lossy(&after.stdout), String::from_utf8_lossy(&after.stderr));
    assert!(!said.contains("unexpected argument"), "{said}");
    assert!(said.contains("stills") || said.contains("frame"), "the source was checked: {said}");

    let (out, said) =
        doctor(&[&"--engine", &"fake", &"--allow-unsigned", &"--gallery", &tiny_gallery(), &"--events-log", &dir.path().join("events")]);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("FAIL  source") && said.contains("--source v4l:/dev/video0"), "{said}");
    assert!(said.contains("gallery") && said.contains("events log"), "every other check still runs: {said}");
}
