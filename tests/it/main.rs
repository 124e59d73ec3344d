//! One test binary for the workspace.
