//! `rollcall export MODEL --out GALLERY`

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::training::ModelDir;
use rollcall_host::pipeline;
use rollcall_host::stages::export;
use rollcall_shared::gallery::VectorForm;

use super::Global;
use super::common::ModelChoice;
use super::quantize::print_fidelity;

/// How reference embeddings are stored.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum References {
    /// One byte a value and a scale per face.
    I8,
    F16,
    F32,
}

impl From<References> for VectorForm {
    fn from(r: References) -> Self {
        match r {
            References::I8 => VectorForm::I8,
            References::F16 => VectorForm::F16,
            References::F32 => VectorForm::F32,
        }
    }
}

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Model folder written by `train`
    model: PathBuf,
    /// Gallery file to write
    #[arg(long, short, default_value = "gallery.rcg")]
    out: PathBuf,
    /// How reference embeddings are stored
    #[arg(long, value_enum, default_value = "i8")]
    references: References,
    /// Sign the gallery with this secret key (from `rollcall keygen`)
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
    /// The clock is right now, and the serial last signed with the key
    /// (refused as being after the clock) came from a wrong clock: sign
    /// with the clock's time (a device that accepted the wrong serial then
    /// starts once with --allow-downgrade)
    #[arg(long, requires = "sign")]
    reset_serial: bool,
    /// Also write int8 models calibrated on the training run, and a gallery for them (<out>.int8.rcg)
    #[arg(long)]
    quantize: bool,
    #[command(flatten)]
    models: ModelChoice,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let model = ModelDir::new(&a.model);
    let form = VectorForm::from(a.references);
    let key = super::common::signing_key(a.sign.as_deref())?;
    let e = export::export_signed(&model, &a.out, form, &a.model.display().to_string(), key.as_ref(), a.reset_serial)?;
    let name = format!("{:?}", a.references).to_lowercase();
    say!("wrote {}: {} people, {} reference faces, {} bytes ({name} references)", a.out.display(), e.people, e.references, e.bytes);
    if let (Some(by), Some(serial)) = (&e.signed_by, e.serial) {
        say!("signed by key {by}, serial {serial} (a device that trusts the key refuses galleries with a lower serial from now on)");
        if a.reset_serial {
            say!("serial reset to the clock's time: start each device that accepted a higher serial once with --allow-downgrade");
        }
    }
    if a.quantize {
        let q = pipeline::export_quantized(&model, &a.out, form, a.models.load(g)?.as_ref(), key.as_ref())?;
        print_fidelity(&q.fidelity, &q.models_dir);
        say!("wrote {}: gallery for the int8 models, {} bytes", q.gallery.display(), q.exported.bytes);
    }
    let gal = rollcall_cli::shell_word(&a.out);
    // A device trusts only galleries signed by a key it is told to trust:
    // the hint names the public half, as the README's Pi steps do.
    let device = match &a.sign {
        Some(key) => {
            let public =
                rollcall_cli::shell_word(&rollcall_host::artifacts::keys::public_path(&rollcall_host::artifacts::keys::resolve(key)));
            format!(
                "then on the device: copy {gal} to /var/lib/rollcall-gallery/gallery.rcg and {public} to /etc/rollcall/, with \
                 `trust = \"/etc/rollcall/{}\"` in /etc/rollcall/device.toml (or try it: rollcall-device --gallery {gal} --trust {public} --source v4l:/dev/video0)",
                rollcall_host::artifacts::keys::public_path(key).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
            )
        }
        None => format!(
            "for a device, sign it: rollcall export {} --out {gal} --sign school (rollcall keygen makes the key)",
            rollcall_cli::shell_word(&a.model)
        ),
    };
    rollcall_cli::next_steps(&[format!("try it on photos: rollcall predict PHOTOS --gallery {gal}"), device]);
    Ok(())
}
