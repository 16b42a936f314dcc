//! Tests and examples of this crate run against the library videollm-sys
//! linked (DEP_VIDEOLLM_LIB_DIR): give them an rpath to it so `cargo test`
//! and `cargo run --example` work without LD_LIBRARY_PATH. Only this
//! package's own test/example binaries get it (rustc-link-arg is not
//! passed on to crates that depend on this one).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_VIDEOLLM_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_VIDEOLLM_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
    }
}
