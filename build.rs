//! Records how the harness was built, for the results' environment record:
//! the compiler's `rustc -V` and the cargo profile; and a fingerprint of the
//! sources, which the harness compares with its worker binary's before it
//! starts that (`cargo run` builds only the harness, so the
//! `parabench-worker` beside it may come from older sources). Nothing else
//! happens here.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=PARABENCH_RUSTC_VERSION={version}");
    let profile = std::env::var("PROFILE").unwrap_or_default();
    println!("cargo:rustc-env=PARABENCH_PROFILE={profile}");
    // The compiler, the profile and every source file, hashed: what makes
    // two builds of the library the same code.
    let mut files = vec!["Cargo.toml".into(), "Cargo.lock".into()];
    rust_files("src".as_ref(), &mut files);
    files.sort();
    let mut hash = Fnv::default();
    hash.add(version.as_bytes());
    hash.add(profile.as_bytes());
    for file in &files {
        hash.add(file.to_string_lossy().as_bytes());
        hash.add(&std::fs::read(file).unwrap_or_default());
    }
    println!("cargo:rustc-env=PARABENCH_SOURCE_ID={:016x}", hash.0);
    // The compiler or the profile rebuild the crate anyway; a changed
    // source file reruns this (a directory is scanned for any change) for a
    // new fingerprint, in milliseconds, before the crate is rebuilt.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-env-changed=RUSTC");
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// FNV-1a, 64 bits: a fingerprint, not a defence against anyone.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        // The length too, so that ("ab", "c") and ("a", "bc") differ.
        for b in (bytes.len() as u64).to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
