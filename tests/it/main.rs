//! One test binary for the workspace.

mod e2e;
mod leaks;
mod stack;
mod tidy;
