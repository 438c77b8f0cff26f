//! The text format of FORMAT.md, as a [`Sink`].

use core::fmt::Write as _;

use crate::format::line::{Line, utc_timestamp};
use crate::report::origin::Origin;
use crate::report::output::Writer;
use crate::report::sink::{
    Cause, Detail, DumpHeader, Event, FrameLine, ModuleLine, PythonFrameLine, Sink, ThreadHeader,
};
use crate::sys::arch::{Registers, reg};

pub struct TextSink<'w> {
    writer: &'w mut Writer,
    line: Line,
    /// Leave out absolute addresses, registers and load addresses.
    secure: bool,
    /// A blank line goes before the next thread, registers or modules.
    blank_before_next: bool,
    modules_started: bool,
    /// Frames in a module's file that nothing named (`??`): a stripped
    /// file without its debug file. The end of the dump says how to name
    /// them afterwards.
    unnamed: usize,
}

impl<'w> TextSink<'w> {
    pub fn new(writer: &'w mut Writer, secure: bool) -> TextSink<'w> {
        TextSink {
            writer,
            line: Line::new(),
            secure,
            blank_before_next: false,
            modules_started: false,
            unnamed: 0,
        }
    }

    fn emit(&mut self) {
        self.writer.line(&self.line);
        self.line.clear();
    }

    fn section_break(&mut self) {
        if self.blank_before_next {
            self.writer.line_bytes(b"");
            self.blank_before_next = false;
        }
    }
}

/// `H:MM:SS` with `.ffffff` when there is a fraction, as Python prints a
/// timeout.
pub fn write_timeout(line: &mut Line, period_ns: u64) {
    let secs = period_ns / 1_000_000_000;
    let micros = period_ns % 1_000_000_000 / 1000;
    let _ = write!(
        line,
        "{}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if micros != 0 {
        let _ = write!(line, ".{micros:06}");
    }
}

/// What follows `Cause: `: the cause, then (unless `secure`) the mapping that
/// holds the address, or the nearest one. The JSON format's `cause` too.
pub fn write_cause(line: &mut Line, cause: &Cause, secure: bool) {
    line.push(cause.what.as_bytes());
    let Some(m) = cause.mapping.filter(|_| !secure) else {
        return;
    };
    if m.contains {
        let _ = write!(
            line,
            "; 0x{:x} is in 0x{:x}-0x{:x} ",
            m.addr, m.start, m.end
        );
    } else {
        let _ = write!(
            line,
            "; no mapping at 0x{:x} (nearest: 0x{:x} ",
            m.addr, m.start
        );
    }
    line.push(&m.perms);
    if !m.path.is_empty() {
        line.byte(b' ');
        line.escaped(m.path);
    }
    if !m.contains {
        line.byte(b')');
    }
}

/// `Origin: container 3f2a5b7c9d1e (docker), host web-1, pod prod/web-1,
/// service=api version=1.2`: the parts that are known, the container id
/// cut to the 12 digits `docker ps` shows (the JSON dump has it whole).
pub fn write_origin(line: &mut Line, origin: &Origin) {
    line.push(b"Origin: ");
    let mut sep = false;
    let mut part = |line: &mut Line| {
        if core::mem::replace(&mut sep, true) {
            line.push(b", ");
        }
    };
    if let Some(id) = origin.container.get() {
        part(line);
        line.push(b"container ");
        line.escaped(&id[..id.len().min(12)]);
        if let Some(runtime) = origin.runtime {
            let _ = write!(line, " ({})", runtime.name());
        }
    }
    if let Some(host) = origin.host.get() {
        part(line);
        line.push(b"host ");
        line.escaped(host);
    }
    if let Some(pod) = origin.pod.get() {
        part(line);
        line.push(b"pod ");
        if let Some(ns) = origin.namespace.get() {
            line.escaped(ns);
            line.byte(b'/');
        }
        line.escaped(pod);
    } else if let Some(ns) = origin.namespace.get() {
        part(line);
        line.push(b"namespace ");
        line.escaped(ns);
    }
    let mut first_tag = true;
    for (key, value) in origin.tags() {
        if core::mem::replace(&mut first_tag, false) {
            part(line);
        } else {
            line.byte(b' ');
        }
        line.escaped(key);
        line.byte(b'=');
        line.escaped(value);
    }
}

impl Sink for TextSink<'_> {
    fn begin(&mut self, header: &DumpHeader) {
        let _ = write!(self.line, "faultdump: pid {} (", header.pid);
        self.line.escaped(header.exe);
        self.line.push(b") at ");
        utc_timestamp(header.unix_time, &mut self.line);
        self.emit();
        if header.origin.is_worth_a_line() {
            write_origin(&mut self.line, header.origin);
            self.emit();
        }
    }

