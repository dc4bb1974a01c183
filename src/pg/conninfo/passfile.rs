//! libpq's password file: `host:port:database:user:password` lines, `*` matching anything,
//! `\:` and `\\` escaped, the first match winning.

use super::ConnInfo;

/// The first matching password of a `.pgpass` file: `host:port:db:user:password`, `*`
/// matching anything, `\:` and `\\` escaped; a socket directory matches `localhost`.
pub(super) fn pgpass(
    text: &str,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let host = if ConnInfo::is_socket(host) {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split_pgpass(line);
            let [h, p, d, u, password] = <[String; 5]>::try_from(fields).ok()?;
            let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
            (matches(&h, host) && matches(&p, &port) && matches(&d, dbname) && matches(&u, user))
                .then_some(password)
        })
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field at least").push(next);
                }
            }
            // The password is the rest of the line, colons and all.
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field at least").push(c),
        }
    }
    fields
}
