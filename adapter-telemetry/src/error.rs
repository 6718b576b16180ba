//! The command's one error type: a message for one line of stderr, exit 2.

use std::fmt;

/// Bad input or an environment the command cannot work in (a missing or
/// corrupt database, an unknown run, a malformed time, an unwritable
/// output). `main` prints it on one line and exits with 2.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl Failure {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Failure(msg.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the cause's own text holds.
        let one_line: String = self
            .0
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        f.write_str(&one_line)
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure(format!("database: {e}"))
    }
}

pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;
