fn main() -> std::process::ExitCode {
    switchboard_cli::main()
}
