//! `DynamoDbStore` against the local emulator: a fresh table per test.

use aws_sdk_dynamodb::types::AttributeValue;
use test_support::moto::{sdk_config, unique};

use crate::{DefinitionSource, Definitions, DynamoDbStore, StoreError, from_yaml, load_file};

async fn fresh_store() -> (aws_sdk_dynamodb::Client, DynamoDbStore) {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("definitions");
    DynamoDbStore::create_table(&client, &table)
        .await
        .unwrap_or_else(|error| {
            panic!("cannot create table {table} on the emulator (is it running?): {error}")
        });
    let store = DynamoDbStore::new(client.clone(), table);
    (client, store)
}

fn example() -> Definitions {
    load_file(&test_support::moto::workspace_root().join("examples/definitions.yaml")).unwrap()
}

/// One item per definition: what applying `definitions` writes.
fn item_count(definitions: &Definitions) -> usize {
    definitions.integrations.len()
        + definitions.alert_definitions.len()
        + definitions.operators.len()
        + definitions.operator_groups.len()
        + definitions.monitor_groups.len()
}

async fn count_items(client: &aws_sdk_dynamodb::Client, table: &str) -> usize {
    let output = client.scan().table_name(table).send().await.unwrap();
    output.items().len()
}

#[tokio::test]
async fn apply_then_load_round_trips_the_example() {
    let (client, store) = fresh_store().await;
    let definitions = example();
    store.apply(&definitions).await.unwrap();
    assert_eq!(store.load().await.unwrap(), definitions);
    assert_eq!(
        count_items(&client, store.table()).await,
        item_count(&definitions)
    );
}

#[tokio::test]
async fn an_empty_table_loads_empty_definitions() {
    let (_, store) = fresh_store().await;
    assert_eq!(store.load().await.unwrap(), Definitions::default());
}

#[tokio::test]
async fn applying_again_removes_items_no_longer_present() {
    let (client, store) = fresh_store().await;
    store.apply(&example()).await.unwrap();
    let smaller = from_yaml(
        "integrations: [{id: ops-email, kind: email, name: changed}]\noperators: [{id: zoe, email: zoe@example.com}]\n",
    )
    .unwrap();
    store.apply(&smaller).await.unwrap();
    assert_eq!(store.load().await.unwrap(), smaller);
    assert_eq!(count_items(&client, store.table()).await, 2);
    store.apply(&Definitions::default()).await.unwrap();
    assert_eq!(count_items(&client, store.table()).await, 0);
}

#[tokio::test]
async fn more_than_25_items_are_written_and_loaded_in_order() {
    let (_, store) = fresh_store().await;
    let mut yaml = String::from("operators:\n");
    // Ids whose sort order differs from the file order: the load must keep the file order.
    for n in (0..70).rev() {
        yaml.push_str(&format!("  - {{id: op-{n:03}, email: op{n}@example.com}}\n"));
    }
    yaml.push_str("alertDefinitions:\n");
    for n in 0..40 {
        yaml.push_str(&format!(
            "  - {{id: def-{}, monitors: [\"*\"], levels: [{{id: 1}}]}}\n",
            39 - n
        ));
    }
    let definitions = from_yaml(&yaml).unwrap();
    store.apply(&definitions).await.unwrap();
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.operators.len(), 70);
    assert_eq!(loaded, definitions);
}

#[tokio::test]
async fn a_foreign_item_is_an_error_naming_its_key() {
    let (client, store) = fresh_store().await;
    client
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S("operator".to_owned()))
        .item("sk", AttributeValue::S("x".to_owned()))
        .item("active", AttributeValue::S("maybe".to_owned()))
        .send()
        .await
        .unwrap();
    let error = store.load().await.unwrap_err();
    assert!(
        matches!(&error, StoreError::Item { key, .. } if key == "operator/x"),
        "{error}"
    );
    assert!(error.to_string().contains("field `active`"), "{error}");
}

#[tokio::test]
async fn duplicate_ids_are_refused_before_writing() {
    let (client, store) = fresh_store().await;
    let definitions =
        from_yaml("operators: [{id: a, email: a@example.com}, {id: a, email: b@example.com}]\n").unwrap();
    let error = store.apply(&definitions).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "item `operator/a` in table `{}`: duplicate id: two objects of this type share it",
            store.table()
        )
    );
    assert_eq!(count_items(&client, store.table()).await, 0);
}

