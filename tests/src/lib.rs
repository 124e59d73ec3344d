//! Helpers shared by the end-to-end tests, the micro-benchmarks (`benches/`) and the load command
//! (`tocsin-load`): the sample inputs, synthetic definitions of any size, SNS events, notifiers that
//! build without any network, the warm per-route work (parse → route → render → build) exactly
//! as the runner does it, and every kind's rendered fields as a user meets them (`kinds`).
//!
//! Nothing here times anything: speed is measured by the benchmarks and the load command, never
//! asserted by tests.

pub mod bench;
pub mod kinds;
