//! The JSON format (`FAULTHANDLER_FORMAT=json`), as a [`Sink`]: each dump is
//! one JSON object on one line, for log pipelines.
//!
//! Signal-safe and allocation-free: the object is streamed through
//! [`Writer::raw`] (chunks of at most 4096 bytes) as the dump produces its
//! parts; the only state kept is a few flags, the counts that are written
//! when a thread or the thread list closes, and the notes, which the object
//! lists at its end and which are kept meanwhile in a fixed buffer.
//!
//! Schema (version 1; addresses and offsets are hex strings, unknown values
//! `null`):
//! `{"faultdump":1, "pid", "exe", "time", "origin"` (`{"container_id",
//! "container_runtime", "host", "pod_namespace", "pod_name", "tags": {..}}`)`,
//! "event"` (`fatal_signal`, `timeout`,
//! `user_signal`, `api`)`, "signal"` (`{"number", "name", "code", "code_name",
//! "address", "sender_pid", "sender_uid", "syscall"}` or `null`)`, "title",
//! "cause", "abort_message", "timeout_seconds", "threads": [{"tid", "name", "current",
//! "frames": [{"index", "kind" (`native` or `python`), "ip", "function",
//! "offset", "module", "module_offset", "file", "line", "inlined"}],
//! "frames_not_shown", "answered", "no_answer"}],
//! "threads_not_shown", "registers", "modules": [{"path", "base",
//! "build_id"}], "notes": [..], "notes_not_shown"}`.
//!
//! Strings: the output is ASCII. Valid UTF-8 is kept as characters (control
//! characters and anything beyond ASCII written `\uXXXX`), `"` and `\` are
//! escaped, and each byte that is not UTF-8 becomes the four characters
//! `\xNN` (so `\\xNN` in the JSON text), cut after
//! [`MAX_STRING`](crate::format::line::MAX_STRING) characters with `...` as the text format does. In secure
//! mode the same things as in the text format are left out: absolute
//! addresses (`ip`, `address`, `base` are `null`), registers (`null`) and the
//! mapping in `cause`.

mod escape;

use crate::format::line::{Line, utc_timestamp};
use crate::report::output::Writer;
use crate::report::sink::{
    Detail, DumpHeader, Event, FrameLine, ModuleLine, PythonFrameLine, Sink, ThreadHeader,
};
use crate::report::text::write_cause;
use crate::sys::arch::{Registers, reg};
use escape::{Buf, HEX, Out, dec, hex, opt_hex, opt_string, seconds, string};

/// The object's containers, opened and closed as the dump's parts arrive.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Top-level keys.
    Top,
    /// Inside `"threads": [`.
    Threads,
    /// Inside `"modules": [`.
    Modules,
}

/// Where a thread's `"frames"` list is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Frames {
    NotStarted,
    Open,
    /// Closed early (a `no_answer` after frames); later frames are dropped.
    Closed,
}

/// The thread being written.
struct ThreadState {
    open: bool,
    frames: Frames,
    frames_not_shown: u64,
    answered: bool,
}

pub struct JsonSink<'w> {
    writer: &'w mut Writer,
    /// Leave out absolute addresses, registers and load addresses.
    secure: bool,
    section: Section,
    threads_written: bool,
    threads_not_shown: Option<usize>,
    thread: ThreadState,
    event_written: bool,
    registers_written: bool,
    modules_written: bool,
    /// Notes, already as comma-separated JSON strings. Small, since a sink
    /// may live on a signal stack (a dump without memory for its own).
    notes: Buf<2048>,
    notes_not_shown: usize,
}