    fn note(&mut self, text: &[u8]) {
        self.line.escaped(text);
        self.emit();
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Fatal(f) => {
                let _ = write!(self.line, "Fatal error: {} (SIG{}, ", f.title, f.abbrev);
                match f.code_name {
                    Some(name) => self.line.push(name.as_bytes()),
                    None => {
                        let _ = write!(self.line, "si_code {}", f.code);
                    }
                }
                match f.detail {
                    Detail::Address(_) if self.secure => {}
                    Detail::Address(addr) => {
                        let _ = write!(self.line, ", address 0x{addr:x}");
                    }
                    Detail::Sender { pid, uid } => {
                        let _ = write!(self.line, ", sent by pid {pid}, uid {uid}");
                    }
                    Detail::Syscall { number, name } => {
                        let _ = write!(
                            self.line,
                            ", system call {number} ({})",
                            name.unwrap_or("?")
                        );
                    }
                    Detail::Nothing => {}
                }
                self.line.byte(b')');
                self.emit();
                if let Some(cause) = &f.cause {
                    self.line.push(b"Cause: ");
                    write_cause(&mut self.line, cause, self.secure);
                    self.emit();
                }
                if let Some(message) = f.abort_message {
                    self.line.push(b"Abort message: ");
                    self.line.escaped(message);
                    self.emit();
                }
            }
            Event::Timeout { period_ns } => {
                self.line.push(b"Timeout (");
                write_timeout(&mut self.line, *period_ns);
                self.line.push(b")!");
                self.emit();
            }
            Event::UserSignal { .. } | Event::Api => {}
        }
        self.blank_before_next = true;
    }

    fn thread_begin(&mut self, thread: &ThreadHeader) {
        self.section_break();
        let kind = if thread.current {
            "Current thread"
        } else {
            "Thread"
        };
        let _ = write!(self.line, "{kind} {} \"", thread.tid);
        self.line.escaped(thread.name);
        self.line.push(b"\" (most recent call first):");
        self.emit();
    }

    fn frame(&mut self, f: &FrameLine) {
        let addr = if self.secure { 0 } else { f.addr };
        let _ = write!(self.line, "  #{:<2} 0x{addr:016x} in ", f.index);
        match f.function {
            Some(name) => {
                self.line.escaped(name);
                if let Some(off) = f.offset {
                    let _ = write!(self.line, "+0x{off:x}");
                }
            }
            None => {
                self.line.push(b"??");
                if f.module.is_some_and(|m| !m.starts_with(b"[")) {
                    self.unnamed += 1;
                }
            }
        }
        if f.inlined {
            self.line.push(b" (inlined)");
        }
        if let (Some(file), Some(line)) = (f.file, f.line) {
            self.line.push(b" at ");
            self.line.escaped(file);
            let _ = write!(self.line, ":{line}");
        }
        self.line.push(b" (");
        match f.module {
            Some(path) => self.line.escaped(path),
            None => self.line.push(b"[anonymous]"),
        }
        // Where no mapping holds the address, the offset is the address
        // itself: not shown in a secure dump.
        let module_offset = if self.secure && f.module.is_none() {
            0
        } else {
            f.module_offset
        };
        let _ = write!(self.line, "+0x{module_offset:x})");
        self.emit();
    }

    fn python_frame(&mut self, f: &PythonFrameLine) {
        let _ = write!(self.line, "  #{:<2} [python] ", f.index);
        self.line.escaped(f.function);
        self.line.push(b" at ");
        self.line.escaped(f.file);
        let _ = write!(self.line, ":{}", f.line.unwrap_or(0));
        self.emit();
    }

    fn frames_omitted(&mut self, count: u64) {
        let _ = write!(self.line, "  ... {count} frames not shown ...");
        self.emit();
    }

    fn no_answer(&mut self, why: &[u8]) {
        self.line.push(b"  <no answer: ");
        self.line.escaped(why);
        self.line.byte(b'>');
        self.emit();
    }

    fn thread_end(&mut self) {
        self.blank_before_next = true;
    }

    fn threads_omitted(&mut self, count: usize) {
        self.section_break();
        let _ = write!(self.line, "... {count} more threads not shown ...");
        self.emit();
        self.blank_before_next = true;
    }

    fn registers(&mut self, regs: &Registers) {
        if self.secure {
            return;
        }
        self.section_break();
        self.writer.line_bytes(b"Registers:");
        for row in reg::PRINTED.chunks(4) {
            for (name, index) in row {
                let _ = write!(self.line, "  {name:<3} {:016x}", regs.gregs[*index]);
            }
            self.emit();
        }
        self.blank_before_next = true;
    }

    fn module(&mut self, m: &ModuleLine) {
        if !self.modules_started {
            self.section_break();
            self.writer.line_bytes(b"Modules:");
            self.modules_started = true;
        }
        self.line.push(b"  ");
        if !self.secure {
            let _ = write!(self.line, "0x{:016x} ", m.bias);
        }
        self.line.escaped(m.path);
        match m.build_id {
            Some(id) => {
                self.line.push(b" (build-id ");
                for b in id {
                    let _ = write!(self.line, "{b:02x}");
                }
                self.line.byte(b')');
            }
            None if m.build_id_unreadable => self.line.push(b" (build-id not readable)"),
            None => self.line.push(b" (no build-id)"),
        }
        self.emit();
    }

    fn end(&mut self, pid: i32) {
        // Only where the module list gives the build-ids to look them up by
        // (fatal dumps): one line, not a `??` per frame left unexplained.
        if self.unnamed > 0 && self.modules_started {
            let _ = write!(
                self.line,
                "faultdump: {} frames have no name (no symbols or debug information here): \
                 name them afterwards with faultdump-symbolize, by the build-ids above \
                 (DEBUGINFOD_URLS=URL to fetch the debug files from a debuginfod server)",
                self.unnamed
            );
            self.emit();
        }
        let _ = write!(self.line, "faultdump: end of dump, pid {pid}");
        self.emit();
        self.writer.flush();
    }

    fn stopped(&self) -> bool {
        self.writer.stopped
    }

    fn writer(&mut self) -> &mut Writer {
        self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sink::ModuleLine;
    use crate::sys;

    /// Runs `produce` on a text sink writing into a memory file; the text.
    fn dump(produce: impl FnOnce(&mut dyn Sink)) -> String {
        // SAFETY: memfd_create with a valid name; the fd is ours.
        let fd = unsafe { libc::memfd_create(c"text-test".as_ptr(), 0) };
        assert!(fd >= 0);
        {
            let mut writer = Writer::new(fd, sys::monotonic_ns() + 5_000_000_000);
            produce(&mut TextSink::new(&mut writer, false));
        }
        let mut buf = [0u8; 65536];
        // SAFETY: buf is writable for its length; fd is our memfd.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fd) };
        String::from_utf8(buf[..n.max(0) as usize].to_vec()).unwrap()
    }

    fn frame(function: Option<&'static [u8]>, module: Option<&'static [u8]>) -> FrameLine<'static> {
        FrameLine {
            index: 0,
            addr: 0x1000,
            function,
            offset: None,
            inlined: false,
            file: None,
            line: None,
            module,
            module_offset: 0x10,
        }
    }

    /// Frames of a module's file that nothing named: one line before the
    /// last says how to name them, where the module list gives build-ids.
    /// Code outside every file (`[anonymous]`, `[vdso]`) is not counted.
    #[test]
    fn unnamed_frames_end_with_how_to_name_them() {
        let produce = |modules: bool| {
            move |s: &mut dyn Sink| {
                s.frame(&frame(None, Some(b"/srv/app")));
                s.frame(&frame(Some(b"main"), Some(b"/srv/app")));
                s.frame(&frame(None, None));
                s.frame(&frame(None, Some(b"[vdso]")));
                s.frame(&frame(None, Some(b"/lib/libc.so.6")));
                if modules {
                    s.module(&ModuleLine {
                        bias: 0,
                        path: b"/srv/app",
                        build_id: Some(&[0xab, 0xcd]),
                        build_id_unreadable: false,
                    });
                }
                s.end(7);
            }
        };
        let text = dump(produce(true));
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[lines.len() - 2].starts_with("faultdump: 2 frames have no name "),
            "{text}"
        );
        assert_eq!(lines[lines.len() - 1], "faultdump: end of dump, pid 7");
        // Without the module list there is no build-id to go by.
        assert!(!dump(produce(false)).contains("no name"));
        // Every frame named: no line.
        let named = dump(|s| {
            s.frame(&frame(Some(b"main"), Some(b"/srv/app")));
            s.module(&ModuleLine {
                bias: 0,
                path: b"/srv/app",
                build_id: None,
                build_id_unreadable: true,
            });
            s.end(7);
        });
        assert!(!named.contains("no name"), "{named}");
        assert!(
            named.contains("/srv/app (build-id not readable)"),
            "{named}"
        );
    }

    #[test]
    fn timeouts_as_python_prints_them() {
        let mut l = Line::new();
        write_timeout(&mut l, 5_000_000_000);
        assert_eq!(l.as_bytes(), b"0:00:05");
        l.clear();
        write_timeout(&mut l, 3_723_500_000_000);
        assert_eq!(l.as_bytes(), b"1:02:03.500000");
    }
}
