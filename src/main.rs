//! The `ancilla` binary: parses the command line, calls the library, maps errors to exit codes
//! (0 success, also with reported rejections; 1 the run failed; 2 bad command line or config).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

/// A failure with its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

/// An error and its causes on one line, each cause added unless the text so far already holds
/// it (most errors here name their cause in their own message; `{:#}` printed it twice).
fn render(error: &anyhow::Error) -> String {
    let mut out = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !out.contains(&cause) {
            out.push_str(": ");
            out.push_str(&cause);
        }
    }
    out
}

fn fail<E>(e: E) -> Failure
where
    E: ancilla::ExitCode + std::error::Error + Send + Sync + 'static,
{
    Failure {
        code: e.exit_code(),
        error: anyhow::Error::new(e),
    }
}

/// A JSON document on standard output (a reader gone is no failure; a full disk is, exit 1).
fn print_json(v: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    ancilla::console::Out::new()
        .line(text)
        .map_err(|e| Failure {
            code: 1,
            error: anyhow::Error::new(e).context("cannot write to standard output"),
        })
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Phantom {
            out,
            subjects,
            seed,
            dicom_rois,
        } => {
            let s = ancilla::phantom::generate(&ancilla::phantom::PhantomOptions {
                out: out.clone(),
                subjects,
                seed,
                dicom_rois,
            })
            .map_err(fail)?;
            // The final summary, also under --quiet (which hides progress only).
            ancilla::say!(
                "phantom: {}, {} under {}",
                ancilla::plural::count(s.subjects, "subject"),
                ancilla::plural::count(s.files, "file"),
                out.display()
            );
            Ok(())
        }
        Command::Scan { inputs, json } => {
            ancilla::ingest::scan_command(&inputs, json.as_deref()).map_err(fail)
        }
        Command::Deid {
            input,
            out,
            key,
            subjects,
            config,
            site_log,
        } => ancilla::deid::run(&ancilla::deid::DeidOptions {
            input,
            out,
            key,
            subjects,
            config,
            site_log,
            shard: None,
        })
        .and_then(ancilla::deid::DeidSummary::checked)
        .map(|_| ())
        .map_err(fail),
        Command::Convert {
            input,
            out,
            uncompressed,
        } => ancilla::convert::convert_command(&input, &out, !uncompressed, quiet).map_err(fail),
        Command::Suv { series_dir } => {
            let v = ancilla::quant::suv_json(&series_dir).map_err(fail)?;
            print_json(&v)
        }
        Command::Adc { series_dir, out } => {
            let v = ancilla::quant::adc_command(&series_dir, &out).map_err(fail)?;
            print_json(&v)
        }
        Command::Features {
            image,
            mask,
            labels,
            out,
            mtv_suv,
            texture_bin_width,
            texture_min,
            subject,
        } => ancilla::quant::features(&ancilla::quant::FeaturesOptions {
            image,
            mask,
            labels,
            out,
            suv_thresholds: mtv_suv,
            texture_bin_width,
            texture_min,
            subject,
        })
        .map_err(fail),
        Command::Link {
            features,
            subjects,
            tte,
            pathology,
            out,
            imaging,
            key,
            procedures,
            arm,
            exclude_series,
        } => ancilla::clinical::link(&ancilla::clinical::LinkOptions {
            features,
            subjects,
            tte,
            pathology,
            out,
            imaging,
            key,
            procedures,
            arm,
            exclude_series,
            roles: ancilla::clinical::TableRoles::OPTIONS,
        })
        .map_err(fail),
        Command::Analyze {
            table,
            out,
            time,
            event,
            ci,
            cutoffs,
        } => {
            let cutoffs = ancilla::stats::parse_cutoffs(&cutoffs).map_err(fail)?;
            // Not given: the time's endpoint's, found once the table is read.
            let event = event.unwrap_or_default();
            let opts = ancilla::stats::AnalyzeOptions {
                table,
                out,
                time,
                event,
                ci,
                cutoffs,
            };
            ancilla::report::analyze_command(&opts, quiet).map_err(fail)
        }
        Command::Run { config, out, shard } => {
            ancilla::pipeline::run_command(&config, out.as_deref(), shard.as_deref(), quiet)
                .map_err(fail)
        }
        Command::Merge {
            shard_dirs,
            out,
            config,
        } => ancilla::pipeline::merge_command(&shard_dirs, &out, config.as_deref(), quiet)
            .map_err(fail),
    }
}

fn main() -> ExitCode {
    // dicom-rs errors (snafu) capture a backtrace when RUST_BACKTRACE=1, and the parser ends every
    // data set on such an error: 7% of a de-identification run. ancilla never prints them; panics
    // keep their backtraces (RUST_BACKTRACE is left as it is). Set before any thread starts.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    // A panic's message may quote a file's values (a patient's name or date): it is not printed,
    // only where the defect is. ANCILLA_SHOW_PANICS=1 prints it, for a developer on test data.
    if std::env::var_os("ANCILLA_SHOW_PANICS").is_none() {
        std::panic::set_hook(Box::new(|info| {
            // A decoder's panic on a malformed file: caught, and the file reported with its
            // reason (`panic_guard`); not a defect of ancilla.
            if ancilla::panic_guard::in_decoder() {
                return;
            }
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            ancilla::say!(
                "ancilla: internal error{at} (a defect: please report it; its message is not \
                 shown, as it may quote a file's values)"
            );
        }));
    }
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            ancilla::say!("error: {}", render(&f.error));
            ExitCode::from(f.code)
        }
    }
}
