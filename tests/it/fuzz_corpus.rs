//! The committed fuzz corpus as a regression suite, without the fuzzer: every file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the target's body, the same
//! code the fuzzer runs (`fuzz/src/lib.rs`, included here), which panics when the code under test
//! panics or breaks one of the invariants the target checks.

#[path = "../../fuzz/src/lib.rs"]
mod bodies;

use std::{
    fs,
    panic::{self, AssertUnwindSafe},
    path::{Path, PathBuf},
};

/// The inputs of `target`: its corpus, then its regression inputs (crashes found and fixed).
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for folder in ["corpus", "regressions"] {
        let dir = fuzz.join(folder).join(target);
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// Runs every input of `target` through its body and lists the inputs that fail.
fn replay(target: &str) {
    let Some((_, body)) = bodies::TARGETS.iter().find(|(name, _)| *name == target) else {
        panic!("no fuzz target body named {target} in fuzz/src/lib.rs");
    };
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "fuzz/corpus/{target}/ is empty or missing: the committed corpus is the regression suite"
    );
    let failures: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = fs::read(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            panic::catch_unwind(AssertUnwindSafe(|| body(&data))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fuzz inputs of `{target}` fail (the panic of each is printed above; reproduce with \
         `RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz {target} FILE`):\n  {}",
        failures.len(),
        files.len(),
        failures.join("\n  ")
    );
}

#[test]
fn every_target_has_a_test_here() {
    let mut names: Vec<&str> = bodies::TARGETS.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["definitions_json", "definitions_yaml", "inbound", "template"],
        "add a replay test for every fuzz target"
    );
}

#[test]
fn inbound_corpus_replays() {
    replay("inbound");
}

#[test]
fn template_corpus_replays() {
    replay("template");
}

#[test]
fn definitions_yaml_corpus_replays() {
    replay("definitions_yaml");
}

#[test]
fn definitions_json_corpus_replays() {
    replay("definitions_json");
}
