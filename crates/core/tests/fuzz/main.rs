//! Property-based fuzzing of the parsers and rewriters that take untrusted input (issue 10).
//!
//! One integration-test binary, one module per target. Each property is checked on a
//! bounded number of generated cases by default, so `cargo test --workspace` stays fast; set
//! `PROPTEST_CASES` for a long run (see docs/fuzzing.md):
//!
//! ```text
//! PROPTEST_CASES=20000 cargo test -p switchboard-core --release --test fuzz
//! ```
//!
//! Why proptest and not cargo-fuzz, and where failing seeds are kept: docs/fuzzing.md.

mod config;
mod json;
mod jsonrpc;
mod names;
mod query_key;
mod redact;
mod sse;

use proptest::test_runner::Config;

/// The proptest config for a property: `default_cases` cases from a fixed seed, unless
/// `PROPTEST_CASES` is set (proptest reads it into its default config; an explicit
/// `with_cases` would hide it), and then from a random seed. The bounded run in the test
/// command is thus the same on every machine, and a test run never fails for a case it has
/// never tried before; new cases are what the long runs by hand are for.
pub fn cases(default_cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x5357_4954_4348);
    }
    config
}
