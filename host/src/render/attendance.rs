//! The printable attendance page.

use std::path::PathBuf;

use super::report::esc;
use crate::artifacts::attendance::AttendanceRow;

/// How the page starts (how a later run knows the file is rollcall's).
pub(crate) const DOCTYPE: &str = "<!DOCTYPE html>\n<!-- rollcall attendance -->";

/// The page for `date`.
pub(crate) fn page(date: &str, rows: &[AttendanceRow], strangers: usize, logs: &[PathBuf]) -> String {
    let present = rows.iter().filter(|r| r.present).count();
    let mut html = format!(
        "{DOCTYPE}\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Attendance {d}</title>\n<style>\
         body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}\
         th,td{{border:1px solid #999;padding:.3em .6em;text-align:left}}td.n{{text-align:right}}\
         tr.absent td{{color:#a00}}@media print{{body{{margin:0}}}}</style></head><body>\n\
         <h1>Attendance, {d}</h1>\n<p>{present} of {total} present; {strangers} arrival(s) of people the gallery does not know. \
         From {log}.</p>\n<table><thead><tr><th scope=\"col\">Person</th><th scope=\"col\">Present</th>\
         <th scope=\"col\">First arrival</th><th scope=\"col\">Door</th><th scope=\"col\">Last departure</th><th scope=\"col\">Door</th><th scope=\"col\">Minutes present</th></tr></thead><tbody>\n",
        d = esc(date),
        total = rows.len(),
        log = logs.iter().map(|l| format!("<code>{}</code>", esc(&l.display().to_string()))).collect::<Vec<_>>().join(", "),
    );
    for r in rows {
        html.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{:.1}</td></tr>\n",
            if r.present { "present" } else { "absent" },
            esc(&r.person),
            if r.present { "yes" } else { "absent" },
            esc(&r.first_arrival),
            esc(&r.first_door),
            esc(&r.last_departure),
            esc(&r.last_door),
            r.minutes_present
        ));
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}
