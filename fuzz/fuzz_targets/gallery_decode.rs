//! Fuzzes the gallery decoder: any bytes must give a gallery or an error,
//! never a panic, and a decoded gallery must classify without panicking
//! (its shapes are validated) and re-encode to the same bytes.
//!
//! Random bytes rarely pass the checksum, so each input is tried twice: as a
//! whole file, and as a payload wrapped in a valid header and checksum, which
//! sends the mutations into the postcard decoding and shape validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollcall_shared::gallery::{ClassifierKind, FORMAT_VERSION, Gallery, MAGIC};
use sha2::{Digest, Sha256};

fn check(bytes: &[u8]) {
    if let Ok(g) = Gallery::decode(bytes) {
        let x = vec![0.1f32; g.dim as usize];
        for kind in ClassifierKind::ALL {
            let _ = g.predict(kind, &x);
        }
        let again = g.encode().expect("a decoded gallery encodes");
        assert_eq!(Gallery::decode(&again).expect("re-decodes"), g, "decode, encode, decode is stable");
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut wrapped = MAGIC.to_vec();
    wrapped.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    wrapped.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wrapped.extend_from_slice(data);
    let sum = Sha256::digest(&wrapped);
    wrapped.extend_from_slice(&sum);
    check(&wrapped);
});
