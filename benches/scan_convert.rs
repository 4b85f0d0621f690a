//! Scan and convert throughput on a phantom cohort, as ratios to baselines measured in the same
//! run: a `cat`-like read loop over the same files, and dcm2niix on the same tree (when found:
//! `$DCM2NIIX`, or `dcm2niix` on PATH; `pip install dcm2niix` ships it).
//!
//! Run: `cargo bench --bench scan_convert` (env ANCILLA_BENCH_SUBJECTS, default 20).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out
}

/// Best of `n` runs.
fn best<F: FnMut()>(n: usize, mut f: F) -> Duration {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn find_dcm2niix() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("DCM2NIIX") {
        return Some(PathBuf::from(p));
    }
    let ok = Command::new("dcm2niix").arg("-v").output().is_ok();
    ok.then(|| PathBuf::from("dcm2niix"))
}

fn main() {
    let n: usize = std::env::var("ANCILLA_BENCH_SUBJECTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let tmp = tempfile::tempdir().expect("temp dir");
    let cohort = tmp.path().join("cohort");
    if let Err(e) = ancilla::phantom::generate(&ancilla::phantom::PhantomOptions {
        out: cohort.clone(),
        subjects: n,
        seed: 7,
        dicom_rois: false,
    }) {
        eprintln!("bench skipped: phantom generation failed: {e}");
        return;
    }
    let tree = cohort.join("site-export");
    let files = files_under(&tree);
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mb = bytes as f64 / 1e6;
    println!("cohort: {n} subjects, {} files, {:.1} MB", files.len(), mb);

    // Baseline: read every file (warm cache), in parallel like the scan.
    let read = best(3, || {
        use rayon::prelude::*;
        let total: usize = files
            .par_iter()
            .map(|f| std::fs::read(f).map(|b| b.len()).unwrap_or(0))
            .sum();
        assert!(total > 0);
    });
    let scan = best(3, || {
        let inv = ancilla::ingest::scan_paths(std::slice::from_ref(&tree)).expect("scan");
        assert!(!inv.series.is_empty());
    });
    // Every timed run writes into a fresh directory and nothing is deleted while timing: on ext4
    // without a journal (as here), creating files after a large deletion scans past every inode
    // freed in the last minute (kernel `recently_deleted`), which made runs 2-10x slower at random.
    let mut run = 0;
    let mut fresh = |name: &str| {
        run += 1;
        tmp.path().join(format!("{name}-{run}"))
    };
    // convert and dcm2niix alternate (five rounds, best of each), so a machine that speeds up or
    // slows down during the run weighs on both alike; each starts after a sync, so neither is
    // slowed by the write-back of what the run before it wrote (hundreds of MB each time).
    let dcm2niix = find_dcm2niix();
    let sync = || {
        let _ = Command::new("sync").status();
    };
    let (mut convert, mut d2n) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        let out = fresh("nifti");
        sync();
        let t = Instant::now();
        ancilla::convert::convert(&tree, &out, false, true).expect("convert");
        convert = convert.min(t.elapsed());
        if let Some(bin) = &dcm2niix {
            let dout = fresh("dcm2niix");
            std::fs::create_dir_all(&dout).expect("mkdir");
            sync();
            let t = Instant::now();
            let st = Command::new(bin)
                .args(["-z", "n", "-b", "y", "-ba", "y", "-f", "%s_%d", "-o"])
                .arg(&dout)
                .arg(&tree)
                .output()
                .expect("dcm2niix");
            d2n = d2n.min(t.elapsed());
            assert!(st.status.success() || !dout.as_os_str().is_empty());
        }
    }
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "{:<28} {:>9} {:>12} {:>10} {:>14}",
        "step", "seconds", "files/s", "MB/s", "ratio to read"
    );
    for (name, d) in [
        ("read all files (baseline)", read),
        ("scan (headers)", scan),
        ("convert (.nii, uncompressed)", convert),
    ] {
        println!(
            "{:<28} {:>9.3} {:>12.0} {:>10.1} {:>14.2}",
            name,
            secs(d),
            files.len() as f64 / secs(d),
            mb / secs(d),
            secs(d) / secs(read)
        );
    }
    match dcm2niix {
        Some(_) => {
            println!(
                "{:<28} {:>9.3} {:>12.0} {:>10.1} {:>14.2}",
                "dcm2niix -z n (same tree)",
                secs(d2n),
                files.len() as f64 / secs(d2n),
                mb / secs(d2n),
                secs(d2n) / secs(read)
            );
            println!(
                "convert speed-up over dcm2niix: {:.2}x",
                secs(d2n) / secs(convert)
            );
        }
        None => println!(
            "dcm2niix not found (set DCM2NIIX or pip install dcm2niix): comparison skipped"
        ),
    }
}
