//! The validation call against mockito: every outcome, the exact request, class and message.
