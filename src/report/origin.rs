//! Where a dump came from: the container (its id, from the process's
//! cgroup path or, where a private cgroup namespace shows only `0::/`, from
//! the mounts the runtime made from its own container directory), the host
//! name, the Kubernetes namespace and pod, and the user's tags
//! (`FAULTHANDLER_TAGS`).
//!
//! Everything is read when a dump is written, never at start-up: a process
//! that never dumps pays nothing. The reads are `open`/`read` of small
//! files into fixed buffers and `uname`, all async-signal-safe; nothing
//! allocates. The parsers take the files' contents and are unit-tested
//! with the Docker, containerd, CRI-O, Podman and kubepods forms.

use crate::sys;

/// A field read into a fixed buffer; empty when unknown.
pub struct Field<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Field<N> {
    const fn new() -> Self {
        Field {
            buf: [0; N],
            len: 0,
        }
    }

    fn set(&mut self, value: &[u8]) {
        let n = value.len().min(N);
        self.buf[..n].copy_from_slice(&value[..n]);
        self.len = n;
    }

    pub fn get(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| &self.buf[..self.len])
    }
}

/// The container runtime a cgroup or mount path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Docker,
    Containerd,
    CriO,
    Podman,
    /// A kubepods cgroup whose runtime the path does not say (the
    /// cgroupfs driver's `/kubepods/<qos>/pod<uid>/<id>`).
    Kubernetes,
    /// A 64-hex path component under a parent no rule knows.
    Unknown,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Kubernetes => "kubernetes",
            Runtime::Unknown => "unknown",
        }
    }
}

/// A container id: 64 lowercase hex digits, as every runtime here names
/// its containers.
fn is_container_id(s: &[u8]) -> bool {
    s.len() == 64
        && s.iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// The container a cgroup path component names, given its parent
/// component: `docker-<id>.scope` (systemd driver), `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `libpod-<id>.scope`, or `<id>` itself under `docker`,
/// a kubepods `pod<uid>` or `libpod_parent` (cgroupfs driver). The runtimes'
/// monitor scopes (`crio-conmon-`, `libpod-conmon-`) are not containers.
fn id_in_component<'a>(component: &'a [u8], parent: &[u8]) -> Option<(Runtime, &'a [u8])> {
    if let Some(scope) = component.strip_suffix(b".scope") {
        const PREFIXES: [(&[u8], Runtime); 4] = [
            (b"docker-", Runtime::Docker),
            (b"cri-containerd-", Runtime::Containerd),
            (b"crio-", Runtime::CriO),
            (b"libpod-", Runtime::Podman),
        ];
        return PREFIXES.iter().find_map(|(prefix, runtime)| {
            scope
                .strip_prefix(*prefix)
                .filter(|id| is_container_id(id))
                .map(|id| (*runtime, id))
        });
    }
    if !is_container_id(component) {
        return None;
    }
    let runtime = if parent == b"docker" {
        Runtime::Docker
    } else if parent.starts_with(b"pod") {
        Runtime::Kubernetes
    } else if parent == b"libpod_parent" || parent.starts_with(b"libpod-") {
        Runtime::Podman
    } else {
        Runtime::Unknown
    };
    Some((runtime, component))
}

/// The container named by a path: its deepest component that names one.
fn id_in_path(path: &[u8]) -> Option<(Runtime, &[u8])> {
    let mut found = None;
    let mut parent: &[u8] = b"";
    for component in path.split(|&b| b == b'/') {
        if let Some(hit) = id_in_component(component, parent) {
            found = Some(hit);
        }
        parent = component;
    }
    found
}

/// The container id in the contents of `/proc/self/cgroup` (cgroup v1
/// lines `N:controllers:/path`, the v2 line `0::/path`): the first line
/// whose path names one.
pub fn container_from_cgroup(text: &[u8]) -> Option<(Runtime, &[u8])> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let path = line.splitn(3, |&b| b == b':').nth(2)?;
        id_in_path(path)
    })
}

