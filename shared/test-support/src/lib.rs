//! Dev-only helpers shared by the tests of every crate: the local AWS emulator (moto) handle, HTTP
//! receivers with scripted faults, fixtures and builders.
//!
//! Invariant: only `[dev-dependencies]` name this crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod moto;
pub mod receiver;

pub use receiver::{Receiver, Recorded, Reply, Script};
