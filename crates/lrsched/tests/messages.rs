//! Error messages quote at most `MAX_QUOTE` characters of the input, whatever it is: a
//! pasted file (100 KB) given as a schedule, a key, a type name or a value comes back as
//! a short line, and no input makes a parser panic (issue 12).
#![cfg(feature = "serde")]

use lrsched::{config, oneline, MAX_MESSAGE, MAX_QUOTE};
use proptest::prelude::*;
use serde_json::json;

/// Every span between backticks or double quotes, and the whole, within the bounds.
fn assert_short(message: &str) {
    assert!(
        message.chars().count() <= MAX_MESSAGE + 1,
        "{} characters: {}",
        message.chars().count(),
        &message[..200.min(message.len())]
    );
    // Quotes pair as `lrsched::shorten` pairs them: from an opening ` or " to the next
    // of the same kind.
    let (mut open, mut len) = (None, 0);
    for c in message.chars() {
        match open {
            Some(q) if c == q => open = None,
            Some(_) => {
                len += 1;
                assert!(
                    len <= MAX_QUOTE + 1,
                    "a quote over {MAX_QUOTE} characters in {message}"
                );
            }
            None if c == '`' || c == '"' => (open, len) = (Some(c), 0),
            None => {}
        }
    }
}

#[test]
fn a_message_cut_right_after_a_cut_quote_stays_short() {
    // The whole message is cut at MAX_MESSAGE exactly after a quote's own ellipsis (a
    // case proptest found): the quote must not grow by a second ellipsis.
    let message = format!(
        "{}`{}` tail",
        "p".repeat(MAX_MESSAGE - MAX_QUOTE - 2),
        "a".repeat(100)
    );
    let short = lrsched::shorten(&message);
    assert_short(&short);
    assert!(short.ends_with("a…"), "{}", &short[short.len() - 10..]);
}

#[test]
fn a_100_kb_input_is_quoted_short() {
    let big = "x".repeat(100_000);
    let inputs = [
        big.clone(),
        format!("{big}(lr=0.1)"),
        format!("cosine({big}=1, steps=10)"),
        format!("cosine(lr=\"{big}\", steps=10)"),
        format!("cosine(lr=1{big}, steps=10)"),
        format!("cosine(lr=0.1, steps=10) {big}"),
        format!("cosine(lr=[{}], steps=10)", "1,".repeat(50_000)),
        format!("cosine(lr=0.1, steps=10, lr=\"{big}\")"),
    ];
    for text in &inputs {
        let e = oneline::parse(text).expect_err("not a valid schedule");
        assert_short(&e.to_string());
    }
    for value in [
        json!({"type": big}),
        json!({"type": "cosine", "lr": big, "steps": 10}),
        json!({"type": "cosine", "lr": 0.1, "steps": 10, big.as_str(): 1}),
        json!({"type": "StepLR", "lr": 0.1, "step_size": big}),
        json!({"type": "cosine", "lr": 0.1, "steps": format!("{big}ep")}),
    ] {
        let e = config::from_value(value).expect_err("not a valid config");
        assert_short(&e.to_string());
    }
    let json = std::path::Path::new("schedule.json");
    let e = config::text_value(&format!("{{\"type\": \"{big}"), json).unwrap_err();
    assert_short(&e.to_string());
    let e = config::text_value(&format!("{{\"type\": \"cosine\", {big}}}"), json).unwrap_err();
    assert_short(&e.to_string());
    #[cfg(feature = "toml")]
    {
        let toml = std::path::Path::new("schedule.toml");
        let e = config::text_value(&format!("type = \"cosine\"\n{big}"), toml).unwrap_err();
        assert_short(&e.to_string());
    }
}

/// One-line texts near valid ones: a valid form with a random piece spliced in, where
/// the piece may be long.
fn near_valid() -> impl Strategy<Value = String> {
    let base = prop_oneof![
        Just("cosine(lr=0.1, steps=100)"),
        Just("warmup(steps=5, schedule=cosine(lr=0.1, steps=15))"),
        Just("StepLR(lr=0.1, step_size=3, gamma=0.5)"),
        Just("join(schedules=[constant(lr=0.1), linear(lr=0.1, steps=10)], at=[5])"),
    ];
    let piece = prop_oneof![
        "[a-z_]{0,8}",
        "[\"`()\\[\\]{},=0-9a-z. -]{0,12}",
        (1usize..2000).prop_map(|n| "q".repeat(n)),
        (1usize..300).prop_map(|n| "\"".to_string() + &"w".repeat(n)),
    ];
    (base, any::<prop::sample::Index>(), piece).prop_map(|(b, at, piece)| {
        let mut cut = at.index(b.len() + 1);
        while !b.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}{piece}{}", &b[..cut], &b[cut..])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn the_one_line_parser_never_panics_and_quotes_short(text in near_valid()) {
        if let Err(e) = oneline::parse(&text) {
            assert_short(&e.to_string());
        }
    }

    #[test]
    fn any_text_parses_or_errs_short(text in "\\PC{0,300}") {
        if let Err(e) = oneline::parse(&text) {
            assert_short(&e.to_string());
        }
    }

    #[test]
    fn shorten_bounds_any_message(message in "[`\"a-z ]{0,3000}") {
        assert_short(&lrsched::shorten(&message));
    }
}
