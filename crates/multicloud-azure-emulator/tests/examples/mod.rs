//! The ARM and Key Vault examples the emulator is compared with: verbatim copies from
//! `Azure/azure-rest-api-specs` in `crates/multicloud-azure-emulator/tests/fixtures/azure-arm-examples`
//! (sources in its SOURCES.tsv), shared by the test files that read them, in this crate and
//! (through `#[path]`) in multicloud-azure's provider tests.

#![allow(dead_code)]

const EXAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../multicloud-azure-emulator/tests/fixtures/azure-arm-examples"
);

/// The example file at `path` (under the fixtures), parsed; panics naming the file.
pub fn example(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{EXAMPLES}/{path}"))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The sorted keys of an object (empty for anything else).
pub fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}
