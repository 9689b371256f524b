//! What a child said on stderr and what went wrong with it, bounded in memory.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// The defaults of `switchboard.limits.maxLogLines` and `maxLogLineBytes`.
const MAX_LINES: usize = 200;
const MAX_LINE_BYTES: usize = 4096;

/// Shared, bounded record of a child's stderr and of protocol faults.
#[derive(Debug)]
pub struct Diagnostics {
    inner: Mutex<Inner>,
    max_lines: usize,
    max_line_bytes: usize,
}

impl Default for Diagnostics {
    fn default() -> Self {
        Diagnostics::new(MAX_LINES, MAX_LINE_BYTES)
    }
}

#[derive(Debug, Default)]
struct Inner {
    stderr: VecDeque<String>,
    invalid_stdout_lines: u64,
    last_error: Option<String>,
}

/// A copy of [`Diagnostics`] for status output.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DiagnosticsSnapshot {
    pub stderr_tail: Vec<String>,
    pub invalid_stdout_lines: u64,
    pub last_error: Option<String>,
}

impl Diagnostics {
    /// A ring of at most `max_lines` lines, each cut to `max_line_bytes`.
    pub fn new(max_lines: usize, max_line_bytes: usize) -> Diagnostics {
        Diagnostics {
            inner: Mutex::default(),
            max_lines: max_lines.max(1),
            max_line_bytes,
        }
    }

    pub fn push_stderr(&self, line: &str) {
        let line = truncate(line, self.max_line_bytes);
        let mut inner = self.lock();
        while inner.stderr.len() >= self.max_lines {
            inner.stderr.pop_front();
        }
        inner.stderr.push_back(line);
    }

    /// Switchboard's own event about this server, in the same ring as its stderr.
    pub fn push_event(&self, event: &str) {
        self.push_stderr(&format!("[switchboard] {event}"));
    }

    pub fn record_invalid_stdout(&self, reason: &str) {
        let mut inner = self.lock();
        inner.invalid_stdout_lines += 1;
        inner.last_error = Some(format!("non-JSON-RPC output on stdout: {reason}"));
    }

    pub fn record_error(&self, message: impl Into<String>) {
        self.lock().last_error = Some(message.into());
    }

    pub fn snapshot(&self, tail: usize) -> DiagnosticsSnapshot {
        let inner = self.lock();
        let skip = inner.stderr.len().saturating_sub(tail);
        DiagnosticsSnapshot {
            stderr_tail: inner.stderr.iter().skip(skip).cloned().collect(),
            invalid_stdout_lines: inner.invalid_stdout_lines,
            last_error: inner.last_error.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the ring inconsistent; keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn truncate(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_owned();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_is_bounded_and_keeps_the_newest() {
        let d = Diagnostics::default();
        for i in 0..(MAX_LINES + 10) {
            d.push_stderr(&format!("line {i}"));
        }
        let snap = d.snapshot(usize::MAX);
        assert_eq!(snap.stderr_tail.len(), MAX_LINES);
        assert_eq!(
            snap.stderr_tail.last().unwrap(),
            &format!("line {}", MAX_LINES + 9)
        );
        assert_eq!(d.snapshot(3).stderr_tail.len(), 3);
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let d = Diagnostics::default();
        d.push_stderr(&"é".repeat(MAX_LINE_BYTES));
        let line = &d.snapshot(1).stderr_tail[0];
        assert!(line.len() <= MAX_LINE_BYTES + '…'.len_utf8());
    }

    #[test]
    fn the_ring_follows_its_settings() {
        let d = Diagnostics::new(3, 10);
        for i in 0..5 {
            d.push_stderr(&format!("line {i} and a long tail"));
        }
        let tail = d.snapshot(usize::MAX).stderr_tail;
        assert_eq!(tail.len(), 3);
        assert_eq!(tail[2], "line 4 and…");
    }
}
