//! Tidy: plain-text checks that keep the repository's structural conventions in step.
//!
//! Every `IntegrationKind` has its function crate, its SAM resource and its README row, and nothing
//! exists without a kind; every crate uses the workspace lints; the pure crate stays pure; dev-only
//! helpers stay dev-only; no test is ignored and no stub is left behind; `main.rs` files stay thin.
//! Each failure lists every problem found, with what to fix.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use alert_model::IntegrationKind;

/// The workspace root: the parent of this crate's folder (`tests/`).
fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("tidy: cannot read {}: {err}", path.display()))
}

/// `splunk-oncall` → `SplunkOncall`, as in the SAM logical id `NotifySplunkOncallFunction`.
fn pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

fn kind_names() -> BTreeSet<String> {
    IntegrationKind::ALL
        .iter()
        .map(|kind| kind.as_str().to_owned())
        .collect()
}

fn fail_on(problems: &[String], what: &str) {
    assert!(
        problems.is_empty(),
        "tidy: {what}:\n  - {}\n",
        problems.join("\n  - ")
    );
}

/// Every `.rs` file of the workspace outside build output and hidden folders, relative to the root.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let root = root();
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| path.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(path))
        .collect()
}

/// The folders under `functions/`.
fn function_folders() -> Vec<String> {
    let dir = root().join("functions");
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|err| panic!("tidy: cannot list {}: {err}", dir.display()));
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The manifest of every crate: `cli`, `tests`, and each folder of `functions/` and `shared/`.
fn crate_manifests() -> Vec<String> {
    let mut manifests = vec!["cli/Cargo.toml".to_owned(), "tests/Cargo.toml".to_owned()];
    for parent in ["functions", "shared"] {
        let dir = root().join(parent);
        let entries =
            fs::read_dir(&dir).unwrap_or_else(|err| panic!("tidy: cannot list {}: {err}", dir.display()));
        for entry in entries.flatten() {
            if entry.path().join("Cargo.toml").is_file() {
                manifests.push(format!(
                    "{parent}/{}/Cargo.toml",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    manifests.sort();
    manifests
}

/// The lines of a TOML file paired with the `[section]` they are in (`""` before the first header).
fn toml_lines(text: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
                .to_owned();
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        lines.push((section.clone(), trimmed.to_owned()));
    }
    lines
}

/// The key of a TOML `key = value` or `key.workspace = true` line.
fn toml_key(line: &str) -> &str {
    let key = line.split(['=', '.']).next().unwrap_or(line);
    key.trim().trim_matches('"')
}

/// The top-level resources of the SAM template: logical id → the lines of its block.
fn template_resources() -> Vec<(String, Vec<String>)> {
    let template = read("infra/template.yaml");
    let mut resources: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_resources = false;
    for line in template.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
            in_resources = line.trim_end() == "Resources:";
            continue;
        }
        if !in_resources {
            continue;
        }
        let is_resource_header = line.starts_with("  ")
            && !line.starts_with("   ")
            && !line.trim_start().starts_with('#')
            && line.trim_end().ends_with(':');
        if is_resource_header {
            resources.push((line.trim().trim_end_matches(':').to_owned(), Vec::new()));
        } else if let Some((_, block)) = resources.last_mut() {
            block.push(line.trim().to_owned());
        }
    }
    resources
}

/// The rows of the README's integrations table (the one whose header starts `| kind | function |`),
/// each as its trimmed cells.
fn readme_integration_rows() -> Vec<Vec<String>> {
    let readme = read("README.md");
    let mut lines = readme.lines().skip_while(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        !(cells.get(1) == Some(&"kind") && cells.get(2) == Some(&"function"))
    });
    assert!(
        lines.next().is_some(),
        "tidy: README.md has no integrations table: add one with the header `| kind | function | sends to | status |`"
    );
    lines
        .skip(1) // the |---| line
        .take_while(|line| line.trim_start().starts_with('|'))
        .map(|line| {
            let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split('|').map(|cell| cell.trim().to_owned()).collect()
        })
        .collect()
}

#[test]
fn every_kind_has_a_function_crate_and_every_crate_a_kind() {
    let kinds = kind_names();
    let mut problems = Vec::new();
    for kind in &kinds {
        let manifest = root().join(format!("functions/notify-{kind}/Cargo.toml"));
        match fs::read_to_string(&manifest) {
            Ok(text) if text.lines().any(|line| line.replace(' ', "").replace('\'', "\"") == format!("name=\"notify-{kind}\"")) => {}
            Ok(_) => problems.push(format!(
                "functions/notify-{kind}/Cargo.toml must declare the package `name = \"notify-{kind}\"`"
            )),
            Err(_) => problems.push(format!(
                "kind `{kind}` has no function crate: create functions/notify-{kind}/Cargo.toml (copy notify-webhook)"
            )),
        }
    }
    for folder in function_folders() {
        match folder.strip_prefix("notify-") {
            Some(kind) if kinds.contains(kind) => {}
            Some(kind) => problems.push(format!(
                "functions/{folder} serves no IntegrationKind: add `{kind}` to alert_model::IntegrationKind \
                 or remove the folder"
            )),
            None => problems.push(format!(
                "functions/{folder}: every folder in functions/ must be a `notify-<kind>` crate; move it elsewhere"
            )),
        }
    }
    fail_on(
        &problems,
        "function crates are out of step with IntegrationKind::ALL",
    );
}

#[test]
fn every_kind_has_a_sam_function_and_every_sam_function_a_kind() {
    let kinds = kind_names();
    let resources = template_resources();
    assert!(
        !resources.is_empty(),
        "tidy: infra/template.yaml has no `Resources:` section with resources indented by two spaces"
    );
    let mut problems = Vec::new();
    for kind in &kinds {
        let id = format!("Notify{}Function", pascal(kind));
        let Some((_, block)) = resources.iter().find(|(name, _)| *name == id) else {
            problems.push(format!(
                "kind `{kind}` has no `{id}` resource in infra/template.yaml: add one (copy NotifyWebhookFunction)"
            ));
            continue;
        };
        // Every function receives every alert (no filter policy), with a role and a log group of its own.
        let expected = [
            format!("CodeUri: ../functions/notify-{kind}"),
            "Type: AWS::Serverless::Function".to_owned(),
            "BuildMethod: rust-cargolambda".to_owned(),
            "Topic: !Ref AlertsTopic".to_owned(),
            format!("Role: !GetAtt Notify{}Role.Arn", pascal(kind)),
            format!("LogGroup: !Ref Notify{}LogGroup", pascal(kind)),
        ];
        for line in expected {
            if !block.contains(&line) {
                problems.push(format!(
                    "{id} in infra/template.yaml must have `{line}` (see NotifyWebhookFunction)"
                ));
            }
        }
        for (suffix, needs) in [
            ("Role", "ManagedPolicyArns: [!Ref NotifierPolicy]"),
            ("LogGroup", "RetentionInDays: !Ref LogRetentionDays"),
        ] {
            let resource = format!("Notify{}{suffix}", pascal(kind));
            match resources.iter().find(|(name, _)| *name == resource) {
                Some((_, block)) if block.iter().any(|line| line == needs) => {}
                Some(_) => problems.push(format!(
                    "{resource} in infra/template.yaml must have `{needs}` (see NotifyWebhook{suffix})"
                )),
                None => problems.push(format!(
                    "kind `{kind}` has no `{resource}` resource in infra/template.yaml: add one (copy NotifyWebhook{suffix})"
                )),
            }
        }
        if block.iter().any(|line| line.starts_with("FilterPolicy")) {
            problems.push(format!(
                "{id} in infra/template.yaml has a FilterPolicy: every function receives every alert and picks \
                 its own routes, so remove it"
            ));
        }
    }
    let known: BTreeSet<String> = kinds
        .iter()
        .map(|kind| format!("Notify{}Function", pascal(kind)))
        .collect();
    for (id, block) in &resources {
        if id.starts_with("Notify") && id.ends_with("Function") && !known.contains(id) {
            problems.push(format!(
                "infra/template.yaml resource {id} matches no IntegrationKind (expected one of {known:?}): \
                 rename or remove it"
            ));
        }
        for line in block {
            if let Some(folder) = line.strip_prefix("CodeUri: ../functions/") {
                let served = folder
                    .strip_prefix("notify-")
                    .is_some_and(|kind| kinds.contains(kind));
                if !served {
                    problems.push(format!(
                        "infra/template.yaml resource {id} builds functions/{folder}, which serves no IntegrationKind"
                    ));
                }
            }
        }
    }
    // What Lambda does with a failed invocation is the same for every function: in Globals.
    let template = read("infra/template.yaml");
    // The functions compare their claim lifetime with their timeout, which they learn from this.
    let setting = |name: &str| {
        template
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .map(|rest| rest.trim().trim_matches('"').to_owned())
    };
    if setting("Timeout:") != setting("TOCSIN_FUNCTION_TIMEOUT_SECONDS:") {
        problems.push(format!(
            "infra/template.yaml Globals: `TOCSIN_FUNCTION_TIMEOUT_SECONDS` ({:?}) must equal the function `Timeout` ({:?})",
            setting("TOCSIN_FUNCTION_TIMEOUT_SECONDS:"),
            setting("Timeout:")
        ));
    }
    for line in [
        "MaximumRetryAttempts: 2",
        "Destination: !GetAtt FailedAlertsQueue.Arn",
    ] {
        if !template.lines().any(|text| text.trim() == line) {
            problems.push(format!(
                "infra/template.yaml Globals.Function.EventInvokeConfig must have `{line}` (Lambda's retries, then the on-failure queue)"
            ));
        }
    }
    fail_on(
        &problems,
        "infra/template.yaml is out of step with IntegrationKind::ALL",
    );
}

#[test]
fn every_kind_has_a_readme_row_and_every_row_a_kind() {
    let kinds = kind_names();
    let rows = readme_integration_rows();
    let mut problems = Vec::new();
    for kind in &kinds {
        match rows.iter().find(|cells| cells.first().map(String::as_str) == Some(kind.as_str())) {
            Some(cells) if cells.get(1).map(String::as_str) == Some(format!("notify-{kind}").as_str()) => {}
            Some(_) => problems.push(format!(
                "README.md integrations row `{kind}` must name the function `notify-{kind}` in its second column"
            )),
            None => problems.push(format!(
                "kind `{kind}` has no row in the README.md integrations table: add `| {kind} | notify-{kind} | … | … |`"
            )),
        }
    }
    for cells in &rows {
        let kind = cells.first().cloned().unwrap_or_default();
        if !kinds.contains(&kind) {
            problems.push(format!(
                "README.md integrations row `{kind}` names no IntegrationKind (known: {kinds:?}): fix or remove it"
            ));
        }
    }
    fail_on(
        &problems,
        "the README.md integrations table is out of step with IntegrationKind::ALL",
    );
}

#[test]
fn every_crate_uses_the_workspace_lints() {
    let mut problems = Vec::new();
    for manifest in crate_manifests() {
        let lines = toml_lines(&read(&manifest));
        let inherits = lines
            .iter()
            .any(|(section, line)| section == "lints" && line.replace(' ', "") == "workspace=true");
        if !inherits {
            problems.push(format!("{manifest}: add `[lints]` with `workspace = true`"));
        }
    }
    fail_on(&problems, "crates without the workspace lints");
}

#[test]
fn alert_model_stays_pure() {
    let manifest = "shared/alert-model/Cargo.toml";
    let forbidden = ["tokio", "aws-", "aws_", "lambda", "reqwest", "hyper"];
    let mut problems = Vec::new();
    for (section, line) in toml_lines(&read(manifest)) {
        if !section.contains("dependencies") {
            continue;
        }
        let key = toml_key(&line);
        if forbidden.iter().any(|prefix| key.starts_with(prefix)) {
            problems.push(format!(
                "{manifest} [{section}] depends on `{key}`: alert-model is pure (no async runtime, AWS, Lambda \
                 or HTTP); move that code to notify-core"
            ));
        }
    }
    fail_on(&problems, "alert-model has an I/O dependency");
}

/// The crates that hold test code only: the emulator handle and scripted receivers
/// (`test-support`), the conformance kit (`kind-kit`) and the test crate itself (`e2e`, whose every
/// target is a test, a benchmark or a test tool). A crate that ships never depends on them: only
/// `[dev-dependencies]` name them, except in one another.
const DEV_ONLY_CRATES: [(&str, &str); 3] = [
    ("test-support", "shared/test-support/Cargo.toml"),
    ("kind-kit", "shared/kind-kit/Cargo.toml"),
    ("e2e", "tests/Cargo.toml"),
];

#[test]
fn dev_only_crates_are_dev_dependencies_only() {
    let mut problems = Vec::new();
    for manifest in crate_manifests() {
        if DEV_ONLY_CRATES.iter().any(|(_, own)| *own == manifest) {
            continue;
        }
        for (section, line) in toml_lines(&read(&manifest)) {
            let key = toml_key(&line);
            for (name, _) in DEV_ONLY_CRATES {
                let names_it = key == name || section.ends_with(&format!(".{name}"));
                let dev_only = section.ends_with("dev-dependencies")
                    || section.ends_with(&format!("dev-dependencies.{name}"));
                if names_it && !dev_only {
                    problems.push(format!(
                        "{manifest}: {name} is in [{section}]; move it to [dev-dependencies]"
                    ));
                }
            }
        }
    }
    fail_on(&problems, "a dev-only crate used outside [dev-dependencies]");
}

#[test]
fn no_ignored_tests_or_stubs_left() {
    // Built from pieces so that this file's own text never matches.
    let markers = [
        ["#[ig", "nore"].concat(),
        ["#[should", "_panic"].concat(),
        ["to", "do!("].concat(),
        ["unimple", "mented!("].concat(),
    ];
    let mut problems = Vec::new();
    for file in rust_files() {
        let text = read(&file.to_string_lossy());
        for (number, line) in text.lines().enumerate() {
            for marker in &markers {
                if line.contains(marker.as_str()) {
                    problems.push(format!(
                        "{}:{}: `{marker}` is not allowed: write the code, or a test that runs and can fail",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    fail_on(&problems, "ignored tests, panicking tests or stubs");
}

#[test]
fn function_main_files_stay_thin() {
    const MAX_LINES: usize = 10;
    let mut problems = Vec::new();
    for folder in function_folders() {
        let main = format!("functions/{folder}/src/main.rs");
        if !root().join(&main).is_file() {
            problems.push(format!(
                "{main} is missing: every function crate has a main.rs that calls notify_core::run"
            ));
            continue;
        }
        let lines = read(&main).lines().count();
        if lines > MAX_LINES {
            problems.push(format!(
                "{main} has {lines} lines (at most {MAX_LINES}): move the logic into the crate's lib.rs"
            ));
        }
    }
    fail_on(&problems, "function main.rs files grew");
}

/// The places a kind is registered outside its own folder (ARCHITECTURE.md, "Adding an integration
/// kind"): its variant (the source of the list), the registry's dependency on its crate and its arm
/// (the compiler checks the arm), its SAM block, its README row and its example integration. Each
/// missing place is listed with what to add.
#[test]
fn every_kind_is_registered_in_each_of_its_places() {
    let mut problems = Vec::new();
    let registry = read("shared/kinds/Cargo.toml");
    let registry_dependencies: BTreeSet<String> = toml_lines(&registry)
        .into_iter()
        .filter(|(section, _)| section == "dependencies")
        .map(|(_, line)| toml_key(&line).to_owned())
        .collect();
    let examples = definition_store::load_file(&root().join("examples/definitions.yaml"))
        .unwrap_or_else(|error| panic!("tidy: examples/definitions.yaml: {error}"));
    for kind in IntegrationKind::ALL {
        let function = kind.function_name();
        if !registry_dependencies.contains(&function) {
            problems.push(format!(
                "the registry does not depend on `{function}`: add `{function} = {{ path = \"../../functions/{function}\" }}` \
                 to shared/kinds/Cargo.toml and its arm to `kinds::visit`"
            ));
        }
        if !examples
            .integrations
            .iter()
            .any(|integration| integration.kind == *kind)
        {
            problems.push(format!(
                "examples/definitions.yaml has no `{kind}` integration: add one (its `Kind::sample` is a start) and attach it to a level"
            ));
        }
        let tests = root().join(format!("functions/{function}/src"));
        let calls_kit = rust_files()
            .iter()
            .filter(|file| root().join(file).starts_with(&tests))
            .any(|file| read(&file.to_string_lossy()).contains("kind_kit::conformance::<"));
        if !calls_kit {
            problems.push(format!(
                "functions/{function} does not run the conformance kit: add a test calling `kind_kit::conformance::<…>()`"
            ));
        }
    }
    // The function crates the registry depends on (notify-core is the shared runner, not a kind).
    for dependency in registry_dependencies.iter().filter(|name| *name != "notify-core") {
        if let Some(kind) = dependency.strip_prefix("notify-")
            && kind != "core"
            && kind.parse::<IntegrationKind>().is_err()
        {
            problems.push(format!(
                "shared/kinds/Cargo.toml depends on `{dependency}`, which serves no IntegrationKind"
            ));
        }
    }
    let issues = kinds::validate(&examples);
    for issue in issues {
        problems.push(format!("examples/definitions.yaml: {issue}"));
    }
    fail_on(&problems, "a kind is missing from one of its places");
}

/// Only the registry matches on kinds: everything else goes through it, so that a new kind cannot
/// silently drop out of the CLI, the tests or the benchmarks.
#[test]
fn only_the_registry_matches_on_kinds() {
    let allowed = ["shared/kinds/src/lib.rs", "shared/alert-model/src/kind.rs"];
    let mut problems = Vec::new();
    for file in rust_files() {
        let name = file.to_string_lossy().replace('\\', "/");
        if allowed.contains(&name.as_str()) || name.starts_with("fuzz/") {
            continue;
        }
        for (number, line) in read(&name).lines().enumerate() {
            let arm = line.trim_start().starts_with("IntegrationKind::") && line.contains("=>");
            if arm {
                problems.push(format!(
                    "{name}:{}: a match arm on a kind (`{}`): go through the registry (`kinds::visit`, \
                     `kinds::transport`, …) so that every kind is covered",
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    fail_on(&problems, "kinds matched outside the registry");
}
