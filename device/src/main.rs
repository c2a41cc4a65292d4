//! `rollcall-device`: the edge runtime (camera in, events out). Built out in
//! its own issue; for now it only proves the crate graph links.

fn main() {
    println!("rollcall-device {}: not implemented yet", env!("CARGO_PKG_VERSION"));
}
