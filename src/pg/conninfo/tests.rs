use super::*;
use std::collections::HashMap;

#[derive(Default)]
struct FakeEnv {
    vars: HashMap<&'static str, &'static str>,
    files: HashMap<PathBuf, (String, bool)>,
}

impl FakeEnv {
    fn var(mut self, name: &'static str, value: &'static str) -> Self {
        self.vars.insert(name, value);
        self
    }

    fn file(mut self, path: &str, text: &str, open: bool) -> Self {
        self.files
            .insert(PathBuf::from(path), (text.to_owned(), open));
        self
    }
}

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.to_string())
    }
    fn home(&self) -> Option<PathBuf> {
        Some(PathBuf::from("/home/ana"))
    }
    fn os_user(&self) -> Option<String> {
        Some("ana".into())
    }
    fn read_file(&self, path: &Path) -> Option<(String, bool)> {
        self.files.get(path).cloned()
    }
    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }
}

fn resolve(text: &str, env: &FakeEnv) -> ConnInfo {
    ConnInfo::resolve(Some(text), env).unwrap().0
}

fn error(text: &str, env: &FakeEnv) -> String {
    ConnInfo::resolve(Some(text), env).unwrap_err().to_string()
}

#[test]
fn a_url_with_every_part() {
    let info = resolve(
        "postgresql://app%40corp:p%3Ass@db.example.com:6543/my%20db?sslmode=verify-full&sslrootcert=/etc/ca.crt&application_name=deploy&connect_timeout=1",
        &FakeEnv::default(),
    );
    assert_eq!(info.user, "app@corp");
    assert_eq!(info.password.as_deref(), Some("p:ss"));
    assert_eq!(info.password_source, PasswordSource::Given);
    assert_eq!(info.hosts, ["db.example.com"]);
    assert_eq!(info.ports, [6543]);
    assert_eq!(info.dbname, "my db");
    assert_eq!(info.sslmode, SslMode::VerifyFull);
    assert_eq!(info.sslrootcert, Some(RootCert::File("/etc/ca.crt".into())));
    assert_eq!(info.application_name.as_deref(), Some("deploy"));
    assert_eq!(info.connect_timeout, Some(Duration::from_secs(2)));
}

#[test]
fn ipv6_several_hosts_and_socket_directories() {
    let info = resolve(
        "postgres://[::1]:5433,db2,%2Fvar%2Frun%2Fpostgresql/app",
        &FakeEnv::default(),
    );
    assert_eq!(info.hosts, ["::1", "db2", "/var/run/postgresql"]);
    assert_eq!(info.ports, [5433, 5432, 5432]);
    assert!(ConnInfo::is_socket(&info.hosts[2]));
    assert_eq!(
        info.to_string(),
        "postgresql://ana@[::1]:5433,db2:5432,%2Fvar%2Frun%2Fpostgresql:5432/app"
    );
    let info = resolve("host=a,b port=1,2 dbname=x", &FakeEnv::default());
    assert_eq!(info.ports, [1, 2]);
    assert!(error("host=a,b,c port=1,2", &FakeEnv::default()).contains("2 ports for 3 hosts"));
}

#[test]
fn keyword_value_strings_with_quotes_and_escapes() {
    let info = resolve(
        r"host = db user=app password='a b\'c\\d' dbname=app options='-c search_path=x'",
        &FakeEnv::default(),
    );
    assert_eq!(info.password.as_deref(), Some(r"a b'c\d"));
    assert_eq!(info.options.as_deref(), Some("-c search_path=x"));
    assert!(error("host=db user", &FakeEnv::default()).contains("missing \"=\" after \"user\""));
    assert!(error("password='open", &FakeEnv::default()).contains("not closed"));
}

#[test]
fn the_environment_fills_only_what_the_string_leaves_out() {
    let env = FakeEnv::default()
        .var("PGHOST", "envhost")
        .var("PGPORT", "6000")
        .var("PGUSER", "envuser")
        .var("PGPASSWORD", "envpw")
        .var("PGDATABASE", "envdb")
        .var("PGSSLMODE", "require")
        .var("PGAPPNAME", "envapp")
        .var("PGCONNECT_TIMEOUT", "7");
    let info = resolve("postgres://given@/givendb", &env);
    assert_eq!(
        (info.hosts[0].as_str(), info.ports[0], info.user.as_str()),
        ("envhost", 6000, "given")
    );
    assert_eq!(info.dbname, "givendb");
    assert_eq!(info.password.as_deref(), Some("envpw"));
    assert_eq!(info.password_source, PasswordSource::Environment);
    assert_eq!(info.sslmode, SslMode::Require);
    assert_eq!(info.application_name.as_deref(), Some("envapp"));
    assert_eq!(info.connect_timeout, Some(Duration::from_secs(7)));
    let (alone, _) = ConnInfo::resolve(None, &env).unwrap();
    assert_eq!(alone.dbname, "envdb");
}

#[test]
fn defaults_follow_libpq() {
    let info = resolve("", &FakeEnv::default());
    assert_eq!(info.hosts, ["localhost"]);
    assert_eq!((info.user.as_str(), info.dbname.as_str()), ("ana", "ana"));
    assert_eq!(info.sslmode, SslMode::Prefer);
    let env = FakeEnv::default().file("/var/run/postgresql/.s.PGSQL.5432", "", false);
    assert_eq!(resolve("dbname=x", &env).hosts, ["/var/run/postgresql"]);
    let info = resolve("fallback_application_name=tool", &FakeEnv::default());
    assert_eq!(info.application_name.as_deref(), Some("tool"));
    let info = resolve(
        "application_name=mine fallback_application_name=tool",
        &FakeEnv::default(),
    );
    assert_eq!(info.application_name.as_deref(), Some("mine"));
}

