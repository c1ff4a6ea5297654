//! The directory of a [`crate::JsonlCredential`]: its `*.jsonl` files as streams, a stream's
//! file, and the failures naming the directory.

use std::path::{Path, PathBuf};

use connector_core::{Failure, FailureClass, FailureReason};

/// The file extension of a stream's file.
pub const EXTENSION: &str = "jsonl";

/// A failure about the directory itself: a config failure naming it.
pub(crate) fn directory_failure(directory: &Path, e: &std::io::Error) -> (FailureReason, Failure) {
    let shown = directory.display();
    let (reason, message) = match e.kind() {
        std::io::ErrorKind::NotFound => (
            FailureReason::InvalidConfig,
            format!("The directory {shown} does not exist. Create it, or correct the path in the config."),
        ),
        std::io::ErrorKind::PermissionDenied => (
            FailureReason::MissingPermission,
            format!("The directory {shown} cannot be read by this program (permission denied). Give it read access, or choose another directory."),
        ),
        std::io::ErrorKind::NotADirectory => (
            FailureReason::InvalidConfig,
            format!("{shown} is a file, not a directory. Enter the folder that holds the .jsonl files."),
        ),
        _ => (
            FailureReason::Unexpected,
            format!("The directory {shown} cannot be read: {e}."),
        ),
    };
    let failure = Failure {
        class: reason.class(),
        message,
        internal: format!("directory {shown}: {e}"),
    };
    (reason, failure)
}

/// Opens `directory` for listing; a failure naming it.
pub(crate) fn read_dir(directory: &Path) -> Result<std::fs::ReadDir, (FailureReason, Failure)> {
    let metadata = std::fs::metadata(directory).map_err(|e| directory_failure(directory, &e))?;
    if !metadata.is_dir() {
        let e = std::io::Error::from(std::io::ErrorKind::NotADirectory);
        return Err(directory_failure(directory, &e));
    }
    std::fs::read_dir(directory).map_err(|e| directory_failure(directory, &e))
}

/// The streams of `directory`: the names of its `*.jsonl` files, sorted. Files whose name is
/// not UTF-8 text are left out (no catalog could name them).
pub(crate) fn list_streams(directory: &Path) -> Result<Vec<String>, (FailureReason, Failure)> {
    let mut names: Vec<String> = read_dir(directory)?
        .filter_map(Result::ok)
        .filter(|entry| std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()))
        .filter_map(|entry| {
            let path = entry.path();
            if path.extension()? != EXTENSION {
                return None;
            }
            let name = path.file_stem()?.to_str()?.to_string();
            (!name.is_empty()).then_some(name)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// The file of stream `name` in `directory`; a config failure for a name that is not a file
/// name (empty, or with a path separator: it would reach outside the directory).
pub(crate) fn stream_path(directory: &Path, name: &str) -> Result<PathBuf, Failure> {
    if name.is_empty() || name.contains(['/', '\\', '\0']) {
        return Err(config_failure(format!(
            "The stream name `{name}` cannot be a file name in {}: use a name without `/`, `\\` or NUL (a stream is the file <name>.{EXTENSION}).",
            directory.display()
        )));
    }
    Ok(directory.join(format!("{name}.{EXTENSION}")))
}

/// A config failure (what to fix, and the detail).
pub(crate) fn config_failure(message: String) -> Failure {
    Failure {
        class: FailureClass::Config,
        internal: message.clone(),
        message,
    }
}
