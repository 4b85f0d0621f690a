//! Site data out of messages bound for an output file (a report, the provenance): files under
//! the input root are named `<input>/…`, so no site folder (which often holds a patient's name)
//! is written, and a clinical table's quoted cell values are left out (a shifted column puts a
//! name or a date where a code was expected; the terminal shows the value). Only whole path
//! occurrences are replaced: a relative root such as `in` leaves the word "missing" alone.

/// `msg` with every whole occurrence of `root` (as a path: preceded by the start, a space, a
/// quote or a bracket; followed by the end, a separator, a space, a quote, a bracket, `:` or
/// `,`) replaced by `<input>`.
pub fn input_root(msg: &str, root: &std::path::Path) -> String {
    folder(msg, root, "<input>")
}

/// [`input_root`] for another site folder (the label maps' `<masks>`), named `name`.
pub fn folder(msg: &str, root: &std::path::Path, name: &str) -> String {
    let root = root.display().to_string();
    let root = root.trim_end_matches(std::path::MAIN_SEPARATOR);
    if root.is_empty() {
        return msg.to_string();
    }
    let before_ok = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || "\"'([{<".contains(c));
    let after_ok = |c: Option<char>| {
        c.is_none_or(|c| {
            c == std::path::MAIN_SEPARATOR || c.is_whitespace() || "\"')]}>:,;".contains(c)
        })
    };
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(at) = rest.find(root) {
        let (head, tail) = rest.split_at(at);
        let after = &tail[root.len()..];
        out.push_str(head);
        let prev = out.chars().next_back();
        if before_ok(prev) && after_ok(after.chars().next()) {
            out.push_str(name);
        } else {
            out.push_str(root);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `msg` with the text of every double-quoted value (as `{:?}` writes one, escapes included)
/// replaced by `…`: `row 2 column YPT: "SMITH 1961" is not a stage` becomes
/// `row 2 column YPT: "…" is not a stage`.
pub fn quoted_values(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut chars = msg.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        // Inside a quoted value: skip to its closing quote (an escaped one does not close it).
        let mut closed = false;
        while let Some(q) = chars.next() {
            match q {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    closed = true;
                    break;
                }
                _ => {}
            }
        }
        out.push('…');
        if closed {
            out.push('"');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{input_root, quoted_values};
    use std::path::Path;

    #[test]
    fn only_whole_paths_are_replaced() {
        let r = Path::new("in");
        assert_eq!(
            input_root("in/a.dcm: t=1 is missing at some positions", r),
            "<input>/a.dcm: t=1 is missing at some positions"
        );
        assert_eq!(
            input_root("cannot read in: denied", r),
            "cannot read <input>: denied"
        );
        assert_eq!(input_root("begin within inside", r), "begin within inside");
        let site = Path::new("/site/DOE_JOHN/");
        assert_eq!(
            input_root("'/site/DOE_JOHN/MR/1.dcm' (/site/DOE_JOHN)", site),
            "'<input>/MR/1.dcm' (<input>)"
        );
        assert_eq!(
            input_root("/site/DOE_JOHNNY/1.dcm", site),
            "/site/DOE_JOHNNY/1.dcm"
        );
    }

    #[test]
    fn quoted_values_are_left_out_and_the_rest_kept() {
        assert_eq!(
            quoted_values(r#"adsl.csv row 2 column YPT: "SMITH John 1961-03-04" is not a stage"#),
            r#"adsl.csv row 2 column YPT: "…" is not a stage"#
        );
        // Escaped quotes inside a value; two values; an unclosed one.
        assert_eq!(
            quoted_values(r#"AVAL "a\"b" and "c" then "open"#),
            r#"AVAL "…" and "…" then "…"#
        );
        assert_eq!(quoted_values("no quotes, 3 days"), "no quotes, 3 days");
    }
}
