//! The roll call on one printable page: who is absent first, then who is
//! present, then the named photos, so a teacher prints one thing.

use super::report::esc;
use crate::artifacts::roll::{ANNOTATED_DIR, RollRow, Status};

/// The page of a roll call whose named copies are `copies` (file names in
/// [`ANNOTATED_DIR`]), from `photos` photos.
pub(crate) fn page(rows: &[RollRow], copies: &[String], photos: usize) -> String {
    let absent: Vec<&RollRow> = rows.iter().filter(|r| r.status == Status::Absent).collect();
    let present: Vec<&RollRow> = rows.iter().filter(|r| r.status == Status::Present).collect();
    let names = |rs: &[&RollRow]| match rs.is_empty() {
        true => "<li>nobody</li>".to_string(),
        false => rs.iter().map(|r| format!("<li>{}</li>", esc(&r.person))).collect::<String>(),
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<!-- rollcall roll call -->\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Roll call</title>\n<style>\
         body{{font-family:sans-serif;margin:2em}}h2{{margin-bottom:.2em}}ul{{columns:3;padding-left:1.2em}}\
         .absent li{{color:#a00;font-weight:bold}}img{{max-width:100%;page-break-inside:avoid;margin-top:1em}}\
         @media print{{body{{margin:0}}}}</style></head><body>\n\
         <h1>Roll call: {p} of {t} present</h1>\n<p>From {photos} photo(s).</p>\n\
         <section class=\"absent\"><h2>Absent ({a})</h2><ul>{absent}</ul></section>\n\
         <section class=\"present\"><h2>Present ({p})</h2><ul>{present}</ul></section>\n",
        p = present.len(),
        t = rows.len(),
        a = absent.len(),
        absent = names(&absent),
        present = names(&present),
    );
    for c in copies {
        html.push_str(&format!("<img src=\"{ANNOTATED_DIR}/{}\" alt=\"named photo {}\">\n", esc(c), esc(c)));
    }
    html.push_str("</body></html>\n");
    html
}
