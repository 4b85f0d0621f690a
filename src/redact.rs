//! Site paths out of messages: a message bound for an output file (a report, the provenance)
//! names files under the input root as `<input>/…`, so no site folder (which often holds a
//! patient's name) is written. Only whole path occurrences are replaced: a relative root such as
//! `in` leaves the word "missing" alone.

/// `msg` with every whole occurrence of `root` (as a path: preceded by the start, a space, a
/// quote or a bracket; followed by the end, a separator, a space, a quote, a bracket, `:` or
/// `,`) replaced by `<input>`.
pub fn input_root(msg: &str, root: &std::path::Path) -> String {
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
            out.push_str("<input>");
        } else {
            out.push_str(root);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::input_root;
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
}
