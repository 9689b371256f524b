//! Black-box tests: a real Hub on a loopback socket, real child processes speaking stdio.

// Test code: a panic with the value in the message is the report we want.
#![allow(clippy::unwrap_used)]

mod admin;
mod aggregate;
mod cli;
mod clients;
mod faults;
mod gateway;
mod guard;
mod http_edges;
mod invariants;
mod legacy_sse;
mod limits;
mod modern;
mod oauth;
mod profiles;
mod relay;
mod rules;
mod spare;
mod supervisor;
mod support;
mod upstream_fixture;
