//! The top README's adapter snippets are the adapters' README code (which rustdoc compiles
//! and runs through each crate's `ReadmeDoctests`), so they cannot drift apart. One test
//! for both adapters (candle's and burn's), so the check is written once.

/// The ```rust blocks of `markdown`, whitespace removed.
fn rust_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let t = line.trim();
        match &mut current {
            None if t == "```rust" => current = Some(String::new()),
            Some(code) if t == "```" => {
                blocks.push(std::mem::take(code));
                current = None;
            }
            Some(code) => code.extend(t.chars().filter(|c| !c.is_whitespace())),
            None => {}
        }
    }
    blocks
}

#[test]
fn top_readme_snippets_are_the_tested_readme_code() {
    let top = rust_blocks(include_str!("../../../README.md"));
    let adapters = [
        (
            "lrsched_candle",
            "crates/lrsched-candle/README.md",
            include_str!("../README.md"),
        ),
        (
            "LrschedScheduler",
            "crates/lrsched-burn/README.md",
            include_str!("../../lrsched-burn/README.md"),
        ),
    ];
    for (marker, path, readme) in adapters {
        let ours: String = rust_blocks(readme).concat();
        let snippets: Vec<&String> = top.iter().filter(|b| b.contains(marker)).collect();
        assert_eq!(snippets.len(), 1, "the top README shows one {path} snippet");
        for s in snippets {
            assert!(ours.contains(s.as_str()), "not in {path}: {s}");
        }
    }
}
