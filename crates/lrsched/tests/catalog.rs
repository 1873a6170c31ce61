//! The catalog that `lrsched list` prints agrees with the parsers.
#![cfg(feature = "serde")]

use lrsched::{catalog, config, oneline, ScheduleError};
use std::collections::BTreeSet;

/// The keys a type accepts, as its parser reports them for an unknown key.
fn accepted_keys(name: &str) -> BTreeSet<String> {
    let probe = serde_json::json!({"type": name, "__probe__": 0});
    match config::from_value(probe) {
        Err(ScheduleError::UnknownKey { allowed, .. }) => allowed.into_iter().collect(),
        other => panic!("{name}: probing for keys gave {other:?}"),
    }
}

#[test]
fn every_type_is_listed_once() {
    for name in config::all_type_names() {
        let n = catalog::all().filter(|t| t.name == name).count();
        assert_eq!(n, 1, "{name} is listed {n} times");
    }
    assert_eq!(catalog::all().count(), config::all_type_names().len());
}

#[test]
fn listed_keys_are_the_accepted_keys() {
    for info in catalog::all() {
        let listed: BTreeSet<String> = info
            .param_list()
            .iter()
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(listed, accepted_keys(info.name), "{}", info.name);
    }
}

#[test]
fn examples_parse_and_defaults_are_the_applied_ones() {
    for info in catalog::all() {
        let example = oneline::parse(info.example)
            .unwrap_or_else(|e| panic!("{}: example {}: {e}", info.name, info.example));
        // Paste-in types become native trees, so only native and PyTorch types keep
        // their name.
        if !info.name.contains('.') {
            assert_eq!(example.type_name(), info.name);
        }
        let given = oneline::parse_value(info.example).unwrap();
        for (key, default) in info.param_list() {
            let Some(default) = default.filter(|d| *d != "none") else {
                continue;
            };
            if given.get(key).is_some() {
                continue;
            }
            let explicit = format!(
                "{}, {key}={default})",
                info.example.strip_suffix(')').unwrap()
            );
            let parsed = oneline::parse(&explicit)
                .unwrap_or_else(|e| panic!("{}: {explicit}: {e}", info.name));
            assert_eq!(
                parsed, example,
                "{}: default of `{key}` is not {default}",
                info.name
            );
        }
    }
}
