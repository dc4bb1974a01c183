// The old application as node-postgres runs it. Usage and protocol as psycopg_app.py;
// MODE `unnamed` (node-postgres's default: every query parsed anew) or `named` (a `name`
// on each query, which node-postgres prepares once per connection).
const fs = require('fs');
const path = require('path');
const { Client } = require('pg');

const [url, mode, control] = process.argv.slice(2);
const statements = {
  select_star: ['SELECT * FROM accounts WHERE id = $1', (n) => [(n % 100) + 1]],
  returning_star: ['INSERT INTO accounts (email) VALUES ($1) RETURNING *', (n) => [`n${mode}${n}@example.org`]],
  explicit_columns: ['SELECT id, email FROM accounts WHERE id = $1', (n) => [(n % 100) + 1]],
};

(async () => {
  const client = new Client({ connectionString: url });
  await client.connect();
  const counts = {};
  const errors = {};
  const rounds = {};
  for (let n = 0; ; n++) {
    let phase = 'before';
    for (const marker of ['expanded', 'contracted']) {
      if (fs.existsSync(path.join(control, marker))) phase = marker;
    }
    for (const [name, [text, values]] of Object.entries(statements)) {
      const key = `${phase}/${name}`;
      counts[key] = counts[key] || { ok: 0, failed: 0 };
      const query = { text, values: values(n) };
      if (mode === 'named') query.name = name;
      try {
        await client.query(query);
        counts[key].ok += 1;
      } catch (e) {
        counts[key].failed += 1;
        if (!(key in errors)) errors[key] = e.message;
      }
    }
    rounds[phase] = (rounds[phase] || 0) + 1;
    if (phase === 'before' && rounds[phase] === 20) console.log('ready');
    if (phase !== 'before' && rounds[phase] === 60) {
      console.log(`${phase} done`);
      if (phase === 'contracted') break;
    }
  }
  console.log(JSON.stringify({ counts, errors }));
  await client.end();
})().catch((e) => { console.error(e.message); process.exit(1); });