impl<'w> JsonSink<'w> {
    pub fn new(writer: &'w mut Writer, secure: bool) -> JsonSink<'w> {
        JsonSink {
            writer,
            secure,
            section: Section::Top,
            threads_written: false,
            threads_not_shown: None,
            thread: ThreadState {
                open: false,
                frames: Frames::NotStarted,
                frames_not_shown: 0,
                answered: true,
            },
            event_written: false,
            registers_written: false,
            modules_written: false,
            notes: Buf::new(),
            notes_not_shown: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.writer.raw(bytes);
    }

    /// `,"key":`
    fn key(&mut self, key: &str) {
        self.put(b",\"");
        self.put(key.as_bytes());
        self.put(b"\":");
    }

    /// `,"key":"value"` / `null`
    fn key_string(&mut self, key: &str, value: Option<&[u8]>) {
        self.key(key);
        opt_string(self.writer, value);
    }

    fn key_hex(&mut self, key: &str, value: Option<u64>) {
        self.key(key);
        opt_hex(self.writer, value);
    }

    fn key_dec(&mut self, key: &str, value: Option<i64>) {
        self.key(key);
        match value {
            Some(v) => dec(self.writer, v),
            None => self.put(b"null"),
        }
    }

    fn key_bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.put(if value { b"true" } else { b"false" });
    }

    /// Opens a frame object (`{"index":N,"kind":KIND`), opening the thread's
    /// list first; false when the thread takes no more frames.
    fn frame_start(&mut self, index: usize, kind: &[u8]) -> bool {
        match self.thread.frames {
            _ if !self.thread.open => return false,
            Frames::Closed => return false,
            Frames::Open => self.put(b","),
            Frames::NotStarted => {
                self.put(b",\"frames\":[");
                self.thread.frames = Frames::Open;
            }
        }
        self.put(b"{\"index\":");
        dec(self.writer, index as i64);
        self.put(b",\"kind\":\"");
        self.put(kind);
        self.put(b"\"");
        true
    }

    /// Ends the thread being written, with what was learned about it.
    fn close_thread(&mut self) {
        if !self.thread.open {
            return;
        }
        match self.thread.frames {
            Frames::NotStarted => self.put(b",\"frames\":[]"),
            Frames::Open => self.put(b"]"),
            Frames::Closed => {}
        }
        self.key_dec(
            "frames_not_shown",
            Some(self.thread.frames_not_shown as i64),
        );
        if self.thread.answered {
            self.key_bool("answered", true);
        }
        self.put(b"}");
        self.thread.open = false;
    }

    /// Ends whatever list is open, so that a top-level key can follow.
    fn close_lists(&mut self) {
        match self.section {
            Section::Top => {}
            Section::Threads => {
                self.close_thread();
                self.put(b"]");
                self.threads_written = true;
            }
            Section::Modules => {
                self.put(b"]");
                self.modules_written = true;
            }
        }
        self.section = Section::Top;
    }

    /// The keys every object has, written as `null` or empty where the dump
    /// did not produce them.
    fn finish_keys(&mut self) {
        self.close_lists();
        if !self.event_written {
            self.put(b",\"event\":null,\"signal\":null,\"title\":null,\"cause\":null");
            self.put(b",\"abort_message\":null");
            self.put(b",\"timeout_seconds\":null");
        }
        if !self.threads_written {
            self.put(b",\"threads\":[]");
        }
        if let Some(n) = self.threads_not_shown {
            self.key_dec("threads_not_shown", Some(n as i64));
        }
        if !self.registers_written {
            self.put(b",\"registers\":null");
        }
        if !self.modules_written {
            self.put(b",\"modules\":null");
        }
        self.put(b",\"notes\":[");
        self.writer.raw(self.notes.as_bytes());
        self.put(b"]");
        if self.notes_not_shown > 0 {
            self.key_dec("notes_not_shown", Some(self.notes_not_shown as i64));
        }
    }
}

impl Sink for JsonSink<'_> {
    fn begin(&mut self, header: &DumpHeader) {
        self.put(b"{\"faultdump\":1");
        self.key_dec("pid", Some(i64::from(header.pid)));
        self.key_string("exe", Some(header.exe));
        let mut time = Line::new();
        utc_timestamp(header.unix_time, &mut time);
        self.key_string("time", Some(time.as_bytes()));
        let o = header.origin;
        self.put(b",\"origin\":{\"container_id\":");
        opt_string(self.writer, o.container.get());
        self.key_string("container_runtime", o.runtime.map(|r| r.name().as_bytes()));
        self.key_string("host", o.host.get());
        self.key_string("pod_namespace", o.namespace.get());
        self.key_string("pod_name", o.pod.get());
        self.put(b",\"tags\":{");
        for (i, (key, value)) in o.tags().enumerate() {
            if i > 0 {
                self.put(b",");
            }
            string(self.writer, key);
            self.put(b":");
            string(self.writer, value);
        }
        self.put(b"}}");
    }

