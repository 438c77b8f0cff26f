//! Dumps parsed by FORMAT.md's fixed parts.

use std::sync::OnceLock;

use regex::Regex;

/// FORMAT.md's frame-line expression, verbatim.
pub const FRAME_RE: &str =
    r"^  #(\d+) +0x([0-9a-f]+) in (.+?)( \(inlined\))?( at (.+):(\d+))? \((.+)\+0x([0-9a-f]+)\)$";

/// FORMAT.md's Python frame-line expression, verbatim.
pub const PY_FRAME_RE: &str = r"^  #(\d+) +\[python\] (.+?) at (.+):(\d+)$";

#[derive(Debug, Clone)]
pub struct Frame {
    pub index: usize,
    pub addr: u64,
    /// As printed, without `+0x…`.
    pub function: String,
    pub offset: Option<u64>,
    pub inlined: bool,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub module: String,
    pub module_offset: u64,
    /// A Python frame (`[python] FUNC at FILE:LINE`): no address, module
    /// `[python]`.
    pub python: bool,
}

impl Frame {
    /// The function name without a C++ parameter list: `ns::f<int>(int)` ->
    /// `ns::f<int>`, as gdb's `bt` names functions with debug info.
    pub fn name(&self) -> &str {
        strip_params(&self.function)
    }
}

/// `ns::f<int>(int) const` -> `ns::f<int>`.
pub fn strip_params(name: &str) -> &str {
    if !name.ends_with(')') && !name.ends_with(" const") {
        return name;
    }
    // The '(' that opens the trailing parameter list (not inside <...>).
    let mut depth = 0i32;
    for (i, c) in name.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            '(' if depth == 0 && i > 0 => return &name[..i],
            _ => {}
        }
    }
    name
}

#[derive(Debug, Clone, Default)]
pub struct Thread {
    pub tid: i32,
    pub name: String,
    pub current: bool,
    pub frames: Vec<Frame>,
    /// `... N frames not shown ...`: N, and the index in `frames` it stands before.
    pub omitted: Option<(u64, usize)>,
    pub no_answer: Option<String>,
}

impl Thread {
    pub fn names(&self) -> Vec<&str> {
        self.frames.iter().map(Frame::name).collect()
    }

    /// Asserts that `chain` appears as consecutive frames, in order.
    pub fn assert_chain(&self, chain: &[&str]) {
        assert!(
            self.has_chain(chain),
            "expected consecutive frames {chain:?} in thread {} ({}), got {:?}",
            self.tid,
            self.name,
            self.names()
        );
    }

