//! Paths as text for the site's own eyes (`scan`'s listing, the site-side log): byte for byte,
//! the bytes of a file name that are not UTF-8 escaped as `\xNN`, so that the site can find the
//! file the line names (the lossy form wrote U+FFFD, which names no file); control characters
//! (a newline, a tab, a carriage return) escaped the same way, as a newline in a file name split
//! the listing's line and the site log's row (a path without its reason). A backslash is
//! written `\\`, so every escape reads one way. Never for an output folder's files: site paths
//! are PHI there (`redact`).

use std::path::Path;

/// `path` as text: its UTF-8 as it is, but control characters and any other byte as `\xNN`
/// and a backslash as `\\`.
pub fn shown(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in path.as_os_str().as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    c if c.is_control() && c.is_ascii() => {
                        out.push_str(&format!("\\x{:02x}", c as u32))
                    }
                    c => out.push(c),
                }
            }
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    #[cfg(unix)]
    fn bytes_that_are_not_utf8_are_escaped_and_the_rest_kept() {
        use std::os::unix::ffi::OsStrExt;
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/export/junk_\xff\xfe.txt"));
        assert_eq!(shown(p), "/export/junk_\\xff\\xfe.txt");
        let p = std::path::Path::new("/export/Müller/é.dcm");
        assert_eq!(shown(p), "/export/Müller/é.dcm");
        // Regression (a core-lab audit): a newline in a name split the site log's row.
        let p = std::path::Path::new("/export/new\nline/a\tb\\c.txt");
        assert_eq!(shown(p), "/export/new\\x0aline/a\\x09b\\\\c.txt");
    }
}
