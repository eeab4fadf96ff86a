//! Rebuilds the crate when a migration is added or changed: `refinery`'s
//! `embed_migrations!` reads `migrations/` at compile time but tells cargo
//! nothing, so a new file would otherwise be missed by an incremental build.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
