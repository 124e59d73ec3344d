//! The delivery machinery every notifier function shares.
//!
//! A function crate implements [`Notifier`] (pure `build`, one-shot `send`) and calls [`run`]; the
//! runner does everything else: parse and normalise each SNS record, resolve routes, resolve secrets,
//! render, claim the delivery, send with retries, record the outcome.
//!
//! - [`run`] / [`build_pipeline`]: the Lambda entry point and the pipeline it builds from [`Config`].
//! - [`Pipeline::handle_event`]: one SNS event, every record and route independently; [`plan`]
//!   describes what would be sent without sending (`tocsin render`).
//! - [`HttpClient`]: the one HTTP client (timeouts, no redirects, SSRF guard, classification).
//! - [`load_sdk_config`]: the AWS SDK config, with TLS set up on the first request (fast start-up).
//! - [`secret`]: [`Secret`], and the [`Secrets`] resolvers ([`SecretResolver`] on SSM and Secrets
//!   Manager, [`PlaceholderSecrets`], [`MemorySecrets`]).
//! - [`deliveries`]: the delivery log and idempotency claims ([`DeliveryLog`], DynamoDB and memory).
//! - [`incident`]: the lifecycle of the kinds that open and close incidents at their targets.
//! - [`sms_voice`]: the `SendVoiceMessage` contract of voice calls, and the local voice endpoint
//!   that stands in for it (the emulator lacks the API).
//!
//! Invariants: this is the only crate that knows about Lambda and SNS; notifiers never retry or
//! sleep (the pipeline is the only code that retries); no secret value reaches a log line, an error
//! message or the delivery log; nothing is sent without a claim.
#![warn(missing_docs)]

pub mod clock;
mod config;
pub mod deliveries;
pub mod http;
pub mod incident;
mod kind;
pub mod metrics;
pub mod notice;
mod notifier;
pub mod pipeline;
mod runner;
mod sdk;
pub mod secret;
pub mod sms_voice;
mod ssrf;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use config::{AllowList, Cidr, Config, ConfigError};
pub use deliveries::{
    AnyDeliveryLog, Claim, ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryLogError, DeliveryRecord,
    DeliveryState, DeliveryStatus, DynamoDeliveryLog, Finish, IncidentKey, Kept, LogTimes, MemoryDeliveryLog,
    NoticeClaim, NoticeKey,
};
pub use http::{HttpAnswer, HttpClient};
pub use kind::{
    Context, EventHandler, Field, Kind, PresetInfo, SampleAnswer, SampleEnv, SampleRequest, Templates,
    Transport, settings_of,
};
pub use notifier::*;
pub use pipeline::{
    EventReport, HandlerError, Pipeline, PlanError, PlannedMessage, RouteFailure, Settings, plan,
};
pub use runner::{
    ConfiguredDefinitions, ConfiguredPipeline, Init, build_pipeline, init_tracing, log_subscriber, run,
    target_sdk_config,
};
pub use sdk::{classify_sdk_error, load_sdk_config};
pub use secret::{MemorySecrets, PlaceholderSecrets, Secret, SecretLocation, SecretResolver, Secrets};