    fn note(&mut self, text: &[u8]) {
        let before = self.notes.len;
        if before > 0 {
            self.notes.put(b",");
        }
        string(&mut self.notes, text);
        if self.notes.overflowed {
            // Whole notes or none: the ones that fit are kept, the rest counted.
            self.notes.len = before;
            self.notes.overflowed = false;
            self.notes_not_shown += 1;
        }
    }

    fn event(&mut self, event: &Event) {
        self.close_lists();
        self.event_written = true;
        let (name, signal): (&[u8], _) = match event {
            Event::Fatal(_) => (b"fatal_signal", true),
            Event::Timeout { .. } => (b"timeout", false),
            Event::UserSignal { .. } => (b"user_signal", true),
            Event::Api => (b"api", false),
        };
        self.key_string("event", Some(name));
        self.key("signal");
        if !signal {
            self.put(b"null");
        }
        match event {
            Event::Fatal(f) => {
                self.signal_fields(f.signum, Some(f.abbrev));
                self.key_dec("code", Some(i64::from(f.code)));
                self.key_string("code_name", f.code_name.map(str::as_bytes));
                let (address, sender, syscall) = match f.detail {
                    Detail::Address(a) => ((!self.secure).then_some(a), None, None),
                    Detail::Sender { pid, uid } => (None, Some((pid, uid)), None),
                    Detail::Syscall { number, name } => (None, None, Some((number, name))),
                    Detail::Nothing => (None, None, None),
                };
                self.key_hex("address", address);
                self.key_dec("sender_pid", sender.map(|(pid, _)| i64::from(pid)));
                self.key_dec("sender_uid", sender.map(|(_, uid)| i64::from(uid)));
                self.key("syscall");
                match syscall {
                    Some((number, name)) => {
                        self.put(b"{\"number\":");
                        dec(self.writer, number);
                        self.key_string("name", name.map(str::as_bytes));
                        self.put(b"}");
                    }
                    None => self.put(b"null"),
                }
                self.put(b"}");
                self.key_string("title", Some(f.title.as_bytes()));
                self.key("cause");
                match &f.cause {
                    Some(cause) => {
                        let mut text = Line::new();
                        write_cause(&mut text, cause, self.secure);
                        string(self.writer, text.as_bytes());
                    }
                    None => self.put(b"null"),
                }
                self.key_string("abort_message", f.abort_message);
            }
            Event::UserSignal { signum } => {
                self.signal_fields(*signum, crate::format::names::signal_abbrev(*signum));
                for key in ["code", "code_name", "address", "sender_pid", "sender_uid"] {
                    self.key(key);
                    self.put(b"null");
                }
                self.put(b",\"syscall\":null}");
            }
            Event::Timeout { .. } | Event::Api => {}
        }
        if !matches!(event, Event::Fatal(_)) {
            self.put(b",\"title\":null,\"cause\":null,\"abort_message\":null");
        }
        self.key("timeout_seconds");
        match event {
            Event::Timeout { period_ns } => seconds(self.writer, *period_ns),
            _ => self.put(b"null"),
        }
    }

