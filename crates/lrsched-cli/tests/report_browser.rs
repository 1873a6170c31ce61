//! `report.html` in a real browser: Debian's chromium, headless, opens a report that
//! `lrsched compare` wrote; the page loads, every picture renders with a non-zero size and
//! drawn content, and the console stays silent (the report has no script of its own, so
//! any console line is a failed load or an error).
//!
//! `.ci/run` installs chromium where it is missing. Without it this test prints a skip
//! note, except on CI (the `CI` variable set), where a missing browser fails the test so
//! the check cannot quietly stop running.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `chromium` (or `chromium-browser`) on the PATH.
fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Appended to a copy of the report: after load, writes each picture's rendered size (and
/// for SVG, the size of what is drawn inside) into `<pre id="sizes">`, which `--dump-dom`
/// then prints.
const PROBE: &str = r#"
<script>
window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('svg, img').forEach(function (e) {
    var r = e.getBoundingClientRect();
    var inner = '';
    if (e.tagName.toLowerCase() === 'svg') {
      var b = e.getBBox();
      inner = ' ' + b.width + 'x' + b.height;
    } else {
      inner = ' ' + e.naturalWidth + 'x' + e.naturalHeight;
    }
    out.push(e.tagName.toLowerCase() + ' ' + r.width + 'x' + r.height + inner);
  });
  var pre = document.createElement('pre');
  pre.id = 'sizes';
  pre.textContent = 'pictures ' + out.length + '\n' + out.join('\n');
  document.body.appendChild(pre);
});
</script>
"#;

/// Opens `report` headless; returns the dumped DOM and chromium's stderr.
fn open_in_chromium(chromium: &Path, report: &Path, scratch: &Path) -> (String, String) {
    let page = scratch.join("probe.html");
    let html = std::fs::read_to_string(report).unwrap();
    std::fs::write(&page, format!("{html}{PROBE}")).unwrap();
    let profile = scratch.join("profile");
    let dom = scratch.join("dom.html");
    let err = scratch.join("stderr.txt");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&dom).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("chromium starts");
    // A browser that hangs must fail the test, not the CI job's time limit.
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(status.success(), "chromium failed: {status}\n{stderr}");
    (std::fs::read_to_string(&dom).unwrap(), stderr)
}

/// Checks one report: loads, pictures drawn with a size, no console output.
fn check_report(chromium: &Path, report: &Path, expect_pictures: usize) {
    let scratch = tempfile::tempdir().unwrap();
    let (dom, stderr) = open_in_chromium(chromium, report, scratch.path());
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console.is_empty(),
        "console output:\n{}",
        console.join("\n")
    );
    let start = dom
        .find("<pre id=\"sizes\">")
        .unwrap_or_else(|| panic!("the page did not finish loading:\n{stderr}"));
    let sizes = &dom[start + "<pre id=\"sizes\">".len()..];
    let sizes = &sizes[..sizes.find("</pre>").unwrap()];
    let mut lines = sizes.lines();
    let count: usize = lines
        .next()
        .and_then(|l| l.strip_prefix("pictures "))
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(
        count >= expect_pictures,
        "{count} pictures, expected at least {expect_pictures}"
    );
    for line in lines {
        // "svg 725x422.9 2890x1690": the box on the page, then what is drawn inside.
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{line}");
        for size in &parts[1..] {
            let (w, h) = size.split_once('x').unwrap();
            let (w, h): (f64, f64) = (w.parse().unwrap(), h.parse().unwrap());
            assert!(w > 0.0 && h > 0.0, "a picture with no size: {line}");
        }
    }
}

#[test]
fn the_compare_report_renders_in_a_real_browser() {
    let Some(chromium) = find_chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed, and CI must run this check (.ci/run installs it)");
        }
        eprintln!(
            "skipped: chromium is not installed (apt-get install chromium); CI runs this test"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schedules = dir.path().join("s.json");
    std::fs::write(
        &schedules,
        r#"[{"name": "cosine", "schedule": "cosine(lr=0.05, steps=100%)"},
            {"name": "blow-up", "schedule": "constant(lr=1e30)"},
            {"name": "one-cycle", "schedule": "one_cycle(max_lr=0.1, total_steps=100%)"}]"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_lrsched"))
        .args(["compare", "--seeds", "2", "--epochs", "3", "--schedules"])
        .arg(&schedules)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Learning rate, training loss, accuracy, error, validation loss, loss per step.
    check_report(&chromium, &out.join("report.html"), 6);
}
