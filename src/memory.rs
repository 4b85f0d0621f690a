//! Heap hygiene for long batch runs (glibc on Linux; no-ops elsewhere): a bounded heap set up once
//! per run, and a trim after each stage and each subject, so the resident set follows the work of
//! one subject instead of growing with the cohort; large zeroed voxel buffers backed by
//! transparent huge pages where the kernel offers them.

/// Keep glibc's heap bounded without mapping every volume afresh. By default its mmap threshold
/// grows (up to 32 MB) each time a large block is freed, and fragments of many subjects pile up
/// in the arenas. A fixed threshold of 256 KiB kept the resident set flat but mapped, zeroed and
/// page-faulted every slice buffer and volume anew (12% of a run's CPU, in the kernel). Now
/// blocks up to 32 MiB (every volume of the phantom) come from the arenas and are reused within a
/// subject, nothing is trimmed on each free, and `release_freed_memory` after each subject and
/// stage gives the freed pages back: the resident set still follows one subject (61-66 MB at 10
/// and at 100 subjects; it was 55 and 61), and the 100-subject demo runs about 5% faster, the
/// 10-subject one 10%. Two arenas bound the per-thread heaps.
pub fn bounded_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it takes no pointer and is safe to call
    // before or after allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 * 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Give the pages of freed heap memory back to the OS (glibc keeps them resident otherwise, and
/// the next subject's buffers land elsewhere, so the resident set creeps up subject by subject).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the OS; it takes no
    // pointer and is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The most memory (bytes) one series' volumes may take: half of what this process may use (the
/// machine's memory, or a lower limit: its cgroup's, as Slurm's --mem sets it, or its address
/// space's, `ulimit -v`). A series whose header
/// claims more (65535 × 65535 pixels) is refused with the reason; its allocation aborted the
/// whole batch (exit 134).
pub fn volume_budget_bytes() -> u64 {
    // Read once: the limits do not change while the process runs, and every series asks.
    static BUDGET: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(read_volume_budget)
}

fn read_volume_budget() -> u64 {
    let mut budget = u64::MAX;
    if let Ok(info) = std::fs::read_to_string("/proc/meminfo") {
        if let Some(kb) = info
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
        {
            budget = budget.min(kb.saturating_mul(1024));
        }
    }
    // A cgroup's limit (Slurm's --mem, a container's): v2, else v1 (whose "no limit" is a huge
    // number, which the minimum leaves aside).
    for file in [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ] {
        if let Some(bytes) = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
        {
            budget = budget.min(bytes);
        }
    }
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct given; no other memory is touched.
        if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0
            && limit.rlim_cur != libc::RLIM_INFINITY
        {
            budget = budget.min(limit.rlim_cur);
        }
    }
    if budget == u64::MAX {
        budget = 16 << 30;
    }
    budget / 2
}

/// A zeroed buffer of `n` elements for voxel data. On Linux the 2 MiB-aligned part of a large
/// one is advised to use transparent huge pages before anything touches it: filling that part
/// then takes one page fault per 2 MiB instead of 512 (each fault costs about 2 µs here: a
/// 128×128×90 float PET volume spent 3 ms faulting its pages in). Without THP (or `enabled` =
/// never) the advice is ignored.
pub fn zeroed_voxels<T: bytemuck::Zeroable + Clone>(n: usize) -> Vec<T> {
    let v = vec![T::zeroed(); n];
    advise_huge_pages(&v);
    v
}

