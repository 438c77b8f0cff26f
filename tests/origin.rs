//! Where a report came from (the `Origin:` line, the JSON `origin` object)
//! and the C library's abort message (`Abort message:`, `abort_message`).

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

fn program() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_c("abort_message.c", "abort_message", &["-O1", "-g"]))
        .clone()
}

fn line_with<'a>(d: &'a Dump, prefix: &str) -> Option<&'a str> {
    d.lines.iter().find_map(|l| l.strip_prefix(prefix))
}

/// The simple annotations of a minidump's Crashpad-info stream
/// (0x43500001): its `MinidumpSimpleStringDictionary` of UTF-8 strings.
fn crashpad_annotations(dump: &[u8]) -> Vec<(String, String)> {
    let u32_at = |at: usize| u32::from_le_bytes(dump[at..at + 4].try_into().unwrap()) as usize;
    let string_at = |rva: usize| {
        let len = u32_at(rva);
        String::from_utf8(dump[rva + 4..rva + 4 + len].to_vec()).unwrap()
    };
    assert_eq!(&dump[..4], b"MDMP");
    let (count, directory) = (u32_at(8), u32_at(12));
    let Some(info) = (0..count)
        .map(|i| directory + i * 12)
        .find(|&e| u32_at(e) == 0x4350_0001)
        .map(|e| u32_at(e + 8))
    else {
        return Vec::new();
    };
    let dictionary = u32_at(info + 40);
    (0..u32_at(dictionary))
        .map(|i| {
            let entry = dictionary + 4 + i * 8;
            (string_at(u32_at(entry)), string_at(u32_at(entry + 4)))
        })
        .collect()
}

/// The one minidump in `dir`.
fn only_minidump(dir: &std::path::Path) -> Vec<u8> {
    let dumps: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dmp"))
        .collect();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    std::fs::read(&dumps[0]).unwrap()
}

fn json_of(run: &Run) -> Value {
    let line =
        json_dump_line(&run.stderr).unwrap_or_else(|| panic!("no JSON dump in:\n{}", run.stderr));
    serde_json::from_str(line).unwrap()
}

/// Each abort's message, in the text and the JSON dump; none for a plain
/// abort() or a fault.
#[test]
fn abort_messages() {
    let cases: [(&str, i32, Option<&str>); 4] = [
        (
            "assert",
            libc::SIGABRT,
            Some("abort_message: abort_message.c:11: check_order: Assertion `n == 42' failed."),
        ),
        (
            "double_free",
            libc::SIGABRT,
            Some("free(): double free detected in tcache 2"),
        ),
        ("abort", libc::SIGABRT, None),
        ("segv", libc::SIGSEGV, None),
    ];
    std::thread::scope(|s| {
        for (mode, signal, message) in cases {
            s.spawn(move || {
                let spool = scratch_dir(&format!("origin-abort-{mode}"));
                let run = Runner::new(program())
                    .arg(mode)
                    .env("FAULTHANDLER_MINIDUMP", &spool)
                    .run();
                run.assert_killed_by(signal);
                let annotations = crashpad_annotations(&only_minidump(&spool));
                let annotated = annotations
                    .iter()
                    .find(|(k, _)| k == "abort_message")
                    .map(|(_, v)| v.as_str());
                let d = run.dump();
                assert!(d.complete, "{}", run.stderr);
                let got = line_with(&d, "Abort message: ");
                match message {
                    // The assert's message starts with the program's path
                    // as invoked: compare from the file name on.
                    Some(want) if mode == "assert" => assert!(
                        got.is_some_and(|g| g.ends_with(want.split_once(' ').unwrap().1)),
                        "{mode}: {got:?}\n{}",
                        run.stderr
                    ),
                    Some(want) => assert_eq!(got, Some(want), "{mode}\n{}", run.stderr),
                    None => assert_eq!(got, None, "{mode}\n{}", run.stderr),
                }
                assert_eq!(annotated, got, "{mode}: the minidump's annotation");
                // The message line stands right after the event line.
                if got.is_some() {
                    let at = d.lines.iter().position(|l| l.starts_with("Fatal error: "));
                    assert!(
                        d.lines[at.unwrap() + 1].starts_with("Abort message: "),
                        "{}",
                        run.stderr
                    );
                }
                let run = Runner::new(program())
                    .arg(mode)
                    .env("FAULTHANDLER_FORMAT", "json")
                    .run();
                let j = json_of(&run);
                match (message, &j["abort_message"]) {
                    (Some(want), Value::String(got)) => {
                        assert!(got.ends_with(want.split_once(' ').unwrap().1), "{got}")
                    }
                    (None, Value::Null) => {}
                    (want, got) => panic!("{mode}: want {want:?}, got {got}"),
                }
            });
        }
    });
}

/// Tags in both formats; no `Origin:` line where nothing but the host
/// name is known (unless this test itself runs in a container).
#[test]
fn tags_and_host() {
    let run = Runner::new(program())
        .arg("segv")
        .env("FAULTHANDLER_TAGS", "service=api,version=1.2,bad tag=x")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert!(
        run.stderr
            .contains("faultdump: ignoring FAULTHANDLER_TAGS='bad tag=x'"),
        "{}",
        run.stderr
    );
    let d = run.dump();
    let origin = line_with(&d, "Origin: ").unwrap_or_else(|| panic!("{}", run.stderr));
    let host = nix_hostname();
    assert!(origin.contains(&format!("host {host}")), "{origin}");
    assert!(origin.ends_with("service=api version=1.2"), "{origin}");

    let run = Runner::new(program())
        .arg("segv")
        .env("FAULTHANDLER_TAGS", "service=api,version=1.2")
        .env("FAULTHANDLER_FORMAT", "json")
        .run();
    let j = json_of(&run);
    assert_eq!(j["origin"]["host"], host.as_str());
    assert_eq!(
        j["origin"]["tags"],
        serde_json::json!({"service": "api", "version": "1.2"})
    );

    if plain_host() {
        let run = Runner::new(program()).arg("segv").run();
        assert_eq!(line_with(&run.dump(), "Origin: "), None, "{}", run.stderr);
    } else {
        println!(
            "SKIPPED: tags_and_host (no Origin line without tags): this machine is a container"
        );
    }
}

