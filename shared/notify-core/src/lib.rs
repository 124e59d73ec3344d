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
pub mod deliveries;
pub mod http;
mod notifier;
pub mod pipeline;
mod runner;
pub mod secret;
mod ssrf;
#[cfg(test)]
mod tests;

pub use config::{AllowList, Cidr, Config, ConfigError};
pub use deliveries::{
    Claim, ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryLogError, DeliveryRecord, DynamoDeliveryLog,
    Finish, LogTimes, MemoryDeliveryLog,
};
pub use http::HttpClient;
pub use notifier::*;
pub use pipeline::{
    EventReport, HandlerError, PendingRoute, Pipeline, PlanError, PlannedMessage, Settings, plan,
};
pub use runner::{
    AnyDeliveryLog, ConfiguredDefinitions, ConfiguredPipeline, Init, build_pipeline, init_tracing, run,
};
pub use secret::{MemorySecrets, PlaceholderSecrets, Secret, SecretLocation, SecretResolver, Secrets};
