//! Dev-only helpers shared by the tests of every crate: the local AWS emulator (moto) handle, HTTP
//! receivers with scripted faults ([`Receiver`]) or with answers computed per request, a vendor's
//! stand-in ([`VendorReceiver`]), SNS events and sample alerts ([`sns`]), log capture ([`logs`]).
//!
//! Invariant: only `[dev-dependencies]` name this crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fixtures;
pub mod logs;
pub mod moto;
pub mod receiver;
pub mod sns;
#[cfg(test)]
mod tests;
pub mod vendor;

pub use receiver::{Receiver, Recorded, Reply, Script};
pub use vendor::VendorReceiver;
