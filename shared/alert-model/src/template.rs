//! The template engine: product syntax and Jinja, with context-aware escaping.
