//! Supervision of stdio children: spawning from an argv, framing stdout, capturing stderr,
//! and stopping them politely and then firmly.
//!
//! **Invariant:** every child belongs to exactly one [`ManagedChild`]; dropping it kills the
//! child's whole process group (Unix) or Job Object (Windows).

mod child;
mod diagnostics;
mod env;
mod program;

pub use child::{
    ChildSink, ChildSpec, ExitInfo, FrameRejected, ManagedChild, NotQueued, StopGrace,
};
pub use diagnostics::{Diagnostics, DiagnosticsSnapshot};
pub use program::resolve_on_windows;
