//! `tocsin validate -f FILE`

use std::path::Path;

use definition_store::{Definitions, ValidationIssue};

use crate::CliError;

pub(crate) fn run(file: &Path) -> Result<(), CliError> {
    let definitions = load_valid(file)?;
    println!(
        "{}: valid ({} integrations, {} alert definitions, {} operators)",
        file.display(),
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
    for issue in &issues {
        eprintln!("{}: {issue}", file.display());
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
