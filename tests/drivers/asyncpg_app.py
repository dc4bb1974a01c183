"""The old application as asyncpg runs it (its statement cache prepares every statement).

Usage and protocol as psycopg_app.py; MODE is `default`.
"""
import asyncio
import json
import os
import sys

import asyncpg


async def main():
    url, mode, control = sys.argv[1:4]
    conn = await asyncpg.connect(url)
    statements = {
        "select_star": ("SELECT * FROM accounts WHERE id = $1", lambda n: (n % 100 + 1,)),
        "returning_star": ("INSERT INTO accounts (email) VALUES ($1) RETURNING *", lambda n: (f"a{mode}{n}@example.org",)),
        "explicit_columns": ("SELECT id, email FROM accounts WHERE id = $1", lambda n: (n % 100 + 1,)),
    }
    counts, errors, rounds, n = {}, {}, {}, 0
    while True:
        phase = "before"
        for marker in ("expanded", "contracted"):
            if os.path.exists(os.path.join(control, marker)):
                phase = marker
        for name, (sql, params) in statements.items():
            key = f"{phase}/{name}"
            counts.setdefault(key, {"ok": 0, "failed": 0})
            try:
                await conn.fetch(sql, *params(n))
                counts[key]["ok"] += 1
            except asyncpg.PostgresError as e:
                counts[key]["failed"] += 1
                errors.setdefault(key, str(e).strip())
        n += 1
        rounds[phase] = rounds.get(phase, 0) + 1
        if phase == "before" and rounds[phase] == 20:
            print("ready", flush=True)
        if phase != "before" and rounds[phase] == 60:
            print(f"{phase} done", flush=True)
            if phase == "contracted":
                break
    print(json.dumps({"counts": counts, "errors": errors}), flush=True)
    await conn.close()


asyncio.run(main())
