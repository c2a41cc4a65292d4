//! Signed galleries: only the holder of the school's secret key can make a
//! gallery a device trusts.
//!
//! The gallery's own sha256 catches damage, not forgery: anyone who can
//! write a file to the device can compute it. A signed gallery is the
//! gallery file followed by a trailer:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `RCSIGN02` |
//! | 8 | serial, little-endian |
//! | 32 | the ed25519 public key that signed it |
//! | 64 | ed25519 signature of every byte before it |
//!
//! The signature covers the whole gallery file, checksum included, and the
//! trailer's magic, serial and key. The public key in the trailer only says
//! who claims to have signed; a device trusts a gallery when that key is
//! the one it was given *and* the signature verifies with it.
//!
//! The serial says which gallery is current: a signature proves who made a
//! gallery, not that it is the latest, so without it anyone who can write
//! the device's gallery file could bring back any gallery the school ever
//! signed, people since removed included. `rollcall export` signs each
//! gallery with a serial above the last one; a device remembers the
//! highest serial it accepted from each key and refuses lower ones.
//! Trailers of the first format (`RCSIGNED`, no serial) are refused with
//! that reason.
//!
//! Key files are text, so that they can be read and copied by hand: the
//! public key is one line, `rollcall-ed25519 <64 hex digits>`; the secret
//! key is `ROLLCALL ED25519 SECRET KEY` and then the 32-byte seed in hex.

use alloc::string::String;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// The first bytes of the trailer.
pub const MAGIC: [u8; 8] = *b"RCSIGN02";
/// The first format's magic, which carried no serial.
const MAGIC_V1: [u8; 8] = *b"RCSIGNED";
/// Length of the trailer.
pub const TRAILER: usize = 8 + 8 + 32 + 64;
/// Length of the first format's trailer.
const TRAILER_V1: usize = 8 + 32 + 64;

const PUBLIC_TAG: &str = "rollcall-ed25519";
const SECRET_TAG: &str = "ROLLCALL ED25519 SECRET KEY";

/// Why a signature or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The gallery carries no signature.
    #[error("not signed (make it with `rollcall export --sign KEY`)")]
    Unsigned,
    /// Bytes follow the gallery that are not a whole trailer.
    #[error("signature truncated or malformed: {0} bytes after the gallery, a signature is {TRAILER}")]
    Truncated(usize),
    /// The trailer's magic is wrong.
    #[error("bytes after the gallery are not a rollcall signature")]
    NotASignature,
    /// A signature of the first format, which says nothing of which
    /// gallery is current.
    #[error("signed by an older rollcall, without a serial; export and sign it again")]
    NoSerial,
    /// Signed, by another key than the trusted one.
    #[error("signed by another key ({found}), not the trusted one ({trusted})")]
    OtherKey {
        /// Hex prefix of the key that signed.
        found: String,
        /// Hex prefix of the trusted key.
        trusted: String,
    },
    /// The signature does not verify: the file changed after signing.
    #[error("the signature does not match the file: it was changed after signing")]
    BadSignature,
    /// A key file that does not parse.
    #[error("not a rollcall {0} key file")]
    BadKeyFile(&'static str),
}

/// A public key a device trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// A secret signing key.
pub struct SecretKey(SigningKey);

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the secret.
        write!(f, "SecretKey({})", self.public().short())
    }
}

impl SecretKey {
    /// The key whose seed is `seed` (32 random bytes).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The secret key file's text.
    pub fn to_text(&self) -> String {
        let mut s = String::from(SECRET_TAG);
        s.push('\n');
        s.push_str(&crate::digest::hex(self.0.as_bytes()));
        s.push('\n');
        s
    }

    /// Parses a secret key file.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(SECRET_TAG) {
            return Err(SignatureError::BadKeyFile("secret"));
        }
        let seed = lines.next().and_then(crate::digest::parse_sha256).ok_or(SignatureError::BadKeyFile("secret"))?;
        if lines.next().is_some() {
            return Err(SignatureError::BadKeyFile("secret"));
        }
        Ok(SecretKey::from_seed(&seed))
    }

    /// `gallery` (a gallery file's bytes) with its signature trailer,
    /// carrying `serial`.
    pub fn sign(&self, gallery: &[u8], serial: u64) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::with_capacity(gallery.len() + TRAILER);
        out.extend_from_slice(gallery);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&serial.to_le_bytes());
        out.extend_from_slice(self.0.verifying_key().as_bytes());
        let sig = self.0.sign(&out);
        out.extend_from_slice(&sig.to_bytes());
        out
    }
}

/// What a signature trailer claims, before it is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The key that claims to have signed.
    pub signer: [u8; 32],
    /// The gallery's serial.
    pub serial: u64,
}

impl Claim {
    /// Reads a trailer (as [`split`] returns it).
    pub fn of(trailer: &[u8]) -> Result<Claim, SignatureError> {
        if trailer.len() != TRAILER {
            return Err(SignatureError::Truncated(trailer.len()));
        }
        let mut serial = [0u8; 8];
        serial.copy_from_slice(&trailer[8..16]);
        let mut signer = [0u8; 32];
        signer.copy_from_slice(&trailer[16..48]);
        Ok(Claim { signer, serial: u64::from_le_bytes(serial) })
    }

    /// The signer's first 12 hex digits, as [`PublicKey::short`] gives them.
    pub fn signer_short(&self) -> String {
        crate::digest::hex(&self.signer[..6])
    }
}

impl PublicKey {
    /// The public key file's text (one line).
    pub fn to_text(&self) -> String {
        let mut s = String::from(PUBLIC_TAG);
        s.push(' ');
        s.push_str(&crate::digest::hex(self.0.as_bytes()));
        s.push('\n');
        s
    }

