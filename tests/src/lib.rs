//! End-to-end tests live under `e2e/`; this library is empty.
