//! The canonical alert and everything that can be computed from it without I/O.
//!
//! - [`Alert`]: the 39 alert variables of the product we replace, under the same names.
//! - [`inbound`]: detection and normalisation of every message shape that arrives on the topic.
//! - [`template`]: the template engine (product syntax and Jinja) with context-aware escaping.
//! - [`IntegrationKind`]: the closed set of integration kinds, one Lambda function each.
//!
//! Invariant: this crate never depends on tokio, an AWS SDK, lambda_runtime or an HTTP client.
#![warn(missing_docs)]

mod alert;
pub mod escape;
pub mod inbound;
mod kind;
pub mod template;

pub use alert::{
    Account, Alert, AlertDefinitionInfo, AlertInfo, AlertType, DELIVERY_FAILURE, DeliverTo,
    EscalationLevelInfo, Incident, Monitor, NativeEnvelope,
};
pub use kind::{IntegrationKind, UnknownKind};
