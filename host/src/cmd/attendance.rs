//! `rollcall attendance DIR... --gallery G [--date D]`: a day of the
//! devices' events logs, one per door, as the roll call.

use std::path::PathBuf;

use anyhow::{Context, Result};
use rollcall_cli::say;
use rollcall_host::stages::attendance;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The events log folder of each door's device (rollcall-device --events-log DIR), or
    /// NAME=DIR to name the door (by default it is the folder's name)
    #[arg(required = true, value_name = "DIR")]
    doors: Vec<String>,
    /// The gallery the device ran with: everyone in it gets a row
    #[arg(long)]
    gallery: PathBuf,
    /// The day, YYYY-MM-DD [default: today]
    #[arg(long)]
    date: Option<String>,
    /// Where attendance-<date>.csv and .html go
    #[arg(long, short, default_value = ".")]
    out: PathBuf,
}

pub(super) fn run(a: Args) -> Result<()> {
    let gallery = rollcall_shared::gallery::read_file(&a.gallery)?;
    let date = a.date.unwrap_or_else(attendance::today);
    rollcall_files::create_dir_private(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let doors: Vec<attendance::Door> = a.doors.iter().map(|d| attendance::Door::parse(d)).collect();
    let r = attendance::attendance(&doors, &date, &gallery.labels, &a.out)?;
    let present = r.rows.iter().filter(|r| r.present).count();
    say!("{date}: {present} of {} present, {} stranger arrival(s)", r.rows.len(), r.stranger_arrivals);
    for row in &r.rows {
        if row.present {
            say!(
                "  {:<20} {} ({}) - {} ({})  {:.1} min",
                rollcall_files::shown_str(&row.person).to_string(),
                row.first_arrival,
                rollcall_files::shown_str(&row.first_door),
                row.last_departure,
                rollcall_files::shown_str(&row.last_door),
                row.minutes_present
            );
        } else {
            say!("  {:<20} absent", rollcall_files::shown_str(&row.person).to_string());
        }
    }
    say!("wrote {} and {}", r.csv.display(), r.html.display());
    Ok(())
}
