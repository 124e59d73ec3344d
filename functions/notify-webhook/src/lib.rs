//! notify-webhook