    fn thread_begin(&mut self, thread: &ThreadHeader) {
        match self.section {
            Section::Threads => {
                self.close_thread();
                self.put(b",");
            }
            _ => {
                self.close_lists();
                self.put(b",\"threads\":[");
                self.section = Section::Threads;
            }
        }
        self.put(b"{\"tid\":");
        dec(self.writer, i64::from(thread.tid));
        self.key_string("name", Some(thread.name));
        self.key_bool("current", thread.current);
        self.thread.open = true;
        self.thread.frames = Frames::NotStarted;
        self.thread.frames_not_shown = 0;
        self.thread.answered = true;
    }

    fn frame(&mut self, f: &FrameLine) {
        if !self.frame_start(f.index, b"native") {
            return;
        }
        self.key_hex("ip", (!self.secure).then_some(f.addr));
        self.key_string("function", f.function);
        self.key_hex("offset", f.offset);
        self.key_string("module", f.module);
        self.key_hex("module_offset", Some(f.module_offset));
        self.key_string("file", f.file);
        self.key_dec("line", f.line.map(i64::from));
        self.key_bool("inlined", f.inlined);
        self.put(b"}");
    }

    fn python_frame(&mut self, f: &PythonFrameLine) {
        if !self.frame_start(f.index, b"python") {
            return;
        }
        self.key_hex("ip", None);
        self.key_string("function", Some(f.function));
        self.key_hex("offset", None);
        self.key_string("module", None);
        self.key_hex("module_offset", None);
        self.key_string("file", Some(f.file));
        self.key_dec("line", f.line.map(i64::from));
        self.key_bool("inlined", false);
        self.put(b"}");
    }

    fn frames_omitted(&mut self, count: u64) {
        self.thread.frames_not_shown += count;
    }

    fn no_answer(&mut self, why: &[u8]) {
        if !self.thread.open || !self.thread.answered {
            return;
        }
        if self.thread.frames == Frames::Open {
            // Not expected (a thread either answers or not), but the object
            // stays valid: the frames so far, then the reason.
            self.put(b"]");
            self.thread.frames = Frames::Closed;
        }
        self.thread.answered = false;
        self.key_bool("answered", false);
        self.key_string("no_answer", Some(why));
    }

    fn thread_end(&mut self) {
        self.close_thread();
    }

    fn threads_omitted(&mut self, count: usize) {
        self.threads_not_shown = Some(count);
    }

    fn registers(&mut self, regs: &Registers) {
        self.close_lists();
        self.registers_written = true;
        if self.secure {
            self.put(b",\"registers\":null");
            return;
        }
        self.put(b",\"registers\":{");
        for (i, (name, index)) in reg::PRINTED.iter().enumerate() {
            if i > 0 {
                self.put(b",");
            }
            string(self.writer, name.as_bytes());
            self.put(b":");
            hex(self.writer, regs.gregs[*index]);
        }
        self.put(b"}");
    }

