//! The ARM and Key Vault examples, shared with the emulator crate that keeps them.

#[path = "../../../multicloud-azure-emulator/tests/examples/mod.rs"]
mod shared;

pub use shared::*;