    pub fn has_chain(&self, chain: &[&str]) -> bool {
        let names = self.names();
        names.windows(chain.len()).any(|w| w == chain)
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.names().iter().position(|n| *n == name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Dump {
    /// `faultdump: pid PID (EXE) at TIME`
    pub pid: i32,
    pub exe: String,
    pub event: Option<String>,
    pub cause: Option<String>,
    pub notes: Vec<String>,
    pub threads: Vec<Thread>,
    pub threads_omitted: Option<usize>,
    pub registers: Vec<String>,
    pub modules: Vec<String>,
    pub lines: Vec<String>,
    /// The last line was there.
    pub complete: bool,
}

impl Dump {
    pub fn current(&self) -> &Thread {
        self.threads
            .iter()
            .find(|t| t.current)
            .unwrap_or_else(|| panic!("no current thread in:\n{}", self.lines.join("\n")))
    }

    pub fn thread(&self, tid: i32) -> Option<&Thread> {
        self.threads.iter().find(|t| t.tid == tid)
    }

    /// Asserts the `Cause:` line starts with `what`.
    pub fn assert_cause(&self, what: &str) {
        let cause = self.cause.as_deref().unwrap_or("");
        assert!(
            cause
                .strip_prefix("Cause: ")
                .is_some_and(|c| c.starts_with(what)),
            "cause {cause:?}, want {what:?}"
        );
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The first note (a `faultdump: ` line about the dump itself) that
    /// starts with `start`.
    pub fn note(&self, start: &str) -> Option<&str> {
        self.notes
            .iter()
            .map(String::as_str)
            .find(|n| n.starts_with(start))
    }
}

/// The first JSON dump in `text`: the first line that is a JSON dump's
/// object (`FAULTHANDLER_FORMAT=json` writes each dump as one line).
pub fn json_dump_line(text: &str) -> Option<&str> {
    text.lines().find(|l| l.starts_with("{\"faultdump\":"))
}

/// Every dump in `text` (other output between dumps is ignored). Also checks
/// FORMAT.md's frame-line expression on every frame line.
pub fn parse_dumps(text: &str) -> Vec<Dump> {
    static RES: OnceLock<(Regex, Regex, Regex, Regex)> = OnceLock::new();
    let (first, frame, header, py_frame) = RES.get_or_init(|| {
        (
            Regex::new(r"^faultdump: pid (\d+) \((.*)\) at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
                .unwrap(),
            Regex::new(FRAME_RE).unwrap(),
            Regex::new(r#"^(Current thread|Thread) (\d+) "(.*)" \(most recent call first\):$"#)
                .unwrap(),
            Regex::new(PY_FRAME_RE).unwrap(),
        )
    });
    let mut dumps = Vec::new();
    let mut cur: Option<Dump> = None;
    #[derive(PartialEq)]
    enum Section {
        Top,
        Threads,
        Registers,
        Modules,
    }
    let mut section = Section::Top;
    for line in text.lines() {
        if let Some(c) = first.captures(line) {
            if let Some(d) = cur.take() {
                dumps.push(d);
            }
            cur = Some(Dump {
                pid: c[1].parse().unwrap(),
                exe: c[2].to_string(),
                ..Default::default()
            });
            section = Section::Top;
            cur.as_mut().unwrap().lines.push(line.to_string());
            continue;
        }
        let Some(d) = cur.as_mut() else { continue };
        d.lines.push(line.to_string());
        if line.starts_with("faultdump: end of dump, pid ") {
            d.complete = true;
            dumps.push(cur.take().unwrap());
            continue;
        }
        if let Some(c) = header.captures(line) {
            section = Section::Threads;
            d.threads.push(Thread {
                tid: c[2].parse().unwrap(),
                name: c[3].to_string(),
                current: &c[1] == "Current thread",
                ..Default::default()
            });
            continue;
        }
        if let Some(c) = py_frame.captures(line) {
            let t = d.threads.last_mut().expect("frame before a thread header");
            t.frames.push(Frame {
                index: c[1].parse().unwrap(),
                addr: 0,
                function: c[2].to_string(),
                offset: None,
                inlined: false,
                file: Some(c[3].to_string()),
                line: Some(c[4].parse().unwrap()),
                module: "[python]".to_string(),
                module_offset: 0,
                python: true,
            });
            continue;
        }
        if line.starts_with("  #") {
            let c = frame
                .captures(line)
                .unwrap_or_else(|| panic!("frame line does not match FORMAT.md: {line:?}"));
            let (function, offset) = match c[3].rsplit_once("+0x") {
                Some((f, off)) if u64::from_str_radix(off, 16).is_ok() => {
                    (f.to_string(), Some(u64::from_str_radix(off, 16).unwrap()))
                }
                _ => (c[3].to_string(), None),
            };
            let t = d.threads.last_mut().expect("frame before a thread header");
            t.frames.push(Frame {
                index: c[1].parse().unwrap(),
                addr: u64::from_str_radix(&c[2], 16).unwrap(),
                function,
                offset,
                inlined: c.get(4).is_some(),
                file: c.get(6).map(|m| m.as_str().to_string()),
                line: c.get(7).map(|m| m.as_str().parse().unwrap()),
                module: c[8].to_string(),
                module_offset: u64::from_str_radix(&c[9], 16).unwrap(),
                python: false,
            });
            continue;
        }
        if let Some(n) = line
            .strip_prefix("  ... ")
            .and_then(|rest| rest.strip_suffix(" frames not shown ..."))
        {
            let t = d.threads.last_mut().unwrap();
            t.omitted = Some((n.parse().unwrap(), t.frames.len()));
            continue;
        }
        if let Some(n) = line
            .strip_prefix("... ")
            .and_then(|rest| rest.strip_suffix(" more threads not shown ..."))
        {
            d.threads_omitted = Some(n.parse().unwrap());
            continue;
        }
        if let Some(why) = line.strip_prefix("  <no answer: ") {
            d.threads.last_mut().unwrap().no_answer = Some(why.trim_end_matches('>').to_string());
            continue;
        }
        if line.starts_with("faultdump: ") {
            // A note about the dump itself, wherever it stands.
            d.notes.push(line.to_string());
            continue;
        }
        match line {
            "Registers:" => section = Section::Registers,
            "Modules:" => section = Section::Modules,
            "" => {}
            _ => match section {
                Section::Registers => d.registers.push(line.to_string()),
                Section::Modules => d.modules.push(line.to_string()),
                _ if line.starts_with("Fatal error: ") || line.starts_with("Timeout (") => {
                    d.event = Some(line.to_string())
                }
                _ if line.starts_with("Cause: ") => d.cause = Some(line.to_string()),
                _ => {}
            },
        }
    }
    if let Some(d) = cur.take() {
        dumps.push(d);
    }
    dumps
}
