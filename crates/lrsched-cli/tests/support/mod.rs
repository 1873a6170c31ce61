//! Helpers the CLI tests share, so each test file states only what it checks: running the
//! binary, writing inputs, reading outputs, the user-error check, the candle example
//! program and process checks.
//!
//! `LRSCHED_TEST_BIN` runs the tests against another build of lrsched (an older one, to
//! see a test fail there).
#![allow(dead_code, unused_imports)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod process;
pub use process::{alive, read_pid, wait_for};

/// The lrsched under test: `LRSCHED_TEST_BIN` when set, else this build's.
pub fn bin() -> PathBuf {
    std::env::var_os("LRSCHED_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_lrsched")))
}

/// `lrsched` with `words`, split at white space, as its first arguments; paths, programs
/// and other arguments that may hold spaces follow through `.args`/`.arg`.
pub fn lrsched(words: &str) -> Command {
    let mut c = Command::new(bin());
    c.args(words.split_whitespace());
    c
}

/// `line` split at white space, for argument lists built from words and paths.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Runs `lrsched ARGS` to its end, with its output.
pub fn run(args: &[&str]) -> Output {
    lrsched("").args(args).output().expect("run lrsched")
}

/// Runs `lrsched WORDS EXTRA` to its end: `words` split at white space, `extra` as is.
pub fn run_words(words: &str, extra: &[&str]) -> Output {
    lrsched(words).args(extra).output().expect("run lrsched")
}

/// Runs `lrsched WORDS EXTRA` in the folder `dir`, for relative paths.
pub fn run_in(dir: &Path, words: &str, extra: &[&str]) -> Output {
    lrsched(words)
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("run lrsched")
}

/// Starts `lrsched ARGS` with its output kept for `wait_with_output`.
pub fn spawn(args: &[&str]) -> Child {
    start(args, Stdio::piped)
}

/// Starts `lrsched ARGS` with its output thrown away (a run to kill or to race).
pub fn spawn_quiet(args: &[&str]) -> Child {
    start(args, Stdio::null)
}

fn start(args: &[&str], output: fn() -> Stdio) -> Child {
    lrsched("")
        .args(args)
        .stdout(output())
        .stderr(output())
        .spawn()
        .expect("start lrsched")
}

/// Runs `lrsched ARGS` with its address space capped at `kb` KiB (`ulimit -v`), so a run
/// that sizes memory by a typed number instead of the data fails fast here instead of
/// pressing on the machine.
pub fn capped(kb: u64, args: &[&str]) -> Output {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {kb} && exec '{}' {}",
            bin().display(),
            quoted.join(" ")
        ))
        .output()
        .expect("run sh")
}

/// Bytes as text, invalid UTF-8 replaced (output of a killed or foreign program).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A run's stdout, which must be UTF-8.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

/// A run's stderr, which must be UTF-8.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// The stdout of a run that must have succeeded (exit 0); else the test fails with its
/// stderr.
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{:?}: {}", o.status, text(&o.stderr));
    text(&o.stdout)
}

/// A path as a command-line argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Writes `body` to `dir/name` and gives the path as an argument.
pub fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    arg(&p).to_string()
}

/// `lrsched trace --schedule SCHEDULE WORDS`.
pub fn trace(schedule: &str, words: &str) -> Output {
    run_words(&format!("trace {words}"), &["--schedule", schedule])
}

/// `lrsched trace --config FILE WORDS`.
pub fn trace_config(file: &Path, words: &str) -> Output {
    run_words(&format!("trace {words}"), &["--config", arg(file)])
}

/// The rates of a `trace` that must have succeeded, one a line.
pub fn rates(o: &Output) -> Vec<f64> {
    ok(o).lines().map(|l| l.parse().unwrap()).collect()
}

/// A search space: `body` written to `dir/space.toml`, as an argument.
pub fn space(dir: &Path, body: &str) -> String {
    write(dir, "space.toml", body)
}

/// A search space over the rate alone: `schedule` (with `{lr}` in it) and the `lr`
/// parameter's range or choice (TOML inline-table items), as an argument.
pub fn lr_space(dir: &Path, schedule: &str, lr: &str) -> String {
    let body = format!("schedule = \"{schedule}\"\n[params]\nlr = {{ {lr} }}\n");
    space(dir, &body)
}

/// `lrsched tune WORDS --space SPACE --out OUT EXTRA`.
pub fn tune(words: &str, space: &str, out: &Path, extra: &[&str]) -> Output {
    let args = [&["--space", space, "--out", arg(out)][..], extra].concat();
    run_words(&format!("tune {words}"), &args)
}

/// `lrsched compare WORDS --schedules FILE --out OUT EXTRA`.
pub fn compare(words: &str, schedules: &str, out: &Path, extra: &[&str]) -> Output {
    let args = [&["--schedules", schedules, "--out", arg(out)][..], extra].concat();
    run_words(&format!("compare {words}"), &args)
}

/// Writes `text` to `name` in a folder of this test process (outside any temporary
/// folder a test owns), for inputs the whole file shares.
pub fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lrsched-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of a JSON-lines file.
pub fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A metrics file's epoch records without their wall-clock fields, so two runs compare.
pub fn records(path: &Path) -> Vec<serde_json::Value> {
    let mut rows = jsonl(path);
    for v in &mut rows {
        let m = v.as_object_mut().unwrap();
        m.remove("epoch_seconds");
        m.remove("samples_per_sec");
    }
    rows
}

/// Waits until `ready()` holds, polling every `every`, failing the test with `what`
/// after `limit`.
pub fn wait_until(what: &str, limit: Duration, every: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(every);
    }
}

/// The candle example program (`lrsched-candle`'s `digits_trial`), from the target folder
/// this test's lrsched was built in. `cargo test --workspace` has built it already; a
/// narrower run builds it here once, with the workspace's features, so candle is never
/// compiled a second time with another feature set.
pub fn digits_trial() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let lrsched = PathBuf::from(env!("CARGO_BIN_EXE_lrsched"));
        let profile_dir = lrsched.parent().unwrap();
        let exe = profile_dir.join("examples").join("digits_trial");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "--workspace", "--example", "digits_trial"])
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "cannot build the digits_trial example");
        assert!(exe.exists(), "{} missing", exe.display());
        exe
    })
}

/// A user error: exit status 2 and one line on stderr, `error: ...`, naming `needle`.
pub fn assert_user_error(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "`{needle}` in: {err}");
}

/// A user error naming every piece of `wanted`.
pub fn assert_refused(o: &Output, wanted: &[&str]) {
    for w in wanted {
        assert_user_error(o, w);
    }
}

/// Each case's arguments after `base` are a user error (exit 2, one line `error: ...`)
/// naming the case's needle, never a panic.
pub fn assert_refuses(base: &[&str], cases: &[(Vec<&str>, &str)]) {
    for (extra, needle) in cases {
        let o = run(&[base, extra].concat());
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{extra:?}: {err}");
        assert!(err.starts_with("error: "), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: `{needle}` in: {err}");
        assert!(!err.contains("panicked"), "{extra:?}: {err}");
    }
}

/// The rows of a tune's `results.jsonl`, best first.
pub fn results(out: &Path) -> Vec<serde_json::Value> {
    jsonl(&out.join("results.jsonl"))
}
