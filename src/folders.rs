//! Where an output folder may lie: never inside the folder a command reads. Its files would be
//! read back as input by the next run (a rerun of `convert` met its own NIfTI files as rejected
//! "not DICOM" files; of `run`, its released copies as a second set of subjects), and a site's
//! export is input that is not to be written to.

use std::path::{Component, Path, PathBuf};

/// `path` made absolute with every link of its existing part resolved; the part that does not
/// exist yet (an output folder a run is about to create) is appended as written.
fn resolved(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(p) = existing.canonicalize() {
            let mut p = p;
            for c in rest.iter().rev() {
                match c {
                    Component::ParentDir => {
                        p.pop();
                    }
                    Component::CurDir => {}
                    c => p.push(c),
                }
            }
            return Some(p);
        }
        rest.push(existing.components().next_back()?);
        existing = existing.parent()?;
    }
}

/// Whether `out` is `input` or lies inside it (links resolved). False when either cannot be
/// resolved (the command then reports its own error on that path).
pub fn lies_within(out: &Path, input: &Path) -> bool {
    match (resolved(out), resolved(input)) {
        (Some(o), Some(i)) => o.starts_with(&i),
        _ => false,
    }
}

/// The first of `inputs` (what the command calls it, and its path) that writing `outputs` would
/// overwrite (the same file, links resolved), said: an input is never written to. A site-side log
/// given the key's path overwrote the study key, exit 0; `link --out` the ADSL it read.
pub fn overwritten_input(outputs: &[&Path], inputs: &[(&str, &Path)]) -> Option<String> {
    let mut files = Vec::new();
    for out in outputs {
        let Some(o) = resolved(out) else { continue };
        files.push((out, o));
    }
    for (what, input) in inputs {
        let Some(i) = resolved(input) else { continue };
        if let Some((out, _)) = files.iter().find(|(_, o)| *o == i) {
            return Some(format!(
                "{} is {what} ({}): an output would overwrite an input, which ancilla never \
                 writes to; choose another output path",
                out.display(),
                input.display()
            ));
        }
    }
    None
}

/// The message a command gives when its output folder lies inside its input.
pub fn inside_input_message(out: &Path, input: &Path) -> String {
    format!(
        "the output folder {} lies inside the input {}: the next run would read its outputs as \
         input, and the input tree is not written to; choose an output folder outside it",
        out.display(),
        input.display()
    )
}

/// The message a command gives when the site-side log (input paths: PHI) would be written under
/// its output folder.
pub fn site_log_in_output_message(log: &Path, out: &Path) -> String {
    format!(
        "the site-side log {} lies inside the output folder {}: it lists the input's paths \
         (patient names in folder names), which nothing under the output may hold; keep it on \
         the site's side",
        log.display(),
        out.display()
    )
}

/// The message a command gives when the site-side log would be written inside the input it
/// reads (a site's export is not written to, and the next run would read the log as a file).
pub fn site_log_in_input_message(log: &Path, input: &Path) -> String {
    format!(
        "the site-side log {} lies inside the input {}: the input tree is not written to, and \
         the next run would read the log as one of its files; keep it beside the export",
        log.display(),
        input.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_that_is_an_input_is_named() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("key.bin");
        std::fs::write(&key, b"k").unwrap();
        let log = d.path().join("sub/../key.bin");
        let said = overwritten_input(&[&log], &[("the study key (--key)", &key)]).unwrap();
        assert!(said.contains("is the study key (--key)"), "{said}");
        let other = d.path().join("log.tsv");
        assert!(overwritten_input(&[&other], &[("the study key", &key)]).is_none());
    }

    #[test]
    fn inside_outside_and_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("export");
        std::fs::create_dir_all(input.join("sub")).unwrap();
        assert!(lies_within(&input, &input));
        assert!(lies_within(&input.join("sub"), &input));
        // Not created yet, and written with `..` and `.`.
        assert!(lies_within(&input.join("new/./deeper"), &input));
        assert!(lies_within(&input.join("sub/../out"), &input));
        assert!(!lies_within(&input.join("../out"), &input));
        assert!(!lies_within(&dir.path().join("export-out"), &input));
        assert!(!lies_within(dir.path(), &input));
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&input, &link).unwrap();
            assert!(lies_within(&link.join("out"), &input));
            assert!(lies_within(&input.join("out"), &link));
        }
    }
}
