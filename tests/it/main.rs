//! One test binary for the workspace.

mod tidy;
