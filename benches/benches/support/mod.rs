//! What the provider benches (`aws.rs`, `azure.rs`) report the same way.

use multicloud_core::Stack;
use multicloud_core::calls::ApiCalls;
use tokio::runtime::Runtime;

/// Plans `stack` again on `rt`, asserts the plan is a no-op, and prints the API calls that
/// took (`<cloud>: no-op plan: N API calls (M mutating)`), counted from a reset of `calls`.
pub fn report_noop_plan(cloud: &str, rt: &Runtime, stack: &Stack, calls: &ApiCalls) {
    calls.reset();
    let noop = rt.block_on(stack.plan()).expect("plan");
    assert!(noop.is_noop(), "{noop}");
    eprintln!(
        "{cloud}: no-op plan: {} API calls ({} mutating)",
        calls.total(),
        calls.mutating()
    );
}
