//! mailpatrol: audit where an organisation publishes email addresses.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! profile ─▶ crawl (scope, frontier, robots, fetch) ─▶ decode ─▶ extract ─▶ classify
//!         ─▶ attribute ─▶ report
//! ```
//!
//! [`scan::scan`] wires the stages together; everything it produces is a [`model::ScanRun`],
//! from which [`report`] writes the files. The library knows nothing about argv, terminals or
//! exit codes: that is the binary's job (`src/cli/`).

pub mod attribute;
pub mod classify;
pub mod crawl;
pub mod decode;
pub mod deliver;
pub mod demo;
pub mod error;
pub mod extract;
pub mod model;
pub mod ocr;
pub mod profile;
pub mod render;
pub mod report;
pub mod scan;
pub mod site;
pub mod store;
