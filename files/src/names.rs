//! Output file names derived from input names, kept within what any
//! filesystem accepts.
//!
//! A photo may legally have a 250-byte name; a chip named after it,
//! `aligned_<name>_<i>.png`, would not fit the 255-byte limit of ext4, XFS or
//! btrfs. Derived names are cut to [`MAX_STEM`] bytes and made unique again
//! with a short hash of the full name.

/// Longest name stem rollcall derives, in bytes: room is left for the
/// prefixes and suffixes around it and for the temporary file's suffix.
pub const MAX_STEM: usize = 120;

/// `stem` if it fits in `max` bytes, else its first bytes (on a character
/// boundary) and `~` and eight hex digits of its sha256, `max` bytes long at
/// most.
pub fn bounded(stem: &str, max: usize) -> String {
    if stem.len() <= max {
        return stem.to_string();
    }
    let hash = &rollcall_shared::digest::sha256_hex(stem.as_bytes())[..8];
    let mut cut = max.saturating_sub(hash.len() + 1);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{hash}", &stem[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_and_stay_distinct() {
        assert_eq!(bounded("short", 10), "short");
        let a = "é".repeat(200);
        let b = format!("{}x", "é".repeat(199));
        let (ba, bb) = (bounded(&a, MAX_STEM), bounded(&b, MAX_STEM));
        assert!(ba.len() <= MAX_STEM && bb.len() <= MAX_STEM, "{} {}", ba.len(), bb.len());
        assert_ne!(ba, bb);
        assert_eq!(bounded(&a, MAX_STEM), ba, "deterministic");
    }
}
