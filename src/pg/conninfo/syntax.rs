//! The two spellings of a connection string libpq accepts: a URL and `key=value` pairs. Both
//! come out as (keyword, value) pairs; what the keywords mean is decided by the caller.

use super::ConnInfoError;

/// `postgresql://[user[:password]@][host[:port][,...]][/dbname][?key=value&...]`.
pub(super) fn parse_url(text: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    let rest = text.split_once("://").map_or(text, |(_, r)| r);
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut out = Vec::new();
    let hostlist = match authority.rsplit_once('@') {
        Some((credentials, hosts)) => {
            let (user, password) = credentials
                .split_once(':')
                .map_or((credentials, None), |(u, p)| (u, Some(p)));
            if !user.is_empty() {
                out.push(("user".to_owned(), decode(user, "the user name")?));
            }
            if let Some(password) = password {
                out.push(("password".to_owned(), decode(password, "the password")?));
            }
            hosts
        }
        None => authority,
    };
    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for part in hostlist.split(',') {
            let (host, port) = if let Some(inner) = part.strip_prefix('[') {
                let (host, after) = inner.split_once(']').ok_or_else(|| {
                    ConnInfoError::Syntax("an IPv6 address in [brackets] is not closed".into())
                })?;
                (host.to_owned(), after.strip_prefix(':').unwrap_or(""))
            } else {
                let (host, port) = part.split_once(':').unwrap_or((part, ""));
                (decode(host, "a host name")?, port)
            };
            if !port.is_empty() && !port.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConnInfoError::Syntax(format!(
                    "the port of host \"{host}\" is not a number"
                )));
            }
            hosts.push(host);
            ports.push(port.to_owned());
        }
        out.push(("host".to_owned(), hosts.join(",")));
        if ports.iter().any(|p| !p.is_empty()) {
            out.push(("port".to_owned(), ports.join(",")));
        }
    }
    if !path.is_empty() {
        out.push(("dbname".to_owned(), decode(path, "the database name")?));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            ConnInfoError::Syntax(format!(
                "query parameter \"{}\" has no value",
                decode(pair, "a parameter").unwrap_or_default()
            ))
        })?;
        let key = decode(key, "a parameter name")?;
        let value = decode(value, &format!("the value of {key}"))?;
        out.push((key, value));
    }
    Ok(out)
}

fn decode(text: &str, what: &str) -> Result<String, ConnInfoError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ConnInfoError::Syntax(format!("{what} has an invalid %-escape")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ConnInfoError::Syntax(format!("{what} is not UTF-8 once %-decoded")))
}

/// `key=value key2='quoted \' value'`.
pub(super) fn parse_keywords(text: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(ConnInfoError::Syntax(format!(
                "missing \"=\" after \"{key}\" (expected a URL or key=value pairs)"
            )));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(ConnInfoError::Syntax(format!(
                            "the quoted value of \"{key}\" is not closed"
                        )))
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}
