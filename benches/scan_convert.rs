//! Scan and convert throughput on a phantom cohort, as ratios to baselines measured in the same
//! run: a `cat`-like read loop over the same files, the I/O floor of a conversion (read the files
//! and write the bytes convert wrote), and dcm2niix on the same tree (when found: `$DCM2NIIX`, or
//! `dcm2niix` on PATH; `pip install dcm2niix` ships it). Temp folders follow `TMPDIR`
//! (`TMPDIR=/dev/shm` times the code without the disk).
//!
//! Run: `cargo bench --bench scan_convert` (env ANCILLA_BENCH_SUBJECTS, default 20). With
//! `ANCILLA_BENCH_COLD=1` (root: it empties the machine's page cache) the same steps are timed
//! again from a cold cache, every file read from the disk as on a first run over an export.

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

/// Read every file whole, in parallel (the `cat`-like baseline): the bytes read.
fn read_all(files: &[PathBuf]) -> usize {
    use rayon::prelude::*;
    files
        .par_iter()
        .map(|f| std::fs::read(f).map(|b| b.len()).unwrap_or(0))
        .sum()
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
        let total = read_all(&files);
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
    // convert, dcm2niix and the I/O floor alternate (five rounds, best of each), so a machine
    // that speeds up or slows down during the run weighs on all alike; each starts after a sync,
    // so none is slowed by the write-back of what the run before it wrote (hundreds of MB).
    let dcm2niix = find_dcm2niix();
    let sync = || {
        let _ = Command::new("sync").status();
    };
    let (mut convert, mut d2n, mut floor) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut written: Vec<(PathBuf, usize)> = Vec::new();
    for _ in 0..5 {
        let out = fresh("nifti");
        sync();
        let t = Instant::now();
        ancilla::convert::convert(&tree, &out, false, true).expect("convert");
        convert = convert.min(t.elapsed());
        if written.is_empty() {
            written = sizes_under(&out);
        }
        if let Some(bin) = &dcm2niix {
            d2n = d2n.min(time_dcm2niix(bin, &tree, &fresh("dcm2niix"), &sync));
        }
        floor = floor.min(time_io_floor(&files, &written, &fresh("floor"), &sync));
    }
    let out_mb = written.iter().map(|(_, n)| n).sum::<usize>() as f64 / 1e6;
    let secs = |d: Duration| d.as_secs_f64();
    println!("warm page cache (every file read once before timing):");
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
    println!(
        "{:<28} {:>9.3} {:>12} {:>10} {:>14.2}",
        "read + write output (floor)",
        secs(floor),
        "",
        "",
        secs(floor) / secs(read)
    );
    println!(
        "output {:.1} MB ({:.2}x the input); convert / floor = {:.2}",
        out_mb,
        out_mb / mb,
        secs(convert) / secs(floor)
    );
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
    if std::env::var("ANCILLA_BENCH_COLD").is_ok_and(|v| v == "1") {
        cold(&tree, &files, mb, dcm2niix.as_deref(), &mut fresh);
    }
}

/// (path under `root`, size) of every file under `root`.
fn sizes_under(root: &Path) -> Vec<(PathBuf, usize)> {
    files_under(root)
        .into_iter()
        .filter_map(|p| {
            let size = std::fs::metadata(&p).ok()?.len() as usize;
            Some((p.strip_prefix(root).ok()?.to_path_buf(), size))
        })
        .collect()
}

/// Wall time of the I/O any converter of the tree must do: read every input file, and write
/// the files convert wrote (same names, folders and sizes) into the new folder `out`, 64 KiB at a
/// time from one buffer as convert's streaming writer writes (making the bytes is not the
/// floor's part), in parallel. The output is larger than the input here (PET as float32 for its
/// per-slice slopes, and its SUVbw copy), so convert's ratio to this floor says how much of its
/// time is its own work, where the ratio to the read loop cannot come near 1.
fn time_io_floor(
    files: &[PathBuf],
    written: &[(PathBuf, usize)],
    out: &Path,
    before: &dyn Fn(),
) -> Duration {
    use rayon::prelude::*;
    std::fs::create_dir_all(out).expect("mkdir");
    before();
    let t = Instant::now();
    let total = read_all(files);
    written.par_iter().for_each(|(rel, size)| {
        let chunk = [1u8; 1 << 16];
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        let mut f = std::fs::File::create(path).expect("create");
        let mut left = *size;
        while left > 0 {
            let n = left.min(chunk.len());
            std::io::Write::write_all(&mut f, &chunk[..n]).expect("write");
            left -= n;
        }
    });
    let d = t.elapsed();
    assert!(total > 0);
    d
}

