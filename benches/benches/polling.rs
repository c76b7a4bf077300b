//! Polls that follow each resource's real duration: the example stack on the memory cloud
//! (cluster 12, node pool 4, database 8, cache 6, network 1 time units; pending answers
//! without `Retry-After`), once with fixed 10 s polling, once with the default poller on the
//! kinds' documented durations only (nothing measured yet in this process), once again
//! after that run measured every kind. A time unit stands for a minute (here 150 ms), the
//! pollers are scaled alike. Prints checks per operation, how late finished operations were
//! noticed (share of their duration) and `up` against the critical path; figures only,
//! nothing asserted. Run with `cargo bench -p multicloud-benches --bench polling`.

use std::time::Duration;

use multicloud_benches::full_stack;
use multicloud_benches::polling::{PollReport, measure_polling, scaled_default, scaled_fixed_10s};
use multicloud_core::pacing::forget_measurements;

fn row(name: &str, r: &PollReport) {
    println!(
        "{name:<34} {:>4} {:>8.1} {:>6} {:>9.2}% {:>8.2}% {:>9.2}% {:>9.3}",
        r.operations,
        r.checks_mean,
        r.checks_max,
        r.late_mean * 100.0,
        r.late_max * 100.0,
        r.late_max_long * 100.0,
        r.vs_critical_path
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let unit = Duration::from_millis(150);
    let spec = full_stack();
    println!(
        "{:<34} {:>4} {:>8} {:>6} {:>10} {:>9} {:>10} {:>9}",
        "poller", "ops", "checks", "max", "late mean", "late max", "long: max", "x crit"
    );
    forget_measurements();
    let fixed = rt.block_on(measure_polling(
        &spec,
        "fixed",
        unit,
        scaled_fixed_10s(unit),
    ));
    forget_measurements();
    let cold = rt.block_on(measure_polling(&spec, "cold", unit, scaled_default(unit)));
    let warm = rt.block_on(measure_polling(&spec, "warm", unit, scaled_default(unit)));
    let again = rt.block_on(measure_polling(&spec, "again", unit, scaled_default(unit)));
    row("fixed 10 s", &fixed);
    row("default, documented durations", &cold);
    row("default, measured once", &warm);
    row("default, measured twice", &again);
}
