//! Nothing here: the tests are in `tests/` and run through `scripts/e2e.sh`.
