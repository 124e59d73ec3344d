//! notify-email
