//! The documentation as users and engineers meet it: every script answers
//! `--help` with its usage, the README's command lines are the ones the
//! scripts' `--help` gives, and `cargo doc` builds the design's map (the
//! crate's and modules' `//!` docs) without a warning or a broken link.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command in a process group of its own, killed whole after
/// `limit`: a script that does not know `--help` starts its real work
/// (a build, a benchmark), which must not outlive the test.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            // SAFETY: a kill of the group this test made for the child.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} still running after {limit:?} (it does not answer --help: it did its work)\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn help_of(script: &Path, flag: &str) -> String {
    let out = run_bounded(Command::new(script).arg(flag), Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{} {flag}: {:?}\nstderr: {}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // On stdout, as asked for; a script that prints its usage on stderr
    // with exit status 0 still answers.
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8(text).expect("help is UTF-8")
}

/// The files directly in scripts/: (path, executable).
fn scripts() -> Vec<(PathBuf, bool)> {
    let mut all: Vec<_> = std::fs::read_dir(root().join("scripts"))
        .expect("scripts/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let mode = std::fs::metadata(&p).expect("stat").permissions().mode();
            (p, mode & 0o111 != 0)
        })
        .collect();
    all.sort();
    all
}

#[test]
fn every_script_answers_help() {
    let mut checked = 0;
    for (path, executable) in scripts() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !executable {
            // A file other scripts source, not a command of its own.
            let text = std::fs::read_to_string(&path).expect("read");
            assert!(
                text.starts_with("# Sourced by"),
                "scripts/{name} is not executable: make it a script that answers --help, or say first `# Sourced by ...`"
            );
            continue;
        }
        let long = help_of(&path, "--help");
        let short = help_of(&path, "-h");
        assert_eq!(long, short, "scripts/{name}: -h and --help differ");
        // A link (musl-link-aarch64.sh) shows the usage of the file it names.
        let real = std::fs::canonicalize(&path).expect("canonicalize");
        let stem = real.file_name().unwrap().to_string_lossy();
        let stem = stem.trim_end_matches(".sh");
        assert!(
            long.contains(stem),
            "scripts/{name} --help gives no usage naming it:\n{long}"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} scripts found");
}

/// Every command synopsis in the README's code blocks (a line that runs
/// `scripts/NAME` with bracketed options) is a line of that script's own
/// `--help`, so that the two cannot drift apart.
#[test]
fn readme_synopses_are_the_scripts_own() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut in_block = false;
    let mut checked = 0;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        let line = line.trim();
        if !in_block || !line.contains('[') || line.contains('#') {
            continue;
        }
        // Leading `[VAR=VALUE]` words, then the script.
        let command = line
            .split_whitespace()
            .find(|w| !(w.starts_with('[') && w.contains('=')))
            .unwrap_or("");
        let Some(name) = command.strip_prefix("scripts/") else {
            continue;
        };
        let script = root().join("scripts").join(name);
        assert!(
            script.is_file(),
            "README names scripts/{name}, which is not there"
        );
        let help = help_of(&script, "--help");
        // `Usage: scripts/x.sh ...` (the shell scripts), `usage: x ...`
        // (argparse) and `  x ...` all name the same command line.
        let bare = |s: &str| {
            let s = s.trim();
            let s = match s.get(..6) {
                Some(u) if u.eq_ignore_ascii_case("usage:") => &s[6..],
                _ => s,
            };
            s.trim().replace("scripts/", "")
        };
        // argparse wraps a long usage onto indented lines: one line again.
        let mut lines: Vec<String> = Vec::new();
        let mut in_usage = false;
        for h in help.lines() {
            let continued = in_usage && h.starts_with(' ') && !h.trim().is_empty();
            match lines.last_mut() {
                Some(last) if continued => {
                    last.push(' ');
                    last.push_str(h.trim());
                }
                _ => lines.push(h.to_string()),
            }
            in_usage = continued || h.to_lowercase().starts_with("usage:");
        }
        let words = |s: &str| bare(s).split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.lines()
                .chain(lines.iter().map(|l| l.as_str()))
                .any(|h| words(h) == words(line)),
            "README's `{line}` is not a line of scripts/{name} --help:\n{help}"
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} synopses found in README.md");
}

/// `cargo doc` of the crate, private modules included (the map of the
/// design is in them), with every rustdoc warning an error: broken
/// intra-doc links, unclosed HTML, bare URLs. Into a target directory of
/// its own: the test run holds the lock of the usual one.
#[test]
fn cargo_doc_has_no_warnings() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = run_bounded(
        Command::new(cargo)
            .current_dir(root())
            .args(["doc", "--no-deps", "--document-private-items", "--quiet"])
            .env("CARGO_TARGET_DIR", root().join("target/doc-check"))
            .env("RUSTDOCFLAGS", "-D warnings"),
        Duration::from_secs(600),
    );
    assert!(
        out.status.success(),
        "cargo doc: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let index = root().join("target/doc-check/doc/faultdump/index.html");
    let html = std::fs::read_to_string(&index).expect("doc index");
    for module in ["startup", "triggers", "dump", "symbolize", "report", "sys"] {
        assert!(
            html.contains(&format!("{module}/index.html")),
            "the crate's page does not link the {module} layer"
        );
    }
}
