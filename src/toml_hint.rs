//! Words added to a TOML parse error (TOML 1.0, via the `toml` crate) of a config file a user
//! wrote: `ancilla run`'s pipeline config and `ancilla deid --config`'s options alike.

/// What a value may be, for a parse error that a bare word where a value goes gives
/// (`retain_safe_private = yes` reads to the parser as a string without its quotes: "invalid
/// string, expected `\"`"); None for any other error.
pub fn value_hint(message: &str) -> Option<&'static str> {
    message.starts_with("invalid string").then_some(
        "a value is true or false, a number, \"text in quotes\" or a [list]; a switch takes true \
         or false",
    )
}

/// A `toml` parse error as one message (its line, column and excerpt), with the hint of
/// [`value_hint`] after it when one applies.
pub fn explained(e: &toml::de::Error) -> String {
    let text = e.to_string().trim_end().to_string();
    match value_hint(e.message()) {
        Some(hint) => format!("{text}\n({hint})"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare word gets the hint, a duplicate key does not (its message says all).
    #[test]
    fn a_bare_word_is_told_what_a_value_may_be() {
        let bare =
            toml::from_str::<toml::Table>("[deid]\nretain_safe_private = yes\n").unwrap_err();
        let said = explained(&bare);
        assert!(said.contains("line 2"), "{said}");
        assert!(said.contains("a switch takes true or false"), "{said}");
        let twice = toml::from_str::<toml::Table>("a = 1\na = 2\n").unwrap_err();
        assert!(!explained(&twice).contains("a switch takes"));
        assert_eq!(value_hint("duplicate key"), None);
    }
}
