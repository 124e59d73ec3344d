//! Dev-only helpers shared by the tests of every crate: the local AWS emulator (moto) handle, HTTP
//! receivers with scripted faults ([`Receiver`]), the one builder of SNS events and sample alerts
//! ([`sns`]), log capture ([`logs`]).
//!
//! Invariant: only `[dev-dependencies]` name this crate, except the other dev-only crates (the
//! conformance kit `kind-kit` and the test crate `e2e`): tests/it/tidy.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fixtures;
pub mod logs;
pub mod moto;
pub mod receiver;
pub mod sns;
#[cfg(test)]
mod tests;

pub use receiver::{Receiver, Recorded, Reply, Script};
