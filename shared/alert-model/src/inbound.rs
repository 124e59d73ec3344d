//! Detection and normalisation of every inbound message shape (DESIGN.md §3).
