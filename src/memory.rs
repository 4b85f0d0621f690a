//! Heap hygiene for long batch runs (glibc on Linux; no-ops elsewhere): a bounded heap set up once
//! per run, and a trim after each stage and each subject, so the resident set follows the work of
//! one subject instead of growing with the cohort.

/// Keep glibc from holding on to freed volumes: by default its mmap threshold grows (up to 32 MB)
/// each time a large block is freed, so later volumes come from the arenas, where fragments of
/// many subjects pile up and the resident set grows with the cohort. A fixed threshold maps every
/// block ≥ 256 KiB afresh and gives it back to the OS on free; two arenas bound the per-thread
/// heaps.
pub fn bounded_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it takes no pointer and is safe to call
    // before or after allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
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

/// `f` over `items`, results in item order: the heavy items one at a time (each may still run in
/// parallel inside), then the others in parallel (rayon). Running everything at once lets rayon
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
        .map(|(i, t)| heavy(t).then(|| f(i, t)))
        .collect();
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
