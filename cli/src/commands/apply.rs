//! `tocsin apply -f FILE`

use std::path::Path;

use definition_store::DynamoDbStore;

use crate::{CliError, aws, commands::validate};

pub(crate) async fn run(file: &Path, table: Option<String>, create_table: bool) -> Result<(), CliError> {
    let definitions = validate::load_valid(file)?;
    let table = aws::setting(table, "DEFINITIONS_TABLE", "Definitions");
    let client = aws_sdk_dynamodb::Client::new(&aws::sdk_config().await);
    if create_table {
        DynamoDbStore::create_table(&client, &table)
            .await
            .map_err(|err| CliError::Aws(err.to_string()))?;
    }
    DynamoDbStore::new(client, &table)
        .apply(&definitions)
        .await
        .map_err(|err| CliError::Aws(err.to_string()))?;
    println!(
        "applied {} integrations, {} alert definitions, {} operators to table {table}",
        definitions.integrations.len(),
        definitions.alert_definitions.len(),
        definitions.operators.len()
    );
    Ok(())
}
