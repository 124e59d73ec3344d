//! Item mapping, without network.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::item::{self, Item, ItemType, ParsedItem, from_attribute, to_attribute};

fn example() -> crate::Definitions {
    crate::load_file(&test_support::moto::workspace_root().join("examples/definitions.yaml")).unwrap()
}

fn round_trip(definitions: &crate::Definitions) -> crate::Definitions {
    let items = item::items(definitions).unwrap();
    // Reverse the order, as a Scan may return items in any order.
    let parsed: Vec<ParsedItem> = items
        .iter()
        .rev()
        .map(|(_, _, item)| ParsedItem::try_from(item).unwrap())
        .collect();
    item::assemble(parsed)
}

#[test]
fn the_example_round_trips_through_items() {
    let definitions = example();
    assert_eq!(round_trip(&definitions), definitions);
}

#[test]
fn items_have_type_id_and_position_keys_and_native_attributes() {
    let definitions = example();
    let items = item::items(&definitions).unwrap();
    let (item_type, id, item) = &items[0];
    assert_eq!((*item_type, id.as_str()), (ItemType::Integration, "ops-email"));
    assert_eq!(item["pk"], AttributeValue::S("integration".to_owned()));
    assert_eq!(item["sk"], AttributeValue::S("ops-email".to_owned()));
    assert_eq!(item["seq"], AttributeValue::N("0".to_owned()));
    assert_eq!(item["active"], AttributeValue::Bool(true));
    assert_eq!(
        item["settings"],
        AttributeValue::M(HashMap::from([(
            "from".to_owned(),
            AttributeValue::S("alerts@example.com".to_owned())
        )]))
    );
    let definition = items
        .iter()
        .find(|(t, id, _)| *t == ItemType::AlertDefinition && id == "dns-critical")
        .unwrap();
    let AttributeValue::L(levels) = &definition.2["levels"] else {
        panic!("levels is not a list")
    };
    let AttributeValue::M(level) = &levels[0] else {
        panic!("a level is not a map")
    };
    assert_eq!(level["id"], AttributeValue::N("1".to_owned()));
    let types: Vec<&str> = items.iter().map(|(t, _, _)| t.as_str()).collect();
    assert!(
        types.contains(&"operatorGroup") && types.contains(&"monitorGroup") && types.contains(&"operator")
    );
}

#[test]
fn json_values_convert_both_ways() {
    let value = serde_json::json!({"s": "x", "n": 3, "neg": -4, "f": 1.5, "b": false, "null": null, "l": [1, "a", {"m": []}]});
    let attribute = to_attribute(value.clone());
    assert_eq!(from_attribute(&attribute, "").unwrap(), value);
    assert_eq!(to_attribute(serde_json::json!(null)), AttributeValue::Null(true));
    assert_eq!(
        to_attribute(serde_json::json!(7)),
        AttributeValue::N("7".to_owned())
    );
}

#[test]
fn sets_become_lists_and_binary_is_refused() {
    let set = AttributeValue::Ss(vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(from_attribute(&set, "x").unwrap(), serde_json::json!(["a", "b"]));
    let numbers = AttributeValue::Ns(vec!["1".to_owned(), "2.5".to_owned()]);
    assert_eq!(
        from_attribute(&numbers, "x").unwrap(),
        serde_json::json!([1, 2.5])
    );
    let binary = AttributeValue::M(HashMap::from([(
        "blob".to_owned(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![1])),
    )]));
    assert_eq!(
        from_attribute(&binary, "settings").unwrap_err(),
        "field `settings.blob`: binary values are not supported"
    );
    assert_eq!(
        from_attribute(&AttributeValue::N("abc".to_owned()), "seq").unwrap_err(),
        "field `seq`: `abc` is not a number"
    );
}

fn operator_item() -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S("operator".to_owned())),
        ("sk".to_owned(), AttributeValue::S("alice".to_owned())),
        (
            "email".to_owned(),
            AttributeValue::S("alice@example.com".to_owned()),
        ),
    ])
}

fn error_of(item: &Item) -> (String, String) {
    let error = ParsedItem::try_from(item).unwrap_err();
    (error.key, error.reason)
}

#[test]
fn an_item_without_id_attribute_takes_the_sort_key() {
    let parsed = ParsedItem::try_from(&operator_item()).unwrap();
    let item::DefinitionItem::Operator(operator) = parsed.object else {
        panic!("not an operator")
    };
    assert_eq!(operator.id, "alice");
    assert_eq!(parsed.seq, None);
}

#[test]
fn bad_items_name_the_key_and_the_field() {
    let mut item = operator_item();
    item.remove("pk");
    assert_eq!(error_of(&item), ("?".to_owned(), "missing field `pk`".to_owned()));

    let mut item = operator_item();
    item.insert("sk".to_owned(), AttributeValue::N("1".to_owned()));
    assert_eq!(
        error_of(&item),
        ("operator/?".to_owned(), "field `sk` is not a string".to_owned())
    );

    let mut item = operator_item();
    item.insert("pk".to_owned(), AttributeValue::S("pagerduty".to_owned()));
    let (key, reason) = error_of(&item);
    assert_eq!(key, "pagerduty/alice");
    assert!(
        reason.starts_with("unknown item type `pagerduty` in field `pk`"),
        "{reason}"
    );

    let mut item = operator_item();
    item.insert("onDuty".to_owned(), AttributeValue::S("yes".to_owned()));
    let (key, reason) = error_of(&item);
    assert_eq!(key, "operator/alice");
    assert!(
        reason.starts_with("field `onDuty`: invalid type: string \"yes\", expected a boolean"),
        "{reason}"
    );

    let mut item = operator_item();
    item.insert("id".to_owned(), AttributeValue::S("bob".to_owned()));
    assert_eq!(
        error_of(&item).1,
        "field `id` does not equal the sort key `alice`"
    );

    let mut item = operator_item();
    item.insert("seq".to_owned(), AttributeValue::N("x".to_owned()));
    assert_eq!(error_of(&item).1, "field `seq`: `x` is not a whole number");

    let mut item = operator_item();
    item.insert("pager".to_owned(), AttributeValue::S("x".to_owned()));
    assert!(
        error_of(&item)
            .1
            .starts_with("field `pager`: unknown field `pager`"),
        "{:?}",
        error_of(&item)
    );
}

#[test]
fn a_nested_bad_value_names_its_path() {
    let definitions = example();
    let items = item::items(&definitions).unwrap();
    let (_, _, item) = items
        .iter()
        .find(|(t, id, _)| *t == ItemType::AlertDefinition && id == "dns-critical")
        .unwrap();
    let mut item = item.clone();
    let AttributeValue::L(levels) = item.get_mut("levels").unwrap() else {
        panic!()
    };
    let AttributeValue::M(level) = &mut levels[1] else {
        panic!()
    };
    level.insert("id".to_owned(), AttributeValue::S("two".to_owned()));
    let (key, reason) = error_of(&item);
    assert_eq!(key, "alertDefinition/dns-critical");
    assert!(
        reason.starts_with("field `levels[1].id`: invalid type"),
        "{reason}"
    );
}

#[test]
fn empty_ids_cannot_become_items() {
    let definitions = crate::from_yaml("operators: [{id: \"\", email: a@b.co}]").unwrap();
    let error = item::items(&definitions).unwrap_err();
    assert_eq!(
        (error.key.as_str(), error.reason.as_str()),
        ("operator/", "empty id (DynamoDB keys cannot be empty)")
    );
}