    fn module(&mut self, m: &ModuleLine) {
        if self.section == Section::Modules {
            self.put(b",");
        } else {
            self.close_lists();
            self.put(b",\"modules\":[");
            self.section = Section::Modules;
        }
        self.put(b"{\"path\":");
        string(self.writer, m.path);
        self.key_hex("base", (!self.secure).then_some(m.bias));
        self.key("build_id");
        match m.build_id {
            Some(id) => {
                self.put(b"\"");
                for b in id {
                    self.put(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
                }
                self.put(b"\"");
            }
            None => self.put(b"null"),
        }
        if m.build_id_unreadable {
            self.put(b",\"build_id_unreadable\":true");
        }
        self.put(b"}");
    }

    fn end(&mut self, _pid: i32) {
        self.finish_keys();
        self.put(b"}\n");
        self.writer.flush();
    }

    fn stopped(&self) -> bool {
        self.writer.stopped
    }

    fn writer(&mut self) -> &mut Writer {
        self.writer
    }
}

impl JsonSink<'_> {
    /// `{"number":N,"name":"SIGxxx"` (the object is closed by the caller).
    fn signal_fields(&mut self, signum: i32, abbrev: Option<&str>) {
        self.put(b"{\"number\":");
        dec(self.writer, i64::from(signum));
        self.key("name");
        let mut name: Buf<16> = Buf::new();
        name.put(b"SIG");
        match abbrev {
            Some(a) => name.put(a.as_bytes()),
            None => {
                let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
                if (min..=max).contains(&signum) {
                    name.put(b"RTMIN+");
                    dec(&mut name, i64::from(signum - min));
                } else {
                    name.clear();
                }
            }
        }
        if name.as_bytes().is_empty() {
            self.put(b"null");
        } else {
            string(self.writer, name.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::origin::Origin;
    use crate::report::sink::{Cause, FatalEvent, MappingNote};
    use crate::sys;
    use serde_json::Value;

    /// Runs `produce` on a sink writing into a memory file; returns the text.
    fn dump(secure: bool, produce: impl FnOnce(&mut dyn Sink)) -> String {
        // SAFETY: memfd_create with a valid name; the fd is ours.
        let fd = unsafe { libc::memfd_create(c"json-test".as_ptr(), 0) };
        assert!(fd >= 0);
        {
            let mut writer = Writer::new(fd, sys::monotonic_ns() + 5_000_000_000);
            let mut sink = JsonSink::new(&mut writer, secure);
            produce(&mut sink);
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        let mut off = 0;
        loop {
            // SAFETY: buf is writable for its length; fd is our memfd.
            let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) };
            if n <= 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
            off += n as i64;
        }
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fd) };
        String::from_utf8(out).expect("JSON output is UTF-8")
    }

    /// Exactly one line holding one object.
    fn one_object(text: &str) -> Value {
        assert!(text.ends_with('\n'), "{text}");
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        serde_json::from_str(text.trim_end()).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn regs() -> Registers {
        let mut gregs = [0u64; reg::COUNT];
        for (i, g) in gregs.iter_mut().enumerate() {
            *g = 0x1000 + i as u64;
        }
        Registers { gregs }
    }

    fn frame(index: usize, function: Option<&[u8]>) -> FrameLine<'_> {
        FrameLine {
            index,
            addr: 0x55d0_c0a0_1135 + index as u64,
            function,
            offset: function.map(|_| 9),
            inlined: false,
            file: None,
            line: None,
            module: Some(b"/srv/app"),
            module_offset: 0x1135 + index as u64,
        }
    }

