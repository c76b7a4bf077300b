//! Cross-crate integration tests of multicloud live in `tests/tests/`; this crate also
//! compiles the README's Rust examples as doc tests.
#![doc = include_str!("../../README.md")]
