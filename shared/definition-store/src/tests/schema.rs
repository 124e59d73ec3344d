//! The committed JSON Schema is the one the types generate.

#[test]
fn schema_file_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/definitions.schema.json");
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&crate::json_schema()).unwrap()
    );
    if std::env::var_os("TOCSIN_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the model types: refresh it with `TOCSIN_BLESS=1 cargo test -p definition-store schema` and commit it",
        path.display()
    );
}

#[test]
fn schema_describes_the_variable_forms_and_kinds() {
    let schema = crate::json_schema();
    let text = schema.to_string();
    assert_eq!(schema["title"], "Definitions");
    assert!(text.contains("\"perLevel\""), "variables' perLevel form missing");
    assert!(text.contains("\"secret\""), "variables' secret form missing");
    assert!(
        text.contains("\"webhook\"") && text.contains("\"email\""),
        "integration kinds missing"
    );
    assert!(text.contains("\"alertDefinitions\""));
}
