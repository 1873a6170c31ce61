//! `lrsched plot` end to end: the binary writes pictures, draws in the terminal, and
//! refuses bad input with one line and exit status 2.

mod support;

use std::path::Path;
use std::process::Output;
use support::{ok, run_in};

/// `lrsched plot --schedule SCHEDULE WORDS`, run in `dir`.
fn plot(dir: &Path, schedule: &str, words: &str) -> Output {
    let mut args = vec!["--schedule", schedule];
    args.extend(words.split_whitespace());
    run_in(dir, "plot", &args)
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

/// `out` exits 2 with one line on stderr that says `says`.
fn bad(out: Output, says: &str) {
    support::assert_user_error(&out, says);
}

#[test]
fn two_schedules_overlaid_write_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&run_in(
        dir.path(),
        "plot --steps 200 --out pics --name two --width 640 --height 400",
        &[
            "--schedule",
            "cosine(lr=0.1, steps=200)",
            "--schedule",
            "step(lr=0.1, step_size=60, gamma=0.5)",
        ],
    ));
    let png = dir.path().join("pics/two.png");
    let svg = dir.path().join("pics/two.svg");
    assert!(out.contains("two.png") && out.contains("two.svg"), "{out}");
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (640, 400));
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.contains("cosine(lr=0.1, steps=200)"));
    assert!(svg.contains("step(lr=0.1, step_size=60, gamma=0.5)"));
    // The step decay's drops are marked with their factor.
    assert!(svg.contains("×0.5"), "no drop markers");
}

#[test]
fn config_file_log_axis_and_momentum() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("oc.json"),
        r#"{"type": "one_cycle", "max_lr": 0.1, "total_steps": 300}"#,
    )
    .unwrap();
    let out = ok(&plot(
        dir.path(),
        "exponential(lr=0.1, gamma=0.98)",
        "--config oc.json --steps 300 --log-y --momentum --out o",
    ));
    assert!(out.contains("plot.png"), "{out}");
    let svg = std::fs::read_to_string(dir.path().join("o/plot.svg")).unwrap();
    assert!(svg.contains("oc.json") && svg.contains("momentum"));
    assert!(svg.contains("1e-") || svg.contains("0.001"), "no log ticks");
}

#[test]
fn a_saved_run_draws_rate_and_loss_against_step() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run_in(
        dir.path(),
        "train --epochs 2 --metrics-out m.jsonl",
        &[],
    ));
    assert!(dir.path().join("m.steps.jsonl").exists());
    let out = ok(&run_in(
        dir.path(),
        "plot --run m.jsonl --out r --name run",
        &[],
    ));
    assert!(out.contains("run.png"), "{out}");
    assert_eq!(
        png_size(&std::fs::read(dir.path().join("r/run.png")).unwrap()),
        (1000, 800)
    );
    let svg = std::fs::read_to_string(dir.path().join("r/run.svg")).unwrap();
    assert!(svg.contains("training loss (step)") && svg.contains("validation loss"));
    // And in the terminal.
    let text = ok(&run_in(
        dir.path(),
        "plot --run m.jsonl --terminal --width 70 --height 30",
        &[],
    ));
    assert!(text.contains("Loss"));
}

#[test]
fn terminal_draws_braille_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = ok(&plot(
        dir.path(),
        "warm_restarts(lr=0.1, period=50)",
        "--steps 200 --terminal --width 72 --height 20",
    ));
    assert_eq!(text.lines().count(), 20, "{text}");
    assert!(text.lines().all(|l| l.chars().count() == 72), "{text}");
    assert!(text.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)));
    assert!(text.contains('┴'), "restarts marked on the axis:\n{text}");
    assert!(
        !dir.path().join("runs").exists(),
        "--terminal alone writes no files"
    );
}

#[test]
fn plateau_schedules_read_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let metrics: String = (0..40)
        .map(|i| format!("{}\n", if i < 10 { 1.0 - 0.05 * i as f64 } else { 0.5 }))
        .collect();
    std::fs::write(dir.path().join("val.txt"), metrics).unwrap();
    let s = "plateau(lr=0.1, patience=3)";
    ok(&plot(dir.path(), s, "--metrics val.txt --steps 40 --out ."));
    assert!(dir.path().join("plot.png").exists());
    bad(plot(dir.path(), s, "--steps 40 --out ."), "--metrics");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cosine = "cosine(lr=0.1, steps=10)";
    bad(
        plot(d, "cosinus(lr=0.1, steps=10)", "--steps 10"),
        "cosinus",
    );
    bad(
        run_in(d, "plot --config missing.json --steps 10", &[]),
        "missing.json",
    );
    bad(plot(d, cosine, ""), "--steps");
    bad(run_in(d, "plot --steps 10", &[]), "nothing to draw");
    bad(plot(d, cosine, "--steps 10 --momentum"), "momentum");
    std::fs::write(d.join("m.jsonl"), "{\"epoch\": 1}\nnot json\n").unwrap();
    bad(run_in(d, "plot --run m.jsonl", &[]), "line 1");
    std::fs::write(d.join("file"), "x").unwrap();
    bad(
        plot(d, cosine, "--steps 10 --out file/sub"),
        "cannot create output folder",
    );
    bad(
        plot(d, "constant(lr=0)", "--steps 10 --log-y --out o"),
        "positive",
    );
}

#[test]
fn negative_optax_values_are_plotted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("neg.json"),
        r#"{"type": "optax.warmup_cosine_decay_schedule", "init_value": 0.0, "peak_value": 0.1, "warmup_steps": 5, "decay_steps": 30, "end_value": -0.05}"#,
    )
    .unwrap();
    let out = ok(&run_in(
        dir.path(),
        "plot --config neg.json --steps 40 --out n",
        &[],
    ));
    assert!(out.contains("plot.png"), "{out}");
    let svg = std::fs::read_to_string(dir.path().join("n/plot.svg")).unwrap();
    // The y axis reaches below 0 to show the values optax gives.
    assert!(
        svg.contains("−0.05") || svg.contains("-0.05"),
        "no negative tick"
    );
}
