//! What a person's name may be: the one rule the review page, `train`,
//! `export`, `roll`, `attendance` and the device all apply.
//!
//! A name ends up as a folder name, a label in a signed gallery, a column in
//! a roll call, an MQTT topic and a line on a terminal. Each of those places
//! has characters that print as nothing or change what is around them, so a
//! name is refused when it holds any of them rather than cleaned quietly (a
//! cleaned name would no longer be the folder the teacher sees):
//!
//! - it is taken in Unicode NFC, trimmed of plain spaces at its ends;
//! - no control, format (bidirectional overrides, zero-width characters,
//!   tags, ZWJ/ZWNJ), private-use, surrogate, unassigned or noncharacter code
//!   point, no line or paragraph separator, no white space but the plain
//!   space;
//! - no character that prints as nothing: a default-ignorable code point
//!   (variation selectors, the Hangul fillers, the combining grapheme
//!   joiner, ...: what UTS #39's skeleton drops), the blank Braille
//!   pattern and the musical null notehead;
//! - one space between words, and no word that starts with a combining
//!   mark (an accent on nothing);
//! - the letters of each word are of one script (UTS #39's resolved script
//!   set is not empty: `Zoë`, `李雷` and `Zoë 李雷` are fine, a Latin `Ann`
//!   with a Cyrillic `А` is not);
//! - not `/` or `\`, not `.` or `..`, at most [`MAX_CHARS`] characters;
//! - not reserved: names starting with `_` or `.` mark folders that are
//!   nobody, and `unknown` and `junk` are the strangers' and junk folders.
//!
//! Two names are the same name when their [`key`]s are equal: the UTS #39
//! confusable skeleton of the lower-cased name, so `Ann`, `ann`, a
//! Cyrillic `Аnn` and a fullwidth `ｕnknown` against `unknown` all collide.

use alloc::string::String;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_security::MixedScript;

/// The longest name, in characters.
pub const MAX_CHARS: usize = 100;

/// The folder names that are nobody by default: strangers and junk.
pub const RESERVED: [&str; 2] = ["unknown", "junk"];

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing but spaces.
    #[error("a name cannot be empty")]
    Empty,
    /// Longer than [`MAX_CHARS`].
    #[error("a name is at most {MAX_CHARS} characters")]
    TooLong,
    /// A path, not a name.
    #[error("a name cannot contain / or \\, nor be . or .. (it would be a path)")]
    Path,
    /// A character no name may hold.
    #[error("a name cannot contain {what} (U+{code:04X})")]
    Character {
        /// The character's code point.
        code: u32,
        /// What kind of character it is, in words.
        what: &'static str,
    },
    /// Two spaces in a row: `Bob  Lee` would be a second `Bob Lee`.
    #[error("a name cannot have two spaces in a row")]
    Spaces,
    /// A word that starts with a combining mark (an accent on nothing).
    #[error("a word of a name cannot start with an accent or other combining mark")]
    LoneMark,
    /// Letters of more than one script, the way a look-alike is spelled.
    #[error("a name cannot mix the letters of different scripts (as a Latin name with a Cyrillic letter that looks the same)")]
    MixedScripts,
    /// Starts with `_` or `.`: such folders are nobody.
    #[error("names starting with _ or . mark folders that are nobody")]
    Marker,
    /// Stored as it would not be typed: not in NFC, or with spaces at an end.
    #[error("a stored name must be in Unicode NFC, without spaces at its ends")]
    NotNormal,
    /// `unknown`, `junk`, or a name that looks the same.
    #[error("`{0}` is kept for the folders of strangers and junk")]
    Reserved(&'static str),
}

/// Why `c` may not be in a name, or `None` when it may.
pub fn forbidden(c: char) -> Option<&'static str> {
    use GeneralCategory as G;
    let what = match c.general_category() {
        G::Control => "a control character",
        G::Format => "an invisible formatting character (direction override, zero-width or tag)",
        G::PrivateUse => "a private-use character",
        G::Surrogate | G::Unassigned => "an unassigned code point or noncharacter",
        G::LineSeparator | G::ParagraphSeparator => "a line or paragraph separator",
        G::SpaceSeparator if c != ' ' => "white space other than a plain space",
        _ if BLANK.contains(&c) || prints_as_nothing(c) => "a character that prints as nothing",
        _ => return None,
    };
    Some(what)
}

/// Characters that print as nothing but are neither spaces, format
/// characters nor default-ignorable: the blank Braille pattern and the
/// musical null notehead.
const BLANK: [char; 2] = ['\u{2800}', '\u{1D159}'];

/// A default-ignorable code point: the confusable skeleton, which drops
/// exactly those, leaves nothing of it.
fn prints_as_nothing(c: char) -> bool {
    let mut buf = [0u8; 4];
    unicode_security::skeleton(c.encode_utf8(&mut buf)).next().is_none()
}

/// A combining mark (an accent and the like), which belongs on a letter.
fn is_mark(c: char) -> bool {
    use GeneralCategory as G;
    matches!(c.general_category(), G::NonspacingMark | G::SpacingMark | G::EnclosingMark)
}

