//! Finds libvideollm without any helper crate:
//!  1. VIDEOLLM_LIB_DIR: the directory holding libvideollm.so (a build
//!     directory or an install prefix's lib dir);
//!  2. otherwise `pkg-config --libs videollm` (honours PKG_CONFIG_PATH; for
//!     an uninstalled meson build use <build>/meson-uninstalled);
//!  3. otherwise plain `-lvideollm` from the default search path.
//! The directory is passed on as DEP_VIDEOLLM_LIB_DIR so the `videollm`
//! crate can give its own tests and examples an rpath.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=VIDEOLLM_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");

    if let Some(dir) = env::var_os("VIDEOLLM_LIB_DIR") {
        let dir = dir.to_string_lossy().into_owned();
        println!("cargo:rustc-link-search=native={}", dir);
        println!("cargo:rustc-link-lib=dylib=videollm");
        println!("cargo:lib_dir={}", dir);
        return;
    }

    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    match Command::new(&pkg_config).args(["--libs", "videollm"]).output() {
        Ok(out) if out.status.success() => {
            let flags = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut linked = false;
            for flag in flags.split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={}", dir);
                    println!("cargo:lib_dir={}", dir);
                } else if let Some(lib) = flag.strip_prefix("-l") {
                    println!("cargo:rustc-link-lib=dylib={}", lib);
                    linked |= lib == "videollm";
                }
            }
            if !linked {
                println!("cargo:rustc-link-lib=dylib=videollm");
            }
        }
        _ => {
            println!(
                "cargo:warning=neither VIDEOLLM_LIB_DIR nor `{} --libs videollm` found libvideollm; trying -lvideollm",
                pkg_config
            );
            println!("cargo:rustc-link-lib=dylib=videollm");
        }
    }
}