/// Neither a container (no 64-hex component in the cgroup paths, no
/// container directory in the mounts) nor a pod: where a dump without tags
/// has no `Origin:` line.
fn plain_host() -> bool {
    let has_id = |text: &str| {
        text.split(|c: char| !c.is_ascii_hexdigit())
            .any(|t| t.len() == 64)
    };
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    !has_id(&cgroup)
        && !mounts.contains("/containers/")
        && !std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount/namespace").exists()
        && std::env::var_os("POD_NAME").is_none()
        && std::env::var_os("POD_NAMESPACE").is_none()
}

fn nix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// The cgroup2 mount point, if the machine has one.
fn cgroup2_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (right.split(' ').next() == Some("cgroup2"))
            .then(|| PathBuf::from(left.split(' ').nth(4).unwrap()))
    })
}

/// A container-like setup: the crashing process in a real cgroup v2 group
/// named as Docker's systemd driver names one, in private mount, PID and
/// UTS namespaces, with the service-account namespace file of a pod
/// mounted where Kubernetes puts it. Its report names the container, the
/// pod (namespace file, host name) and the tags.
#[test]
fn container_like() {
    let Some(cgroup2) = cgroup2_mount() else {
        println!("SKIPPED: container_like: no cgroup2 mount");
        return;
    };
    if !plain_host() {
        println!("SKIPPED: container_like: the test already runs in a container or pod");
        return;
    }
    let id = format!(
        "{:016x}",
        (std::process::id() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1 << 63
    )
    .repeat(4);
    let group = cgroup2.join(format!("docker-{id}.scope"));
    if std::fs::create_dir(&group).is_err() {
        println!(
            "SKIPPED: container_like: cannot create {} (not root?)",
            group.display()
        );
        return;
    }
    if Runner::new("unshare")
        .args(["--mount", "--pid", "--uts", "--fork", "true"])
        .without_library()
        .run()
        .code()
        != Some(0)
    {
        let _ = std::fs::remove_dir(&group);
        println!("SKIPPED: container_like: unshare of mount, pid and uts namespaces refused");
        return;
    }
    let script = format!(
        "echo $$ > {procs} && exec unshare --mount --pid --uts --fork sh -c '\
         mount -t tmpfs tmpfs /run && \
         mkdir -p /run/secrets/kubernetes.io/serviceaccount && \
         printf shop > /run/secrets/kubernetes.io/serviceaccount/namespace && \
         hostname web-7f9c4d-x2k8q && \
         \"$0\" segv; exit 0' {program}",
        procs = group.join("cgroup.procs").display(),
        program = program().display()
    );
    let spool = scratch_dir("origin-container");
    let mut runs = Vec::new();
    for format in ["text", "json"] {
        runs.push(
            Runner::new("sh")
                .without_library()
                .args(["-c", &script])
                .env("LD_PRELOAD", lib_path())
                .env("FAULTHANDLER_FORMAT", format)
                .env(
                    "FAULTHANDLER_MINIDUMP",
                    if format == "text" {
                        spool.as_os_str()
                    } else {
                        "".as_ref()
                    },
                )
                .env("FAULTHANDLER_TAGS", "service=shop-api,version=2.4.1")
                .run(),
        );
    }
    let _ = std::fs::remove_dir(&group);
    let text = &runs[0];
    let d = text.dump();
    let origin = line_with(&d, "Origin: ").unwrap_or_else(|| panic!("{}", text.stderr));
    assert_eq!(
        origin,
        format!(
            "container {} (docker), host web-7f9c4d-x2k8q, pod shop/web-7f9c4d-x2k8q, \
             service=shop-api version=2.4.1",
            &id[..12]
        ),
        "{}",
        text.stderr
    );
    let annotations = crashpad_annotations(&only_minidump(&spool));
    for (key, value) in [
        ("container.id", id.as_str()),
        ("container.runtime", "docker"),
        ("host", "web-7f9c4d-x2k8q"),
        ("k8s.namespace", "shop"),
        ("k8s.pod", "web-7f9c4d-x2k8q"),
        ("service", "shop-api"),
        ("version", "2.4.1"),
    ] {
        assert!(
            annotations.iter().any(|(k, v)| k == key && v == value),
            "{key}={value} not in {annotations:?}"
        );
    }
    let j = json_of(&runs[1]);
    assert_eq!(
        j["origin"],
        serde_json::json!({
            "container_id": id,
            "container_runtime": "docker",
            "host": "web-7f9c4d-x2k8q",
            "pod_namespace": "shop",
            "pod_name": "web-7f9c4d-x2k8q",
            "tags": {"service": "shop-api", "version": "2.4.1"},
        })
    );
}

/// The downward API's variables name the pod where the service-account
/// file is absent.
#[test]
fn downward_api_variables() {
    let run = Runner::new(program())
        .arg("segv")
        .env("POD_NAME", "worker-0")
        .env("POD_NAMESPACE", "batch")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    if !plain_host() {
        println!("SKIPPED: downward_api_variables: this machine is a container or pod");
        return;
    }
    let d = run.dump();
    let origin = line_with(&d, "Origin: ").unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(origin.ends_with("pod batch/worker-0"), "{origin}");
}
