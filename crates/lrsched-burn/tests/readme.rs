//! The top README's burn snippet is this crate's README code (which rustdoc compiles and
//! runs through `ReadmeDoctests`), so the two cannot drift apart.

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
fn top_readme_snippet_is_the_tested_readme_code() {
    let top = include_str!("../../../README.md");
    let ours: String = rust_blocks(include_str!("../README.md")).concat();
    let snippets: Vec<String> = rust_blocks(top)
        .into_iter()
        .filter(|b| b.contains("LrschedScheduler"))
        .collect();
    assert_eq!(snippets.len(), 1, "the top README shows one burn snippet");
    for s in snippets {
        assert!(
            ours.contains(&s),
            "not in crates/lrsched-burn/README.md: {s}"
        );
    }
}
