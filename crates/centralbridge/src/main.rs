//! The `centralbridge` command: everything is in the library.

fn main() -> std::process::ExitCode {
    centralbridge::main()
}