/// The container id in one line of `/proc/self/mountinfo`, for a private
/// cgroup namespace (v2 shows `0::/`): the runtimes bind-mount
/// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` from the
/// container's own directory, `.../containers/<id>/` (Docker) or
/// `.../overlay-containers/<id>/userdata/` (Podman), which the line's root
/// field (the fourth) shows.
pub fn container_from_mountinfo_line(line: &[u8]) -> Option<(Runtime, &[u8])> {
    let root = line.split(|&b| b == b' ').nth(3)?;
    let mut parent: &[u8] = b"";
    for component in root.split(|&b| b == b'/') {
        if is_container_id(component) {
            match parent {
                b"containers" => return Some((Runtime::Docker, component)),
                b"overlay-containers" => return Some((Runtime::Podman, component)),
                _ => {}
            }
        }
        parent = component;
    }
    None
}

/// Where a dump came from. Read in a dump, on the dump stack (about 900
/// bytes).
pub struct Origin<'c> {
    pub container: Field<64>,
    pub runtime: Option<Runtime>,
    /// `uname` node name: in Kubernetes, the pod's name unless the pod
    /// sets `hostname`.
    pub host: Field<65>,
    /// The service-account namespace file, else `POD_NAMESPACE`.
    pub namespace: Field<64>,
    /// `POD_NAME` (the downward API), else the host name where a namespace
    /// was found (the pod's host name is its name by default).
    pub pod: Field<256>,
    /// `key=value,...`, checked at start-up.
    pub tags: &'c [u8],
}

/// The service account's namespace, mounted into every pod that has a
/// service-account token (the default).
const NAMESPACE_FILE: &core::ffi::CStr = c"/var/run/secrets/kubernetes.io/serviceaccount/namespace";

