//! The names of ephemeral environments: a random suffix valid in every name of every
//! cloud, and the keep switch.

use rand::Rng;

use super::KEEP_VAR;
use crate::engine::Error;
use crate::spec::{Rule, SpecErrors, ValidationError};

/// Length of the random suffix.
pub const SUFFIX_LEN: usize = 6;
/// Longest environment name (the limit of `spec::ENVIRONMENT`).
const ENVIRONMENT_MAX: usize = 20;
/// Longest suffix a builder may set.
const SUFFIX_MAX: usize = 8;

/// Whether [`KEEP_VAR`] asks to keep environments (set, and not empty, `0` or `false`).
pub fn keep_requested() -> bool {
    std::env::var(KEEP_VAR)
        .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// A random suffix: [`SUFFIX_LEN`] lowercase letters and digits, the first a letter (valid
/// in every name of every cloud, where hyphens and upper case are not).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..SUFFIX_LEN)
        .map(|i| {
            let letters_only = if i == 0 { 26 } else { ALPHABET.len() };
            char::from(ALPHABET[rng.random_range(0..letters_only)])
        })
        .collect()
}

/// `base` with a random suffix: `pr-1234` -> `pr-1234-k3x9a2`, `base` cut so the whole
/// fits the environment's 20 characters.
pub fn unique_environment(base: &str) -> String {
    environment_with(base, &random_suffix())
}

/// `base-suffix`, `base` cut (and stripped of trailing hyphens) to fit.
pub(super) fn environment_with(base: &str, suffix: &str) -> String {
    let room = ENVIRONMENT_MAX.saturating_sub(suffix.len() + 1);
    let head: String = base.chars().take(room).collect();
    let head = head.trim_end_matches('-');
    if head.is_empty() {
        suffix.to_string()
    } else {
        format!("{head}-{suffix}")
    }
}

/// A suffix set by hand: 1–8 lowercase letters and digits.
pub(super) fn check_suffix(suffix: &str) -> Result<(), Error> {
    let ok = (1..=SUFFIX_MAX).contains(&suffix.len())
        && suffix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        return Ok(());
    }
    Err(Error::Spec(SpecErrors::new(vec![ValidationError::new(
        "ephemeral.suffix",
        Rule::Name,
        format!("suffix `{suffix}` must be 1-{SUFFIX_MAX} lowercase letters and digits"),
    )])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ENVIRONMENT;

    #[test]
    fn environments_fit_the_environment_rules_whatever_the_base() {
        for base in [
            "pr-1234",
            "",
            "a-very-long-environment-name",
            "abcdefghijkl-",
            "x",
        ] {
            let env = unique_environment(base);
            assert!(ENVIRONMENT.problems(&env).is_empty(), "{base:?} -> {env:?}");
            assert!(env.len() <= ENVIRONMENT_MAX, "{env}");
        }
        assert_eq!(environment_with("pr-1234", "k3x9a2"), "pr-1234-k3x9a2");
        assert_eq!(
            environment_with("abcdefghijkl-mn", "k3x9a2"),
            "abcdefghijkl-k3x9a2"
        );
        assert_eq!(environment_with("", "k3x9a2"), "k3x9a2");
    }

    #[test]
    fn suffixes_are_random_lowercase_alphanumeric_starting_with_a_letter() {
        let suffixes: std::collections::BTreeSet<String> =
            (0..200).map(|_| random_suffix()).collect();
        assert!(suffixes.len() > 190, "random: {} distinct", suffixes.len());
        for s in &suffixes {
            assert_eq!(s.len(), SUFFIX_LEN);
            assert!(s.starts_with(|c: char| c.is_ascii_lowercase()), "{s}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{s}"
            );
        }
        assert!(check_suffix("ci42").is_ok());
        for bad in ["", "UPPER", "a-b", "toolongsuffix"] {
            assert!(check_suffix(bad).is_err(), "{bad:?}");
        }
    }
}
