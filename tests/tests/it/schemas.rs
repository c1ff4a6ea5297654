//! The generated files under schemas/ match the code, and the form schema is valid draft-07.
