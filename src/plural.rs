//! Counts in the messages people read: "1 file", "2 files", never "1 files".

/// `n` and `noun`, the noun with an "s" unless `n` is 1: `count(1, "file")` is "1 file",
/// `count(0, "file")` "0 files". For regular English nouns only ("series" stays as it is: do not
/// pass it here).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(0, "file"), "0 files");
        assert_eq!(count(2, "NIfTI file"), "2 NIfTI files");
        assert_eq!(count(21, "subject"), "21 subjects");
    }
}
