//! Paths and names as they may safely reach a terminal.
//!
//! A file name may hold control characters: `ESC[2J` in a photo's name would
//! clear the screen of whoever reads the log, and a right-to-left override
//! makes `Ann\u{202E}gnp.exe` read as something else. Everything rollcall
//! prints about a file or a name goes through [`shown`], which writes every
//! character no name may hold ([`rollcall_shared::names::forbidden`]:
//! controls, format and invisible characters, separators, unassigned code
//! points) as a `\x1b` or `\u{202e}` escape and leaves everything else
//! (non-ASCII names included) as it is.

use std::fmt;
use std::path::Path;

/// A path ready to print.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(&'a str, Option<&'a Path>);

/// `path` as it may reach a terminal.
pub fn shown(path: &Path) -> Shown<'_> {
    Shown("", Some(path))
}

/// Text (a file name kept as a string) as it may reach a terminal.
pub fn shown_str(text: &str) -> Shown<'_> {
    Shown(text, None)
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(p) => write_escaped(f, &p.to_string_lossy()),
            None => write_escaped(f, self.0),
        }
    }
}

/// Whether `c` is written as an escape.
fn hidden(c: char) -> bool {
    rollcall_shared::names::forbidden(c).is_some()
}

fn escape(c: char) -> String {
    if (c as u32) < 0x100 { format!("\\x{:02x}", c as u32) } else { format!("\\u{{{:x}}}", c as u32) }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if hidden(c) {
            f.write_str(&escape(c))?;
        } else {
            f.write_fmt(format_args!("{c}"))?;
        }
    }
    Ok(())
}

/// `text` with its control characters escaped, newlines and tabs kept:
/// for whole messages that may quote file names.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if hidden(c) && c != '\n' && c != '\t' {
            out.push_str(&escape(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_names_kept() {
        let p = Path::new("/photos/\u{1b}[2Jclear\u{7}.jpg");
        assert_eq!(shown(p).to_string(), "/photos/\\x1b[2Jclear\\x07.jpg");
        assert_eq!(shown_str("Zoë 李雷").to_string(), "Zoë 李雷");
        // `roll` printed a label's right-to-left override raw to the
        // terminal, turning the rest of the line around.
        assert_eq!(shown_str("Ann\u{202E}1").to_string(), "Ann\\u{202e}1");
        assert_eq!(shown_str("A\u{FFFF}\u{200B}").to_string(), "A\\u{ffff}\\u{200b}");
        assert_eq!(escape_controls("a\u{1b}b\nc"), "a\\x1bb\nc");
    }
}
