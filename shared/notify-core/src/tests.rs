//! Tests of notify-core through its public surface: config, HTTP classification and the SSRF guard
//! against a local receiver, secrets and the delivery log against the emulator, and the pipeline.

mod claims;
mod config;
mod deliveries;
mod http;
mod pipeline;
mod runner;

mod secrets;
mod support;
mod visibility;
