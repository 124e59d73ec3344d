//! One test binary for the workspace.

mod e2e;
mod faults;
mod fuzz_corpus;
mod leaks;
mod redaction;
mod security;
mod stack;
mod tidy;
