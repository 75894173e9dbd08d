//! kumo-gateway
