//! Quoting of identifiers and literals. Every identifier switchback writes into SQL goes
//! through `ident`, so a plan can name `"Order"` or `select` without breaking a statement.

/// `name` as a quoted SQL identifier: `users` -> `"users"`, `a"b` -> `"a""b"`.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A schema-qualified relation name, both parts quoted.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// `text` as a standard-conforming SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A comma-separated list of quoted identifiers.
pub fn ident_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1).
pub const MAX_IDENT_BYTES: usize = 63;

/// A deterministic name for an object switchback creates, at most 63 bytes. Names that would
/// be longer keep a readable prefix and end in a hash of the full name, so two long names
/// that share a prefix still differ and a re-run finds the same object again.
pub fn object_name(parts: &[&str]) -> String {
    let full = parts.join("_");
    if full.len() <= MAX_IDENT_BYTES {
        return full;
    }
    let suffix = format!("_{:08x}", fnv1a(full.as_bytes()) as u32);
    let mut cut = MAX_IDENT_BYTES - suffix.len();
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &full[..cut], suffix)
}

/// FNV-1a, chosen over `DefaultHasher` because its output must never change between Rust
/// releases: object names and checksums derived from it are stored in databases.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_literals() {
        assert_eq!(ident("users"), "\"users\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified("public", "Order"), "\"public\".\"Order\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(ident_list(&["a", "b"]), "\"a\", \"b\"");
    }

    #[test]
    fn long_object_names_are_cut_with_a_stable_hash() {
        let long = "x".repeat(80);
        let name = object_name(&["sb", &long]);
        assert_eq!(name.len(), MAX_IDENT_BYTES);
        assert_eq!(name, object_name(&["sb", &long]));
        assert_ne!(name, object_name(&["sb", &"x".repeat(81)]));
        assert_eq!(object_name(&["sb", "nn", "email"]), "sb_nn_email");
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = object_name(&["é".repeat(40).as_str()]);
        assert!(name.len() <= MAX_IDENT_BYTES);
    }
}
