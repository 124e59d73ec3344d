//! What `tocsin validate` checks in a webhook integration's own steps beyond their structure
//! (`rules::message_problems`) and templates: the extraction rules compile (JSON paths, regular
//! expressions and their captures), and OAuth 2 client secrets and HMAC keys come from secret
//! variables.

use definition_store::{HttpAuth, IntegrationCheck, VariableDef};

use crate::payload::compile_rule;

/// Reports the problems of the integration's steps through `check`.
pub(crate) fn steps(check: &mut IntegrationCheck<'_>) {
    let integration = check.integration().clone();
    for (m, message) in integration.messages.iter().enumerate() {
        for (s, step) in message.steps.iter().enumerate() {
            let path = format!("messages[{m}].steps[{s}]");
            for (name, rule) in &step.extract {
                if let Err((field, problem)) = compile_rule(name, rule)
                    && !field.is_empty()
                {
                    check.issue(
                        &format!(
                            "{path}.extract.{}{field}",
                            definition_store::escape_controls(name)
                        ),
                        problem,
                    );
                }
            }
            if let Some(HttpAuth::OAuth2 { client_secret, .. }) = &step.auth
                && !names_a_secret(&integration.variables, client_secret)
            {
                check.issue(
                    &format!("{path}.auth.clientSecret"),
                    "the client secret must come from a secret variable (`{{ClientSecret}}` with `ClientSecret: {secret: \"ssm:/…\"}`)",
                );
            }
        }
    }
}

/// An HMAC function's key is a secret: it must come from a secret variable of the integration, not
/// from the definitions file.
pub(crate) fn hmac_key(check: &mut IntegrationCheck<'_>, path: &str, key: &str) {
    if !names_a_secret(&check.integration().variables, key) {
        check.issue(
            path,
            "the key must come from a secret variable (`{{HmacKey}}` with `HmacKey: {secret: \"ssm:/…\"}`)",
        );
    }
}

/// Whether `template` is `{{Name}}` (spaces allowed) for a secret variable `Name`.
fn names_a_secret(variables: &std::collections::BTreeMap<String, VariableDef>, template: &str) -> bool {
    let name = template
        .trim()
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .map(str::trim);
    name.and_then(|name| variables.get(name))
        .is_some_and(|variable| matches!(variable, VariableDef::Secret { .. }))
}
