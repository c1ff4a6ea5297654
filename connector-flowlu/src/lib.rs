//! flowlu
