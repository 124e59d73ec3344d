//! One test binary for the workspace.

mod e2e;
mod stack;
mod tidy;
