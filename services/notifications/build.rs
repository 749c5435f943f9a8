//! `sqlx::migrate!` embeds the migrations at compile time; this rebuilds the crate when one is
//! added or changed, including the outbox tables its migrations link to.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=../../crates/outbox/migrations");
}