/// Checks `name` against the rule in the module docs, giving it in NFC with
/// its end spaces trimmed.
pub fn check(name: &str) -> Result<String, NameError> {
    let normal: String = name.nfc().collect();
    let name = normal.trim_matches(' ');
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some((c, what)) = name.chars().find_map(|c| forbidden(c).map(|w| (c, w))) {
        return Err(NameError::Character { code: c as u32, what });
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(NameError::Path);
    }
    if name.contains("  ") {
        return Err(NameError::Spaces);
    }
    if name.split(' ').any(|word| word.chars().next().is_some_and(is_mark)) {
        return Err(NameError::LoneMark);
    }
    if name.chars().count() > MAX_CHARS {
        return Err(NameError::TooLong);
    }
    if name.starts_with(['_', '.']) {
        return Err(NameError::Marker);
    }
    if let Some(word) = reserved(name) {
        return Err(NameError::Reserved(word));
    }
    if !name.split(' ').all(|word| word.is_single_script()) {
        return Err(NameError::MixedScripts);
    }
    Ok(String::from(name))
}

/// The reserved word `name` is, or looks the same as (by [`key`]), alone or
/// numbered: `unknown`, `Unknown 2`, `unknown_3`, `unknown (copy)` (as a
/// file manager names a second folder), but not `Unknownson`.
pub fn reserved(name: &str) -> Option<&'static str> {
    RESERVED.into_iter().find(|w| is_marked(name, w))
}

/// Whether `name` is the marker word `word` (by [`key`]), alone or followed
/// by anything that does not start with a letter: how several folders of
/// strangers are named in a file manager that cannot give two folders one
/// name.
pub fn is_marked(name: &str, word: &str) -> bool {
    let (k, w) = (key(name), key(word));
    !w.is_empty() && k.strip_prefix(w.as_str()).is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphabetic()))
}

/// What two names must not share to be two people: the UTS #39 confusable
/// skeleton of the name in lower case (NFC first, so a name typed with a
/// combining accent is the same name).
pub fn key(name: &str) -> String {
    let lower: String = name.nfc().flat_map(char::to_lowercase).collect();
    let skeleton: String = unicode_security::skeleton(&lower).collect();
    // The skeleton maps some letters to look-alikes of another case (`l`
    // and `I` to `l`); lower-case once more so that the key is case-blind.
    skeleton.chars().flat_map(char::to_lowercase).nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_of_any_script_are_names() {
        for name in ["Ann", "Zoë", "李雷", "Zoë 李雷", "O'Brien", "Anne-Marie Lee", "Дмитрий", "さくら", "김민준", "محمد", "Ann 2"]
        {
            assert_eq!(check(name).as_deref(), Ok(name), "{name}");
        }
        // NFD in, NFC out; end spaces trimmed.
        assert_eq!(check("Zoe\u{308} ").as_deref(), Ok("Zoë"));
    }

    /// The review's attacker found every one of these accepted by the page
    /// or by `train`: each prints like `Ann` (or nearly) and is not.
    #[test]
    fn regression_invisible_and_look_alike_names_were_accepted() {
        for bad in [
            "Ann\u{200B}",
            "Ann\u{202E}",
            "Ann\u{FE0F}",
            "Ann\u{3164}",
            "Ann\u{034F}",
            "Ann\u{E0020}",
            "Ann\u{180B}",
            "Ann\u{115F}",
            "Ann\u{2800}",
            "A\u{2028}nn",
            "A\u{FFFF}nn",
            "A\u{E000}nn",
            "A\u{00A0}nn",
            "A\u{200D}nn",
            // A reviewer's second round: a notehead that prints as nothing,
            // two spaces, an accent on nothing.
            "Ann\u{1D159}",
            "Bob  Lee",
            "Bob \u{307}",
            "Bob \u{20DD}",
            "\u{0410}nn",
            "ｕnknown",
            "Unknown",
            "JUNK",
            "_Ann",
            ".Ann",
            "A/nn",
            "..",
            "",
            "   ",
        ] {
            assert!(check(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(matches!(check("A\u{FFFF}nn"), Err(NameError::Character { code: 0xFFFF, .. })));
        assert_eq!(check("\u{0410}nn"), Err(NameError::MixedScripts));
        assert_eq!(check("ｕnknown"), Err(NameError::Reserved("unknown")));
    }

    #[test]
    fn names_that_look_the_same_share_a_key() {
        assert_eq!(key("Ann"), key("ann"));
        assert_eq!(key("Ann"), key("\u{0410}nn"));
        assert_eq!(key("Zoë"), key("Zoe\u{308}"));
        assert_eq!(key("ｕnknown"), key("unknown"));
        for strangers in ["unknown", "Unknown 2", "unknown_3", "unknown (copy)", "junk-1", "ｕnknown2"] {
            assert!(reserved(strangers).is_some(), "{strangers}");
        }
        for person in ["Unknownson", "Junko", "Ann"] {
            assert_eq!(reserved(person), None, "{person}");
        }
        assert_ne!(key("Ann"), key("Anna"));
        assert_ne!(key("Ann"), key("Anne"));
    }

    #[test]
    fn long_names_are_refused() {
        assert_eq!(check(&"a".repeat(MAX_CHARS)).map(|n| n.len()), Ok(MAX_CHARS));
        assert_eq!(check(&"a".repeat(MAX_CHARS + 1)), Err(NameError::TooLong));
    }
}
