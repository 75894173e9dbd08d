//! kumo-cli
