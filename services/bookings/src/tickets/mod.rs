//! Tickets: signed codes and their QR images.

pub mod code;
pub mod qr;

pub use code::TicketSigner;
