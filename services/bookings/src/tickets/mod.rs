//! Tickets: signed codes and their QR images.

pub mod code;

pub use code::TicketSigner;