#[tokio::test]
async fn a_missing_table_is_a_dynamo_error_naming_it() {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let store = DynamoDbStore::new(client, unique("missing"));
    let error = store.load().await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Dynamo {
                operation: "Scan",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains(store.table()), "{error}");
}

#[tokio::test]
async fn creating_an_existing_table_is_fine() {
    let (client, store) = fresh_store().await;
    store.apply(&example()).await.unwrap();
    DynamoDbStore::create_table(&client, store.table()).await.unwrap();
    assert_eq!(
        store.load().await.unwrap(),
        example(),
        "the existing table is left as it is"
    );
}

/// Seven definitions of every sort, fixed here so that growing the examples changes no count.
fn fixture() -> Definitions {
    from_yaml(
        "integrations:
  - {id: ops-email, kind: email}
  - {id: ops-webhook, kind: webhook}
alertDefinitions:
  - {id: dns-critical, monitors: ['group:dns-monitors'], levels: [{id: 1, operators: [alice], integrations: [{integration: ops-email}]}]}
operators:
  - {id: alice, email: alice@example.com}
  - {id: bob, email: bob@example.com}
operatorGroups:
  - {id: ops-team, members: [alice, bob]}
monitorGroups:
  - {id: dns-monitors, monitors: [m1]}
",
    )
    .unwrap()
}

fn keys(keys: &[crate::ItemKey]) -> Vec<String> {
    keys.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn changes_list_what_is_added_changed_and_removed_and_change_nothing() {
    let (client, store) = fresh_store().await;
    // An empty table: everything is added.
    let changes = store.changes(&fixture()).await.unwrap();
    assert_eq!(changes.added.len(), 7);
    assert!(changes.changed.is_empty() && changes.removed.is_empty());
    assert_eq!(
        count_items(&client, store.table()).await,
        0,
        "changes wrote nothing"
    );

    store.apply(&fixture()).await.unwrap();
    assert!(store.changes(&fixture()).await.unwrap().is_empty());
    assert_eq!(store.changes(&fixture()).await.unwrap().unchanged, 7);

    // One renamed integration, one new operator, the rest gone.
    let smaller = from_yaml(
        "integrations: [{id: ops-email, kind: email, name: changed}]\noperators: [{id: zoe, email: zoe@example.com}]\n",
    )
    .unwrap();
    let changes = store.changes(&smaller).await.unwrap();
    assert_eq!(keys(&changes.added), ["operator zoe"]);
    assert_eq!(keys(&changes.changed), ["integration ops-email"]);
    assert_eq!(
        keys(&changes.removed),
        [
            "integration ops-webhook",
            "alertDefinition dns-critical",
            "operator alice",
            "operator bob",
            "operatorGroup ops-team",
            "monitorGroup dns-monitors",
        ]
    );
    assert_eq!(changes.unchanged, 0);
    assert_eq!(
        count_items(&client, store.table()).await,
        7,
        "changes wrote nothing"
    );

    // An empty file removes everything; a foreign item is a removal too.
    client
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S("note".to_owned()))
        .item("sk", AttributeValue::S("x\ny".to_owned()))
        .send()
        .await
        .unwrap();
    let changes = store.changes(&Definitions::default()).await.unwrap();
    assert_eq!(changes.removed.len(), 8);
    assert_eq!(keys(&changes.removed).last().unwrap(), "note x\\ny");
}

#[tokio::test]
async fn apply_changes_makes_exactly_the_listed_changes() {
    let (client, store) = fresh_store().await;
    store.apply(&example()).await.unwrap();
    let smaller =
        from_yaml("integrations: [{id: ops-email, kind: email, name: changed}]\noperators: [{id: zoe, email: zoe@example.com}]\n")
            .unwrap();
    let changes = store.changes(&smaller).await.unwrap();
    // Another writer adds an item after the changes were listed: it is not among the removals the
    // user saw, so it stays.
    client
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S("operator".to_owned()))
        .item("sk", AttributeValue::S("late".to_owned()))
        .item("email", AttributeValue::S("late@example.com".to_owned()))
        .send()
        .await
        .unwrap();
    store.apply_changes(&changes).await.unwrap();
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.integrations, smaller.integrations);
    let operators: Vec<&str> = loaded.operators.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(operators, ["zoe", "late"]);
    // Applying again removes it, as it is not in the file.
    store.apply(&smaller).await.unwrap();
    assert_eq!(store.load().await.unwrap(), smaller);
}
