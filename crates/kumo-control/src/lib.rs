//! kumo-control