impl<'c> Origin<'c> {
    /// Reads what is known. `pod_name`, `pod_namespace` and `tags` are the
    /// values the constructor kept from the environment (empty if unset).
    pub fn read(pod_name: &[u8], pod_namespace: &[u8], tags: &'c [u8]) -> Origin<'c> {
        let mut origin = Origin::unknown(tags);
        origin.read_container();
        // SAFETY: utsname is plain data the kernel fills in.
        let mut uts: libc::utsname = unsafe { core::mem::zeroed() };
        if sys::raw::uname(&mut uts) == 0 {
            // SAFETY: c_char and u8 have the same layout.
            let name: &[u8; 65] = unsafe { &*(&raw const uts.nodename).cast() };
            let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            origin.host.set(&name[..len]);
        }
        let mut buf = [0u8; 64];
        match sys::read_file(NAMESPACE_FILE, &mut buf) {
            Some(n) if n > 0 => origin.namespace.set(buf[..n].trim_ascii()),
            _ => origin.namespace.set(pod_namespace),
        }
        if !pod_name.is_empty() {
            origin.pod.set(pod_name);
        } else if origin.namespace.get().is_some() {
            let host = origin.host.buf;
            origin.pod.set(&host[..origin.host.len]);
        }
        origin
    }

    /// Nothing known but the tags.
    pub const fn unknown(tags: &'c [u8]) -> Origin<'c> {
        Origin {
            container: Field::new(),
            runtime: None,
            host: Field::new(),
            namespace: Field::new(),
            pod: Field::new(),
            tags,
        }
    }

    fn read_container(&mut self) {
        let mut buf = [0u8; 8192];
        if let Some(n) = sys::read_file(c"/proc/self/cgroup", &mut buf)
            && let Some((runtime, id)) = container_from_cgroup(&buf[..n])
        {
            self.runtime = Some(runtime);
            self.container.set(id);
            return;
        }
        for_each_line(
            c"/proc/self/mountinfo",
            &mut buf,
            |line| match container_from_mountinfo_line(line) {
                Some((runtime, id)) => {
                    self.runtime = Some(runtime);
                    self.container.set(id);
                    false
                }
                None => true,
            },
        );
    }

    /// Whether the report should say where it came from: anything beyond
    /// the host name, which alone identifies nothing new on a plain host.
    pub fn is_worth_a_line(&self) -> bool {
        self.container.get().is_some()
            || self.namespace.get().is_some()
            || self.pod.get().is_some()
            || !self.tags.is_empty()
    }

    /// The minidump's annotations (the Crashpad-info simple dictionary,
    /// which Sentry shows as the event's `crashpad` context): `first`, then
    /// `container.id`, `container.runtime`, `host`, `k8s.namespace`,
    /// `k8s.pod`, `abort_message` where known, then the tags under their
    /// own keys.
    pub fn annotations<'s>(
        &'s self,
        first: (&'s [u8], &'s [u8]),
        abort_message: Option<&'s [u8]>,
    ) -> alloc::vec::Vec<(&'s [u8], &'s [u8])> {
        let known: [(&[u8], Option<&[u8]>); 6] = [
            (b"container.id", self.container.get()),
            (
                b"container.runtime",
                self.runtime.map(|r| r.name().as_bytes()),
            ),
            (b"host", self.host.get()),
            (b"k8s.namespace", self.namespace.get()),
            (b"k8s.pod", self.pod.get()),
            (b"abort_message", abort_message),
        ];
        let mut out = alloc::vec![first];
        out.extend(known.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        out.extend(self.tags());
        out
    }

    /// The user's tags as `(key, value)` pairs.
    pub fn tags(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.tags
            .split(|&b| b == b',')
            .filter(|t| !t.is_empty())
            .map(|t| match t.iter().position(|&b| b == b'=') {
                Some(eq) => (&t[..eq], &t[eq + 1..]),
                None => (t, &b""[..]),
            })
    }
}

/// Calls `f` with each line of the file at `path` (read through `buf`, a
/// line longer than `buf` skipped) until it returns false.
fn for_each_line(path: &core::ffi::CStr, buf: &mut [u8], mut f: impl FnMut(&[u8]) -> bool) {
    let Some(fd) = sys::open_read(path) else {
        return;
    };
    let mut kept = 0;
    loop {
        let n = fd.read_full(&mut buf[kept..]);
        let end = kept + n;
        let mut start = 0;
        while let Some(nl) = buf[start..end].iter().position(|&b| b == b'\n') {
            if !f(&buf[start..start + nl]) {
                return;
            }
            start += nl + 1;
        }
        if n == 0 || end < buf.len() {
            // End of file: the last line, if it has no newline.
            if start < end {
                f(&buf[start..end]);
            }
            return;
        }
        if start == 0 {
            // A line longer than the buffer: dropped up to its end.
            kept = 0;
            let mut skip = [0u8; 1];
            while fd.read_full(&mut skip) == 1 && skip[0] != b'\n' {}
            continue;
        }
        buf.copy_within(start..end, 0);
        kept = end - start;
    }
}

/// Checks `FAULTHANDLER_TAGS` (`key=value,...`): keys of letters, digits,
/// `_`, `-` and `.`; values without `,`, `"`, `\` or control characters.
/// Returns the entries that pass, joined by commas, and the first refused
/// one.
pub fn parse_tags(value: &[u8]) -> (alloc::vec::Vec<u8>, Option<&[u8]>) {
    let mut kept = alloc::vec::Vec::new();
    let mut refused = None;
    for entry in value.split(|&b| b == b',').filter(|e| !e.is_empty()) {
        let ok = entry.iter().position(|&b| b == b'=').is_some_and(|eq| {
            let (key, val) = (&entry[..eq], &entry[eq + 1..]);
            !key.is_empty()
                && key
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
                && val
                    .iter()
                    .all(|&b| b >= 0x20 && b != 0x7f && b != b'"' && b != b'\\')
        });
        if ok {
            if !kept.is_empty() {
                kept.push(b',');
            }
            kept.extend_from_slice(entry);
        } else if refused.is_none() {
            refused = Some(entry);
        }
    }
    (kept, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a5b7c9d1e0f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809102";

    fn cgroup(text: &str) -> Option<(Runtime, String)> {
        container_from_cgroup(text.as_bytes())
            .map(|(r, id)| (r, String::from_utf8(id.to_vec()).unwrap()))
    }

    #[test]
    fn docker_cgroup_v1_cgroupfs_driver() {
        let text = format!(
            "12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n0::/system.slice/containerd.service\n"
        );
        assert_eq!(cgroup(&text), Some((Runtime::Docker, ID.into())));
    }

    #[test]
    fn docker_cgroup_v2_systemd_driver() {
        let text = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(cgroup(&text), Some((Runtime::Docker, ID.into())));
    }

    #[test]
    fn kubernetes_runtimes_systemd_driver() {
        let pod = "/kubepods.slice/kubepods-burstable.slice/\
                   kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice";
        for (scope, runtime) in [
            ("cri-containerd", Runtime::Containerd),
            ("crio", Runtime::CriO),
            ("docker", Runtime::Docker),
        ] {
            let text = format!("0::{pod}/{scope}-{ID}.scope\n");
            assert_eq!(cgroup(&text), Some((runtime, ID.into())), "{scope}");
        }
    }

    #[test]
    fn kubernetes_cgroupfs_driver_v1() {
        let text = format!(
            "13:cpuset:/kubepods/besteffort/pod0d3f1c2e-7a1b-4c5d-9e8f-0a1b2c3d4e5f/{ID}\n"
        );
        assert_eq!(cgroup(&text), Some((Runtime::Kubernetes, ID.into())));
    }

    #[test]
    fn podman_and_its_monitor() {
        let text = format!(
            "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container\n"
        );
        assert_eq!(cgroup(&text), Some((Runtime::Podman, ID.into())));
        let conmon = format!("0::/machine.slice/libpod-conmon-{ID}.scope\n");
        assert_eq!(cgroup(&conmon), None);
        let crio_conmon = format!("0::/kubepods.slice/crio-conmon-{ID}.scope\n");
        assert_eq!(cgroup(&crio_conmon), None);
    }

    #[test]
    fn no_container() {
        assert_eq!(cgroup("0::/\n"), None);
        assert_eq!(
            cgroup("0::/user.slice/user-1000.slice/session-3.scope\n"),
            None
        );
        assert_eq!(cgroup(""), None);
        // Not 64 hex digits.
        assert_eq!(cgroup("0::/system.slice/docker-3f2a.scope\n"), None);
        let upper = ID.to_uppercase();
        assert_eq!(cgroup(&format!("0::/docker/{upper}\n")), None);
    }

    #[test]
    fn mountinfo_fallback() {
        let docker = format!(
            "612 590 259:2 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/nvme0n1p2 rw"
        );
        let found = container_from_mountinfo_line(docker.as_bytes());
        assert_eq!(found, Some((Runtime::Docker, ID.as_bytes())));
        let podman = format!(
            "700 650 0:45 /containers/storage/overlay-containers/{ID}/userdata/hosts /etc/hosts rw - tmpfs tmpfs rw"
        );
        let found = container_from_mountinfo_line(podman.as_bytes());
        assert_eq!(found, Some((Runtime::Podman, ID.as_bytes())));
        // The id in the mount point, not the root, is not ours.
        let other = format!("1 0 0:1 / /mnt/containers/{ID} rw - tmpfs tmpfs rw");
        assert_eq!(container_from_mountinfo_line(other.as_bytes()), None);
        assert_eq!(
            container_from_mountinfo_line(b"22 1 0:21 / /proc rw - proc proc rw"),
            None
        );
    }

    #[test]
    fn tags() {
        let (kept, refused) = parse_tags(b"service=api,version=1.2,,release=2026.12");
        assert_eq!(kept, b"service=api,version=1.2,release=2026.12");
        assert_eq!(refused, None);
        let (kept, refused) = parse_tags(b"ok=1,no_equals,bad key=x,q=\"x\"");
        assert_eq!(kept, b"ok=1");
        assert_eq!(refused, Some(&b"no_equals"[..]));
        let origin = Origin::unknown(b"service=api,empty=");
        let pairs: Vec<_> = origin.tags().collect();
        assert_eq!(pairs, [(&b"service"[..], &b"api"[..]), (b"empty", b"")]);
        let mut origin = origin;
        origin.host.set(b"web-1");
        let annotations = origin.annotations((b"v", b"1"), Some(b"boom"));
        assert_eq!(
            annotations,
            [
                (&b"v"[..], &b"1"[..]),
                (b"host", b"web-1"),
                (b"abort_message", b"boom"),
                (b"service", b"api"),
                (b"empty", b""),
            ]
        );
    }

    #[test]
    fn lines_of_a_file_through_a_small_buffer() {
        let dir = std::env::temp_dir().join(format!("faultdump-lines-{}", std::process::id()));
        let long = "x".repeat(100);
        std::fs::write(&dir, format!("one\n{long}\ntwo\nthree")).unwrap();
        let path = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let mut seen = Vec::new();
        for_each_line(&path, &mut [0u8; 16], |l| {
            seen.push(String::from_utf8(l.to_vec()).unwrap());
            true
        });
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(seen, ["one", "two", "three"]);
    }
}