fn advise_huge_pages<T>(v: &[T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(v);
        if bytes < HUGE {
            return;
        }
        let start = v.as_ptr() as usize;
        let from = start.next_multiple_of(HUGE);
        let to = (start + bytes) / HUGE * HUGE;
        if to > from {
            // SAFETY: the range [from, to) lies inside `v`'s allocation; MADV_HUGEPAGE only
            // advises the kernel how to back those pages and changes no byte of them.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Held for writing while a heavy item of `heavy_alone_then_parallel` is worked on, for reading
/// while light ones are.
static HEAVY: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Whether the calling thread is none of rayon's pool (only such a thread may wait for `HEAVY`).
fn outside_pool() -> bool {
    rayon::current_thread_index().is_none()
}

/// `f` over `items`, results in item order: the heavy items one at a time (each may still run in
/// parallel inside; across the threads that call this, when they are not rayon's, each heavy
/// item alone in the process), then the others in parallel (rayon). Running everything at once lets rayon
/// start waiting items on a thread blocked in a join, so several whole-body volumes would be in
/// memory together and a run's peak would grow with the cohort.
pub fn heavy_alone_then_parallel<T, R>(
    items: &[T],
    heavy: impl Fn(&T) -> bool + Sync,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    use rayon::prelude::*;
    let mut first: Vec<Option<R>> = items
        .iter()
        .enumerate()
        .map(|(i, t)| {
            heavy(t).then(|| {
                // A heavy item has the whole process to itself (subjects run side by side on
                // workers of their own): nothing else of another subject is in memory beside
                // it. Not on a pool thread: one waiting there for the lock could be holding,
                // lower on its stack, work that the lock's holder waits for.
                let _alone =
                    outside_pool().then(|| HEAVY.write().unwrap_or_else(|e| e.into_inner()));
                f(i, t)
            })
        })
        .collect();
    // The light items of several subjects may share the process (never with a heavy one).
    let _shared = outside_pool().then(|| HEAVY.read().unwrap_or_else(|e| e.into_inner()));
    let rest: Vec<Option<R>> = items
        .par_iter()
        .enumerate()
        .map(|(i, t)| (!heavy(t)).then(|| f(i, t)))
        .collect();
    first
        .iter_mut()
        .zip(rest)
        .filter_map(|(a, b)| a.take().or(b))
        .collect()
}

/// `work` over `items` on `workers` threads of their own (each takes the next item when done
/// with its last), and `consume` of every result in item order on the calling thread (a result
/// that is ready early waits for those before it). The items' own rayon work shares the global
/// pool, but an item is only ever started by a worker, never by a pool thread waiting in a join,
/// so at most `workers` items are in memory at once however long the list: subjects overlap
/// (one's serial parts beside the other's) and memory does not grow with the cohort. The first
/// error of `consume` stops the workers taking new items and is returned.
pub fn in_order_on_workers<T, R, E>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
    mut consume: impl FnMut(&T, R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, R)>();
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            let tx = tx.clone();
            let (next, stop, work) = (&next, &stop, &work);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if tx.send((i, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut ready = std::collections::BTreeMap::new();
        let mut due = 0;
        let mut outcome = Ok(());
        for (i, r) in rx {
            ready.insert(i, r);
            while let Some(r) = ready.remove(&due) {
                if outcome.is_ok() {
                    outcome = consume(&items[due], r);
                    if outcome.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                due += 1;
            }
        }
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results come in item order whatever order the workers finish in; no more than `workers`
    /// items are under way at once; an error of `consume` stops the run and is returned.
    #[test]
    fn workers_hand_results_over_in_item_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let items: Vec<u64> = (0..40).collect();
        let (busy, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let mut seen = Vec::new();
        let r: Result<(), ()> = in_order_on_workers(
            &items,
            3,
            |&i| {
                let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Later items finish sooner: results arrive out of order.
                std::thread::sleep(std::time::Duration::from_micros((40 - i) * 50));
                busy.fetch_sub(1, Ordering::SeqCst);
                i * 10
            },
            |&i, r| {
                assert_eq!(r, i * 10);
                seen.push(i);
                Ok(())
            },
        );
        assert!(r.is_ok());
        assert_eq!(seen, items);
        let most = most.load(Ordering::SeqCst);
        assert!((1..=3).contains(&most), "{most}");
        let mut taken = 0;
        let r = in_order_on_workers(
            &items,
            2,
            |&i| i,
            |&i, _| {
                taken += 1;
                if i == 5 {
                    Err(i)
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(r, Err(5));
        assert_eq!(taken, 6);
        let none: Result<(), ()> = in_order_on_workers(&[] as &[u8], 2, |_| (), |_, _| Ok(()));
        assert!(none.is_ok());
    }

    /// Buffers below, at and above the huge-page size are zeroed, of the asked length, and
    /// writable over their whole length (the advised part included).
    #[test]
    fn zeroed_voxels_are_zero_and_writable() {
        for n in [0usize, 1, 1000, 1 << 19, (3 << 20) / 4 + 17, 3 << 20] {
            let mut v = zeroed_voxels::<f32>(n);
            assert_eq!(v.len(), n);
            assert!(v.iter().all(|x| *x == 0.0), "{n}");
            for (i, x) in v.iter_mut().enumerate() {
                *x = i as f32;
            }
            assert!(v.iter().enumerate().all(|(i, x)| *x == i as f32), "{n}");
        }
        let b = zeroed_voxels::<u8>(5 << 20);
        assert!(b.iter().all(|x| *x == 0));
    }
}