    fn fatal_event() -> FatalEvent<'static> {
        FatalEvent {
            signum: libc::SIGSEGV,
            title: "Segmentation fault",
            abbrev: "SEGV",
            code: 1,
            code_name: Some("SEGV_MAPERR"),
            detail: Detail::Address(0),
            cause: Some(Cause {
                what: "null pointer dereference",
                mapping: Some(MappingNote {
                    addr: 0,
                    contains: false,
                    start: 0x55d0_c0a0_0000,
                    end: 0x55d0_c0a0_1000,
                    perms: *b"r--p",
                    path: b"/srv/app",
                }),
            }),
            abort_message: None,
        }
    }

    fn fatal_dump(secure: bool) -> Value {
        one_object(&dump(secure, |s| {
            s.begin(&DumpHeader {
                pid: 4242,
                exe: b"/srv/app",
                unix_time: 1_795_602_127,
                origin: &Origin::unknown(b""),
            });
            s.note(b"faultdump: cannot open '/x': EACCES; writing to stderr");
            s.event(&Event::Fatal(fatal_event()));
            s.thread_begin(&ThreadHeader {
                tid: 4242,
                name: b"app",
                current: true,
            });
            s.frame(&frame(0, Some(b"level3")));
            let mut inlined = frame(1, Some(b"helper"));
            inlined.inlined = true;
            inlined.file = Some(b"app.c");
            inlined.line = Some(5);
            s.frame(&inlined);
            s.frame(&FrameLine {
                module: None,
                ..frame(2, None)
            });
            s.thread_end();
            s.registers(&regs());
            s.module(&ModuleLine {
                bias: 0x55d0_c0a0_0000,
                path: b"/srv/app",
                build_id: Some(&[0x3f, 0x2a, 0x9c]),
                build_id_unreadable: false,
            });
            s.module(&ModuleLine {
                bias: 0x7fff_0000_0000,
                path: b"[vdso]",
                build_id: None,
                build_id_unreadable: true,
            });
            s.end(4242);
        }))
    }

    #[test]
    fn a_fatal_dump_key_by_key() {
        let d = fatal_dump(false);
        assert_eq!(d["faultdump"], 1);
        assert_eq!(d["pid"], 4242);
        assert_eq!(d["exe"], "/srv/app");
        assert_eq!(d["time"], "2026-11-25T10:22:07Z");
        assert_eq!(d["event"], "fatal_signal");
        let sig = &d["signal"];
        assert_eq!(sig["number"], 11);
        assert_eq!(sig["name"], "SIGSEGV");
        assert_eq!(sig["code"], 1);
        assert_eq!(sig["code_name"], "SEGV_MAPERR");
        assert_eq!(sig["address"], "0x0");
        assert_eq!(sig["sender_pid"], Value::Null);
        assert_eq!(sig["syscall"], Value::Null);
        assert_eq!(d["title"], "Segmentation fault");
        assert_eq!(
            d["cause"],
            "null pointer dereference; no mapping at 0x0 (nearest: 0x55d0c0a00000 r--p /srv/app)"
        );
        assert_eq!(d["timeout_seconds"], Value::Null);
        let threads = d["threads"].as_array().unwrap();
        assert_eq!(threads.len(), 1);
        let t = &threads[0];
        assert_eq!(t["tid"], 4242);
        assert_eq!(t["name"], "app");
        assert_eq!(t["current"], true);
        assert_eq!(t["answered"], true);
        assert_eq!(t["frames_not_shown"], 0);
        let frames = t["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0]["index"], 0);
        assert_eq!(frames[0]["ip"], "0x55d0c0a01135");
        assert_eq!(frames[0]["function"], "level3");
        assert_eq!(frames[0]["offset"], "0x9");
        assert_eq!(frames[0]["module"], "/srv/app");
        assert_eq!(frames[0]["module_offset"], "0x1135");
        assert_eq!(frames[0]["file"], Value::Null);
        assert_eq!(frames[0]["line"], Value::Null);
        assert_eq!(frames[0]["inlined"], false);
        assert_eq!(frames[1]["inlined"], true);
        assert_eq!(frames[1]["file"], "app.c");
        assert_eq!(frames[1]["line"], 5);
        assert_eq!(frames[2]["function"], Value::Null);
        assert_eq!(frames[2]["offset"], Value::Null);
        assert_eq!(frames[2]["module"], Value::Null);
        let r = d["registers"].as_object().unwrap();
        assert_eq!(r.len(), reg::PRINTED.len());
        for (name, index) in reg::PRINTED {
            assert_eq!(r[name], format!("0x{:x}", 0x1000 + index), "{name}");
        }
        let m = d["modules"].as_array().unwrap();
        assert_eq!(m[0]["path"], "/srv/app");
        assert_eq!(m[0]["base"], "0x55d0c0a00000");
        assert_eq!(m[0]["build_id"], "3f2a9c");
        assert_eq!(m[1]["build_id"], Value::Null);
        assert_eq!(m[1]["build_id_unreadable"], true);
        assert_eq!(m[0].get("build_id_unreadable"), None);
        assert_eq!(
            d["notes"],
            serde_json::json!(["faultdump: cannot open '/x': EACCES; writing to stderr"])
        );
    }

    #[test]
    fn secure_dumps_leave_out_addresses_and_registers() {
        let d = fatal_dump(true);
        assert_eq!(d["signal"]["address"], Value::Null);
        assert_eq!(d["cause"], "null pointer dereference");
        assert_eq!(d["registers"], Value::Null);
        let f = &d["threads"][0]["frames"][0];
        assert_eq!(f["ip"], Value::Null);
        assert_eq!(f["module_offset"], "0x1135");
        assert_eq!(f["function"], "level3");
        assert_eq!(d["modules"][0]["base"], Value::Null);
        assert_eq!(d["modules"][0]["build_id"], "3f2a9c");
        assert!(!d.to_string().contains("55d0c0a0"), "{d}");
    }

    #[test]
    fn other_events() {
        let header = DumpHeader {
            pid: 7,
            exe: b"/bin/x",
            unix_time: 0,
            origin: &Origin::unknown(b""),
        };
        let timeout = one_object(&dump(false, |s| {
            s.begin(&header);
            s.event(&Event::Timeout {
                period_ns: 1_500_000_000,
            });
            s.end(7);
        }));
        assert_eq!(timeout["event"], "timeout");
        assert_eq!(timeout["signal"], Value::Null);
        assert_eq!(timeout["cause"], Value::Null);
        assert_eq!(timeout["timeout_seconds"], 1.5);
        assert_eq!(timeout["threads"], serde_json::json!([]));
        assert_eq!(timeout["registers"], Value::Null);
        assert_eq!(timeout["modules"], Value::Null);
        let user = one_object(&dump(false, |s| {
            s.begin(&header);
            s.event(&Event::UserSignal {
                signum: libc::SIGUSR1,
            });
            s.end(7);
        }));
        assert_eq!(user["event"], "user_signal");
        assert_eq!(user["signal"]["number"], libc::SIGUSR1);
        assert_eq!(user["signal"]["name"], "SIGUSR1");
        assert_eq!(user["signal"]["code"], Value::Null);
        let rt = one_object(&dump(false, |s| {
            s.begin(&header);
            s.event(&Event::UserSignal {
                signum: libc::SIGRTMIN() + 3,
            });
            s.end(7);
        }));
        assert_eq!(rt["signal"]["name"], "SIGRTMIN+3");
        let api = one_object(&dump(false, |s| {
            s.begin(&header);
            s.event(&Event::Api);
            s.end(7);
        }));
        assert_eq!(api["event"], "api");
        assert_eq!(api["signal"], Value::Null);
        // A dump without an event (no memory for anything else) still has
        // every key.
        let bare = one_object(&dump(false, |s| {
            s.begin(&header);
            s.note(b"no memory");
            s.end(7);
        }));
        assert_eq!(bare["event"], Value::Null);
        assert_eq!(bare["notes"], serde_json::json!(["no memory"]));
    }

    #[test]
    fn many_threads_cut_stacks_and_silent_threads_stay_one_object() {
        let text = dump(false, |s| {
            s.begin(&DumpHeader {
                pid: 1,
                exe: b"/srv/app",
                unix_time: 0,
                origin: &Origin::unknown(b""),
            });
            s.event(&Event::Api);
            for t in 0..100 {
                s.thread_begin(&ThreadHeader {
                    tid: 100 + t,
                    name: b"worker \"q\"",
                    current: t == 0,
                });
                match t % 3 {
                    0 => s.no_answer(b"blocks every signal"),
                    1 => {
                        for i in 0..75 {
                            s.frame(&frame(i, Some(b"f")));
                        }
                        s.frames_omitted(500);
                        for i in 575..600 {
                            s.frame(&frame(i, Some(b"g")));
                        }
                    }
                    _ => s.frame(&frame(0, Some(b"h"))),
                }
                s.thread_end();
            }
            s.threads_omitted(23);
            s.note(b"late note");
            s.end(1);
        });
        assert!(text.len() > 100_000, "{}", text.len());
        let d = one_object(&text);
        let threads = d["threads"].as_array().unwrap();
        assert_eq!(threads.len(), 100);
        assert_eq!(d["threads_not_shown"], 23);
        assert_eq!(threads[0]["answered"], false);
        assert_eq!(threads[0]["no_answer"], "blocks every signal");
        assert_eq!(threads[0]["frames"], serde_json::json!([]));
        assert_eq!(threads[0]["name"], "worker \"q\"");
        assert_eq!(threads[1]["answered"], true);
        assert_eq!(threads[1]["frames"].as_array().unwrap().len(), 100);
        assert_eq!(threads[1]["frames_not_shown"], 500);
        assert_eq!(threads[1]["frames"][75]["index"], 575);
        assert_eq!(threads[2]["frames"].as_array().unwrap().len(), 1);
        assert_eq!(d["notes"], serde_json::json!(["late note"]));
    }

    #[test]
    fn written_in_chunks_of_at_most_4096_bytes() {
        // A datagram socket keeps every write(2) apart on the reading side.
        let mut fds = [0; 2];
        // SAFETY: fds is writable for two descriptors.
        let r =
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        let reader = std::thread::spawn(move || {
            let mut chunks = Vec::new();
            let mut buf = vec![0u8; 65536];
            loop {
                // SAFETY: buf is writable for its length; fds[0] is ours.
                let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    break;
                }
                chunks.push(buf[..n as usize].to_vec());
            }
            // SAFETY: closing our own read end.
            unsafe { libc::close(fds[0]) };
            chunks
        });
        {
            let mut writer = Writer::new(fds[1], sys::monotonic_ns() + 5_000_000_000);
            let mut s = JsonSink::new(&mut writer, false);
            s.begin(&DumpHeader {
                pid: 1,
                exe: b"/x",
                unix_time: 0,
                origin: &Origin::unknown(b""),
            });
            s.event(&Event::Api);
            for t in 0..100 {
                s.thread_begin(&ThreadHeader {
                    tid: t,
                    name: b"w",
                    current: false,
                });
                for i in 0..20 {
                    s.frame(&frame(i, Some(b"function")));
                }
                s.thread_end();
                s.flush();
            }
            s.end(1);
        }
        // SAFETY: closing our own write end.
        unsafe { libc::close(fds[1]) };
        let chunks = reader.join().unwrap();
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|c| c.len() <= 4096));
        let all: Vec<u8> = chunks.concat();
        one_object(core::str::from_utf8(&all).unwrap());
    }

    #[test]
    fn a_reason_after_frames_keeps_the_object_valid() {
        let d = one_object(&dump(false, |s| {
            s.begin(&DumpHeader {
                pid: 1,
                exe: b"/x",
                unix_time: 0,
                origin: &Origin::unknown(b""),
            });
            s.thread_begin(&ThreadHeader {
                tid: 2,
                name: b"t",
                current: false,
            });
            s.frame(&frame(0, Some(b"f")));
            s.no_answer(b"late");
            s.frame(&frame(1, Some(b"g")));
            s.thread_end();
            s.end(1);
        }));
        let t = &d["threads"][0];
        assert_eq!(t["frames"].as_array().unwrap().len(), 1);
        assert_eq!(t["answered"], false);
        assert_eq!(t["no_answer"], "late");
    }

    #[test]
    fn notes_beyond_the_buffer_are_counted() {
        let d = one_object(&dump(false, |s| {
            s.begin(&DumpHeader {
                pid: 1,
                exe: b"/x",
                unix_time: 0,
                origin: &Origin::unknown(b""),
            });
            for _ in 0..40 {
                s.note(&[b'n'; 400]);
            }
            s.end(1);
        }));
        let shown = d["notes"].as_array().unwrap().len();
        assert!((4..40).contains(&shown), "{shown}");
        assert_eq!(shown as u64 + d["notes_not_shown"].as_u64().unwrap(), 40);
    }
}
