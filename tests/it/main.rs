//! One test binary for the workspace.

mod e2e;
mod leaks;
mod redaction;
mod stack;
mod tidy;