/// Wall time of dcm2niix converting `tree` into the new folder `out` (uncompressed, with
/// sidecars, as ancilla's convert), `before` run just ahead of the clock.
fn time_dcm2niix(bin: &Path, tree: &Path, out: &Path, before: &dyn Fn()) -> Duration {
    std::fs::create_dir_all(out).expect("mkdir");
    before();
    let t = Instant::now();
    let st = Command::new(bin)
        .args(["-z", "n", "-b", "y", "-ba", "y", "-f", "%s_%d", "-o"])
        .arg(out)
        .arg(tree)
        .output()
        .expect("dcm2niix");
    let d = t.elapsed();
    // It exits non-zero for the phantom's planted defects; what counts is that it converted.
    let written = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "nii"));
    assert!(
        written,
        "dcm2niix wrote no NIfTI: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    d
}

/// Empty the kernel's page cache (root only): every file is read from the disk again, as a
/// site's export is read on a first run. False when not allowed.
fn drop_page_cache() -> bool {
    let _ = Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// The same steps from a cold page cache (opt-in: `ANCILLA_BENCH_COLD=1`, as root; it empties
/// the whole machine's cache): three rounds of read loop (plain, then with read-ahead), scan,
/// convert and dcm2niix, each after the cache is dropped, best of each; ratios to either loop.
fn cold(
    tree: &Path,
    files: &[PathBuf],
    mb: f64,
    dcm2niix: Option<&Path>,
    fresh: &mut impl FnMut(&str) -> PathBuf,
) {
    use rayon::prelude::*;
    if !drop_page_cache() {
        println!("cold page cache: cannot write /proc/sys/vm/drop_caches (not root?): skipped");
        return;
    }
    let mut best = [Duration::MAX; 5];
    for _ in 0..3 {
        drop_page_cache();
        let t = Instant::now();
        let total = read_all(files);
        assert!(total > 0);
        best[0] = best[0].min(t.elapsed());
        // The same loop with the read-ahead ancilla's scan uses: ratios are given to both (the
        // cat-like loop the target names, and one that reads as cleverly as ancilla does).
        drop_page_cache();
        let t = Instant::now();
        let ahead = ancilla::ingest::prefetch::Prefetch::start(
            files.into(),
            ancilla::ingest::prefetch::Span::WholeFiles,
        );
        let total: usize = files
            .par_iter()
            .map(|f| {
                let n = std::fs::read(f).map(|b| b.len()).unwrap_or(0);
                ahead.read_one();
                n
            })
            .sum();
        assert!(total > 0);
        best[4] = best[4].min(t.elapsed());
        drop_page_cache();
        let t = Instant::now();
        let inv = ancilla::ingest::scan_paths(&[tree.to_path_buf()]).expect("scan");
        assert!(!inv.series.is_empty());
        best[1] = best[1].min(t.elapsed());
        let out = fresh("nifti-cold");
        drop_page_cache();
        let t = Instant::now();
        ancilla::convert::convert(tree, &out, false, true).expect("convert");
        best[2] = best[2].min(t.elapsed());
        if let Some(bin) = dcm2niix {
            let out = fresh("dcm2niix-cold");
            best[3] = best[3].min(time_dcm2niix(bin, tree, &out, &|| {
                drop_page_cache();
            }));
        }
    }
    let secs = |d: Duration| d.as_secs_f64();
    println!("cold page cache (dropped before every step; best of 3):");
    let names = [
        "read all files",
        "scan (headers)",
        "convert (.nii, uncompressed)",
        "dcm2niix -z n (same tree)",
        "read all files, read-ahead",
    ];
    println!(
        "{:<28} {:>9} {:>12} {:>10} {:>10} {:>12}",
        "step", "seconds", "files/s", "MB/s", "to read", "to read-ahead"
    );
    for i in [0, 4, 1, 2, 3] {
        let (name, d) = (names[i], best[i]);
        if d == Duration::MAX {
            continue;
        }
        println!(
            "{:<28} {:>9.3} {:>12.0} {:>10.1} {:>10.2} {:>12.2}",
            name,
            secs(d),
            files.len() as f64 / secs(d),
            mb / secs(d),
            secs(d) / secs(best[0]),
            secs(d) / secs(best[4])
        );
    }
    if best[3] != Duration::MAX {
        println!(
            "convert speed-up over dcm2niix (cold): {:.2}x",
            secs(best[3]) / secs(best[2])
        );
    }
}
