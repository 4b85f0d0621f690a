//! Build script: records the git commit for provenance.json (ANCILLA_GIT_COMMIT), "unknown" outside
//! a git checkout. A build from a tree whose tracked files differ from that commit says so:
//! `<commit>-dirty-<hash of the difference>`, so provenance never names a commit that does not hold
//! the code that ran, and two different uncommitted builds never share the pipeline's stage keys
//! (which include this string: outputs of another build are made again, not reused).

use std::hash::{Hash, Hasher};
use std::process::Command;

/// What the binary is built from (tests, benches, documents and data are not).
const BUILT_FROM: [&str; 4] = ["src", "Cargo.toml", "Cargo.lock", "build.rs"];

fn git(args: &[&str]) -> Option<Vec<u8>> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout)
}

fn main() {
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        None => "unknown".to_string(),
        Some(head) => {
            let head = String::from_utf8_lossy(&head).trim().to_string();
            // The difference from HEAD (staged or not) of what the binary is built from; an
            // untracked source file is only built once a tracked one names it, and then that
            // file differs too.
            let mut args = vec!["diff", "HEAD", "--no-ext-diff", "--binary", "--"];
            args.extend(BUILT_FROM);
            match git(&args) {
                Some(diff) if !diff.is_empty() => {
                    // SipHash with fixed keys: the same difference gives the same label in every
                    // build with this compiler; that is all a label of a development build needs.
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    diff.hash(&mut h);
                    format!("{head}-dirty-{:08x}", h.finish() as u32)
                }
                _ => head,
            }
        }
    };
    println!("cargo:rustc-env=ANCILLA_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-changed=.git/index");
    // Any edit of the code may make (or unmake) a dirty build.
    for path in BUILT_FROM {
        println!("cargo:rerun-if-changed={path}");
    }
}
