//! Counts and lists in the messages people read: "1 file", "2 files", never "1 files"; a long
//! list of names cut short the same way everywhere ("S01, S02 and 3 more").

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

/// How many names a message lists before it counts the rest.
pub const LISTED: usize = 8;

/// The first [`LISTED`] items, comma-separated, then how many more: "S01, S02 and 3 more". A
/// batch's message names its subjects, but a thousand of them would bury the line.
pub fn listed<T: std::fmt::Display>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().take(LISTED).map(T::to_string).collect();
    match items.len().saturating_sub(LISTED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::{count, listed};

    #[test]
    fn a_long_list_names_eight_and_counts_the_rest() {
        let ids: Vec<String> = (1..=10).map(|i| format!("S{i:02}")).collect();
        assert_eq!(
            listed(&ids),
            "S01, S02, S03, S04, S05, S06, S07, S08 and 2 more"
        );
        assert_eq!(listed(&ids[..8]), "S01, S02, S03, S04, S05, S06, S07, S08");
        assert_eq!(listed(&ids[..1]), "S01");
        assert_eq!(listed::<String>(&[]), "");
    }

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(0, "file"), "0 files");
        assert_eq!(count(2, "NIfTI file"), "2 NIfTI files");
        assert_eq!(count(21, "subject"), "21 subjects");
    }
}
