//! Integration tests: one binary (faster to build and link than one per file). Every test
//! serves its own site on 127.0.0.1; nothing here reaches the internet.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod cli;
mod corpus;
mod documents;
mod files;
mod hostile;
mod ocr;
mod render;
mod report;
mod rules;
mod scan;
mod send;
mod state;
mod support;
