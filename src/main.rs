//! Entry point; everything else is in the library (`tilerun::cli`).

fn main() -> std::process::ExitCode {
    tilerun::cli::main()
}
