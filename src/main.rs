//! The `mailpatrol` binary: parses arguments, runs the command, maps the result to an exit
//! code. Everything else lives in the library and in `cli/`.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    cli::main()
}
