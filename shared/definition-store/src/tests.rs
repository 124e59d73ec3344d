//! Unit tests through the public surface; emulator tests in `dynamo`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod catalog;
#[cfg(feature = "dynamodb")]
mod dynamo;
mod example;
#[cfg(feature = "dynamodb")]
mod item;
mod validate;
mod yaml;

use crate::{Definitions, from_yaml};

/// Parses a fixture, panicking with the error (fixtures are meant to parse).
pub(crate) fn defs(yaml: &str) -> Definitions {
    match from_yaml(yaml) {
        Ok(definitions) => definitions,
        Err(error) => panic!("fixture does not parse: {error}"),
    }
}
