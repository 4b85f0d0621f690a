//! Panics of third-party decoders on malformed input (dicom-rs's JPEG decoding of a frame whose
//! header disagrees with the DICOM header, openjp2 and pure_jpegls on broken streams): `catch_decoder` runs the decoder
//! behind `catch_unwind`, and the caller reports the file with its reason. While it runs, the
//! thread is marked, so that the binary's panic hook does not also print "internal error …
//! please report it" for a panic that is the file's fault and already has its reason in the
//! report. Every other panic is a defect of ancilla and is still announced.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static DECODING: Cell<u32> = const { Cell::new(0) };
}

/// `f` behind `catch_unwind`, this thread marked as decoding while it runs.
pub fn catch_decoder<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    DECODING.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    DECODING.with(|d| d.set(d.get() - 1));
    result
}

/// Whether this thread is inside `catch_decoder`: a panic here is a decoder's, on a file.
pub fn in_decoder() -> bool {
    DECODING.with(|d| d.get() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_lasts_while_the_decoder_runs_and_after_its_panic_is_gone() {
        assert!(!in_decoder());
        let seen = catch_decoder(in_decoder);
        assert!(matches!(seen, Ok(true)));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = catch_decoder(|| -> u8 { panic!("a malformed stream") });
        std::panic::set_hook(hook);
        assert!(r.is_err());
        assert!(!in_decoder());
        // Nested guards keep the mark until the outer one ends.
        let nested = catch_decoder(|| {
            let _ = catch_decoder(|| ());
            in_decoder()
        });
        assert!(matches!(nested, Ok(true)));
    }
}