#[test]
fn bad_values_name_the_keyword_or_the_variable() {
    assert_eq!(
        error("sslmode=verify_full", &FakeEnv::default()),
        "invalid value for sslmode=\"verify_full\": it is not one of disable, allow, prefer, require, verify-ca, verify-full"
    );
    let env = FakeEnv::default().var("PGSSLMODE", "strict");
    assert!(error("dbname=x", &env).contains("PGSSLMODE=\"strict\""));
    assert!(error("port=99999", &FakeEnv::default()).contains("port=\"99999\""));
    assert!(error("connect_timeout=soon", &FakeEnv::default()).contains("connect_timeout"));
    assert_eq!(
        error("postgres://db/app?sslmod=require", &FakeEnv::default()),
        "unknown connection parameter \"sslmod\""
    );
    assert!(error("service=prod", &FakeEnv::default()).contains("service files"));
    // Keywords libpq knows and switchback leaves alone are accepted.
    resolve(
        "postgres://db/app?target_session_attrs=read-write&channel_binding=prefer",
        &FakeEnv::default(),
    );
}

#[test]
fn root_certificates_and_the_modes_they_imply() {
    let info = resolve("host=db sslrootcert=system", &FakeEnv::default());
    assert_eq!(info.sslmode, SslMode::VerifyFull);
    assert_eq!(info.sslrootcert, Some(RootCert::System));
    assert_eq!(
        error("host=db sslrootcert=system sslmode=require", &FakeEnv::default()),
        "invalid value for sslrootcert: sslrootcert=system requires sslmode verify-full (it was require)"
    );
    let info = resolve(
        "host=db sslmode=require sslrootcert=ca.crt",
        &FakeEnv::default(),
    );
    assert_eq!(info.sslmode, SslMode::VerifyCa);
    let info = resolve("host=db sslmode=verify-full", &FakeEnv::default());
    assert_eq!(
        info.sslrootcert,
        Some(RootCert::File("/home/ana/.postgresql/root.crt".into()))
    );
    assert_eq!(
        resolve("host=db sslmode=require", &FakeEnv::default()).sslrootcert,
        None
    );
    let env = FakeEnv::default()
        .file("/home/ana/.postgresql/postgresql.crt", "", false)
        .file("/home/ana/.postgresql/postgresql.key", "", false);
    let info = resolve("host=db", &env);
    assert_eq!(
        info.sslcert,
        Some(PathBuf::from("/home/ana/.postgresql/postgresql.crt"))
    );
    assert!(info.sslkey.is_some());
}

#[test]
fn the_password_file_is_read_as_libpq_reads_it() {
    let pgpass = "# comment\n\
                  other:5432:*:ana:wrong\n\
                  db\\:1:*:app:ana:escaped\\:colon\n\
                  db:*:app:ana:first:with:colons\n\
                  db:*:*:*:second\n\
                  localhost:5432:*:*:socket\n";
    let env = FakeEnv::default().file("/home/ana/.pgpass", pgpass, false);
    let info = resolve("host=db dbname=app", &env);
    assert_eq!(info.password.as_deref(), Some("first:with:colons"));
    assert_eq!(
        info.password_source,
        PasswordSource::PassFile("/home/ana/.pgpass".into())
    );
    assert_eq!(
        resolve("host=db dbname=other", &env).password.as_deref(),
        Some("second")
    );
    assert_eq!(
        resolve("host=db:1 dbname=app", &env).password.as_deref(),
        Some("escaped:colon")
    );
    assert_eq!(
        resolve("host=/tmp dbname=app", &env).password.as_deref(),
        Some("socket")
    );
    assert_eq!(
        resolve("host=db password=given", &env).password.as_deref(),
        Some("given")
    );
    let env = FakeEnv::default().var("PGPASSFILE", "/srv/pgpass").file(
        "/srv/pgpass",
        "*:*:*:*:secret\n",
        true,
    );
    let (info, warnings) = ConnInfo::resolve(Some("host=db"), &env).unwrap();
    assert_eq!(info.password, None);
    assert_eq!(
        warnings,
        ["password file \"/srv/pgpass\" has group or world access; permissions should be u=rw (0600) or less"]
    );
}

#[test]
fn passwords_never_show() {
    for text in [
        "postgresql://app:s3cret@db:5432/app",
        "postgresql://app@db/app?password=s3cret&sslmode=require",
        "host=db user=app password=s3cret",
    ] {
        let info = resolve(text, &FakeEnv::default());
        assert_eq!(info.password.as_deref(), Some("s3cret"));
        assert!(!info.to_string().contains("s3cret"), "{info}");
        assert!(!format!("{info:?}").contains("s3cret"), "{info:?}");
    }
    let env = FakeEnv::default().file("/home/ana/.pgpass", "*:*:*:*:s3cret\n", false);
    let info = resolve("host=db", &env);
    assert!(!format!("{info} {info:?}").contains("s3cret"));
    // A malformed string does not echo its password back.
    assert!(!error("postgresql://app:s3cret@db:port/app", &FakeEnv::default()).contains("s3cret"));
    assert!(!error("postgres://app:s3cret@db/app?%zz=1", &FakeEnv::default()).contains("s3cret"));
}
