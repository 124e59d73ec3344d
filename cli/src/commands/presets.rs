//! `tocsin presets`: every kind's presets, with the variables an integration gives them.

use alert_model::IntegrationKind;

/// Prints `kind preset: title`, then the required and optional variables, one preset a block.
pub(crate) fn run() {
    for kind in IntegrationKind::ALL {
        for preset in kinds::presets(*kind) {
            println!("{kind} {}: {}", preset.name, preset.title);
            let list = |names: &[String]| {
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            };
            println!("  required variables: {}", list(&preset.required));
            if !preset.optional.is_empty() {
                println!("  optional variables: {}", list(&preset.optional));
            }
        }
    }
}
