//! One test binary for the workspace.

mod e2e;
mod leaks;
mod security;
mod stack;
mod tidy;
