//! `tocsin apply -f FILE [--allow-empty] [--dry-run] [--yes]`

use std::{
    io::{BufRead, IsTerminal, Write},
    path::Path,
};

use definition_store::{Changes, Definitions, DynamoDbStore, escape_controls};

use crate::{CliError, aws, commands::validate};

/// Removals that go ahead without a confirmation: renaming an integration or dropping an operator
/// removes an item or two; more than this is rarely meant (an emptied or truncated file, the wrong
/// file, the wrong table).
pub(crate) const MAX_UNCONFIRMED_REMOVALS: usize = 3;

/// The options of `tocsin apply`.
pub(crate) struct Apply<'a> {
    pub(crate) file: &'a Path,
    pub(crate) table: Option<String>,
    pub(crate) create_table: bool,
    pub(crate) allow_empty: bool,
    pub(crate) dry_run: bool,
    pub(crate) yes: bool,
}

pub(crate) async fn run(options: &Apply<'_>) -> Result<(), CliError> {
    let file = escape_controls(&options.file.display().to_string()).into_owned();
    let definitions = validate::load_valid(options.file)?;
    if holds_no_routing(&definitions) && !options.allow_empty {
        return Err(CliError::Refused(format!(
            "`{file}` holds no integrations and no alert definitions: applying it would remove every integration and alert definition from the table; pass --allow-empty if that is what you mean"
        )));
    }
    let table = aws::setting(options.table.clone(), "DEFINITIONS_TABLE", "Definitions");
    let client = aws_sdk_dynamodb::Client::new(&aws::sdk_config().await);
    if options.create_table && !options.dry_run {
        DynamoDbStore::create_table(&client, &table)
            .await
            .map_err(|err| CliError::Aws(err.to_string()))?;
    }
    let store = DynamoDbStore::new(client, &table);
    let changes = store
        .changes(&definitions)
        .await
        .map_err(|err| CliError::Aws(err.to_string()))?;
    print_changes(&table, &changes);
    if options.dry_run {
        println!("dry run: nothing was changed");
        return Ok(());
    }
    let removing = changes.removed.len();
    if removing > MAX_UNCONFIRMED_REMOVALS && !options.yes {
        confirm(removing, &table)?;
    }
    store
        .apply_changes(&changes)
        .await
        .map_err(|err| CliError::Aws(err.to_string()))?;
    println!(
        "applied {} integrations, {} alert definitions, {} operators to table {} ({} added, {} changed, {} removed)",
        definitions.integrations.len(),
        definitions.alert_definitions.len(),
        definitions.operators.len(),
        escape_controls(&table),
        changes.added.len(),
        changes.changed.len(),
        removing,
    );
    Ok(())
}

/// No integration and no alert definition: an empty file, `/dev/null`, comments only, operators only.
fn holds_no_routing(definitions: &Definitions) -> bool {
    definitions.integrations.is_empty() && definitions.alert_definitions.is_empty()
}

/// `table T: 1 to add, 0 to change, 5 to remove, 4 unchanged`, then a line per item: `+` added, `~`
/// changed, `-` removed.
fn print_changes(table: &str, changes: &Changes) {
    println!(
        "table {}: {} to add, {} to change, {} to remove, {} unchanged",
        escape_controls(table),
        changes.added.len(),
        changes.changed.len(),
        changes.removed.len(),
        changes.unchanged
    );
    for (sign, keys) in [
        ('+', &changes.added),
        ('~', &changes.changed),
        ('-', &changes.removed),
    ] {
        for key in keys {
            println!("  {sign} {key}");
        }
    }
}

/// Asks on the terminal whether to remove `removing` items; refuses without asking when standard
/// input is not a terminal (a script, CI: it must say `--yes`).
fn confirm(removing: usize, table: &str) -> Result<(), CliError> {
    let table = escape_controls(table);
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Refused(format!(
            "apply would remove {removing} items from table {table} (more than {MAX_UNCONFIRMED_REMOVALS} need a confirmation): pass --yes to remove them; nothing was changed"
        )));
    }
    eprint!("remove these {removing} items from table {table}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|err| CliError::Input(format!("cannot read the answer: {err}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::Refused(format!(
            "not confirmed: nothing was changed in table {table}"
        )))
    }
}
