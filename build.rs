//! Rebuild when the bundled demo site changes: `include_dir!` cannot tell cargo which files
//! it read on stable Rust, and a directory given here is watched recursively.

fn main() {
    println!("cargo:rerun-if-changed=src/demo/site");
    println!("cargo:rerun-if-changed=rules");
}
