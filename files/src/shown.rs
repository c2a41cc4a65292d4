//! Paths and names as they may safely reach a terminal.
//!
//! A file name may hold control characters: `ESC[2J` in a photo's name would
//! clear the screen of whoever reads the log. Everything rollcall prints
//! about a file goes through [`shown`], which writes control characters as
//! `\x1b`-style escapes and leaves everything else (non-ASCII names
//! included) as it is.

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

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "\\x{:02x}", c as u32)?;
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
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\x{:02x}", c as u32));
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
        assert_eq!(escape_controls("a\u{1b}b\nc"), "a\\x1bb\nc");
    }
}
