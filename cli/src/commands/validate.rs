//! `tocsin validate -f FILE`

use std::path::Path;

use definition_store::{Definitions, ValidationIssue, escape_controls};

use crate::CliError;

pub(crate) fn run(file: &Path) -> Result<(), CliError> {
    let definitions = load_valid(file)?;
    println!(
        "{}: valid ({} integrations, {} alert definitions, {} operators)",
        escape_controls(&file.display().to_string()),
        definitions.integrations.len(),
        definitions.alert_definitions.len(),
        definitions.operators.len()
    );
    Ok(())
}

/// Loads `file` and checks it; prints every problem to stderr and fails if there is any.
pub(crate) fn load_valid(file: &Path) -> Result<Definitions, CliError> {
    let definitions = definition_store::load_file(file)?;
    let issues = issues(&definitions);
    // Issues escape the file's text themselves; the file name is escaped the same way.
    let name = escape_controls(&file.display().to_string()).into_owned();
    for issue in &issues {
        eprintln!("{name}: {issue}");
    }
    if issues.is_empty() {
        Ok(definitions)
    } else {
        Err(CliError::Invalid(issues.len()))
    }
}

/// The store's checks plus each kind's settings checks (the kind registry's).
pub(crate) fn issues(definitions: &Definitions) -> Vec<ValidationIssue> {
    kinds::validate(definitions)
}
