//! The terminal: progress, summaries and listings written to standard error and standard
//! output. A line that cannot be written (a log file on a full disk, a reader that went away:
//! `| head`) is lost, and never fails the work it reports on: `eprintln!` and `println!` panic on
//! such an error, which aborted a finished `run` (its Slurm job then marked failed) and made
//! `scan | head` an "internal error".

use std::io::Write;

/// `eprintln!` that ignores a failed write (see the module header).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Lines written to standard output. A reader that went away ends the listing quietly (the
/// rest is not written, and the command goes on with its other work); any other failed write
/// (a full disk) is an error.
#[derive(Debug, Default)]
pub struct Out {
    gone: bool,
}

impl Out {
    pub fn new() -> Out {
        Out::default()
    }

    /// Write `text` and a newline.
    pub fn line(&mut self, text: impl std::fmt::Display) -> std::io::Result<()> {
        self.write(format_args!("{text}\n"))
    }

    /// Write `text` as it is.
    pub fn text(&mut self, text: &str) -> std::io::Result<()> {
        self.write(format_args!("{text}"))
    }

    fn write(&mut self, args: std::fmt::Arguments) -> std::io::Result<()> {
        if self.gone {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        match out.write_fmt(args).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.gone = true;
                Ok(())
            }
            other => other,
        }
    }
}