    /// Parses a public key file.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let mut words = text.split_whitespace();
        if words.next() != Some(PUBLIC_TAG) {
            return Err(SignatureError::BadKeyFile("public"));
        }
        let bytes = words.next().and_then(crate::digest::parse_sha256).ok_or(SignatureError::BadKeyFile("public"))?;
        if words.next().is_some() {
            return Err(SignatureError::BadKeyFile("public"));
        }
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|_| SignatureError::BadKeyFile("public"))
    }

    /// The first 12 hex digits, to name the key in messages.
    pub fn short(&self) -> String {
        crate::digest::hex(&self.0.as_bytes()[..6])
    }

    /// The key's 32 bytes.
    pub fn bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// All 64 hex digits, to name the key in a state file.
    pub fn hex(&self) -> String {
        crate::digest::hex(self.0.as_bytes())
    }
}

/// Splits a file into the gallery and its trailer, given the gallery's own
/// length (from its header): `Ok(None)` when unsigned.
pub fn split(bytes: &[u8], gallery_len: usize) -> Result<(&[u8], Option<&[u8]>), SignatureError> {
    if bytes.len() <= gallery_len {
        return Ok((bytes, None));
    }
    let (gallery, rest) = bytes.split_at(gallery_len);
    if rest.len() == TRAILER_V1 && rest[..8] == MAGIC_V1 {
        return Err(SignatureError::NoSerial);
    }
    if rest.len() != TRAILER {
        return Err(SignatureError::Truncated(rest.len()));
    }
    if rest[..8] != MAGIC {
        return Err(SignatureError::NotASignature);
    }
    Ok((gallery, Some(rest)))
}

/// Checks that `trailer` is `trusted`'s signature of `gallery`; gives the
/// serial it signed.
pub fn verify(gallery: &[u8], trailer: Option<&[u8]>, trusted: &PublicKey) -> Result<u64, SignatureError> {
    let trailer = trailer.ok_or(SignatureError::Unsigned)?;
    let claim = Claim::of(trailer)?;
    if claim.signer != *trusted.0.as_bytes() {
        return Err(SignatureError::OtherKey { found: claim.signer_short(), trusted: trusted.short() });
    }
    let (signed_tail, sig) = trailer.split_at(TRAILER - 64);
    let sig: [u8; 64] = sig.try_into().map_err(|_| SignatureError::Truncated(trailer.len()))?;
    let mut message = alloc::vec::Vec::with_capacity(gallery.len() + signed_tail.len());
    message.extend_from_slice(gallery);
    message.extend_from_slice(signed_tail);
    trusted.0.verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&sig)).map_err(|_| SignatureError::BadSignature)?;
    Ok(claim.serial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_reject_other_text() {
        let secret = SecretKey::from_seed(&[7; 32]);
        let again = SecretKey::parse(&secret.to_text()).expect("secret");
        assert_eq!(again.public(), secret.public());
        assert_eq!(PublicKey::parse(&secret.public().to_text()).expect("public"), secret.public());
        assert!(PublicKey::parse(&secret.to_text()).is_err(), "a secret file is not a public key");
        assert!(SecretKey::parse(&secret.public().to_text()).is_err());
        assert!(PublicKey::parse("rollcall-ed25519 abcd").is_err());
        assert!(!alloc::format!("{secret:?}").contains(&crate::digest::hex(&[7; 32])), "Debug never shows the secret");
    }

    #[test]
    fn signatures_verify_only_for_the_signer_and_the_same_bytes() {
        let secret = SecretKey::from_seed(&[1; 32]);
        let other = SecretKey::from_seed(&[2; 32]);
        let signed = secret.sign(b"gallery bytes", 42);
        let (g, t) = split(&signed, 13).expect("split");
        assert_eq!(g, b"gallery bytes");
        assert_eq!(verify(g, t, &secret.public()), Ok(42));
        assert_eq!(Claim::of(t.expect("trailer")).map(|c| c.serial), Ok(42));
        assert!(matches!(verify(g, t, &other.public()), Err(SignatureError::OtherKey { .. })));
        assert_eq!(verify(b"gallery bytez", t, &secret.public()), Err(SignatureError::BadSignature));
        assert_eq!(verify(g, None, &secret.public()), Err(SignatureError::Unsigned));
        assert_eq!(split(&signed[..signed.len() - 1], 13), Err(SignatureError::Truncated(TRAILER - 1)));
        let mut wrong = signed.clone();
        wrong[13] = b'X';
        assert_eq!(split(&wrong, 13), Err(SignatureError::NotASignature));
    }

    /// The serial is signed: a gallery's serial cannot be raised (to pass
    /// a device's rollback check) without the secret key.
    #[test]
    fn regression_an_older_gallery_could_pass_as_current_the_serial_is_signed() {
        let secret = SecretKey::from_seed(&[1; 32]);
        let mut signed = secret.sign(b"gallery bytes", 7);
        signed[13 + 8] = 99;
        let (g, t) = split(&signed, 13).expect("split");
        assert_eq!(Claim::of(t.expect("trailer")).map(|c| c.serial), Ok(99));
        assert_eq!(verify(g, t, &secret.public()), Err(SignatureError::BadSignature));
    }

    #[test]
    fn a_first_format_signature_is_refused_as_having_no_serial() {
        let mut old = b"gallery bytes".to_vec();
        old.extend_from_slice(&MAGIC_V1);
        old.extend_from_slice(&[0; 96]);
        assert_eq!(split(&old, 13), Err(SignatureError::NoSerial));
    }
}
