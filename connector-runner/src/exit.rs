//! The exit codes of every command.

/// Exit code: the command ran.
pub const EXIT_OK: i32 = 0;
/// Exit code: the command failed; a `TRACE` error on stdout says why.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: the command line could not be parsed.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: interrupted by SIGINT (128 + 2).
pub const EXIT_SIGINT: i32 = 130;
/// Exit code: interrupted by SIGTERM (128 + 15).
pub const EXIT_SIGTERM: i32 = 143;
