//! The delivery machinery every notifier function shares.
//!
//! A function crate implements [`Notifier`] (pure `build`, one-shot `send`) and calls [`run`]; the
//! runner does everything else: parse and normalise each SNS record, resolve routes, resolve secrets,
//! render, claim the delivery, send with retries, record the outcome.
//!
//! Invariants: this is the only crate that knows about Lambda and SNS; notifiers never retry or
//! sleep; no secret value reaches a log line, an error message or the delivery log.
#![warn(missing_docs)]

mod config;
pub mod http;
mod notifier;
mod runner;

pub use config::{Config, ConfigError};
pub use http::HttpClient;
pub use notifier::*;
pub use runner::{Init, run};
