"""The old application as psycopg 3 runs it, around a plan's expand and contract.

Usage: psycopg_app.py URL MODE CONTROL_DIR, MODE `default` (psycopg prepares a statement
server-side from its fifth run) or `unprepared` (prepare_threshold=None). Protocol shared
with the other drivers' scripts: print `ready` after the warm-up; the phase is `expanded`
or `contracted` once that file exists in CONTROL_DIR; print `<phase> done` after 60 rounds
in it, and after the contracted phase print the counts as JSON and exit.
"""
import json
import os
import sys

import psycopg

url, mode, control = sys.argv[1:4]
options = {} if mode == "default" else {"prepare_threshold": None}
conn = psycopg.connect(url, autocommit=True, **options)
STATEMENTS = {
    "select_star": ("SELECT * FROM accounts WHERE id = %s", lambda n: (n % 100 + 1,)),
    "returning_star": ("INSERT INTO accounts (email) VALUES (%s) RETURNING *", lambda n: (f"p{mode}{n}@example.org",)),
    "explicit_columns": ("SELECT id, email FROM accounts WHERE id = %s", lambda n: (n % 100 + 1,)),
}
counts = {}
errors = {}
rounds = {}
n = 0
while True:
    phase = "before"
    for marker in ("expanded", "contracted"):
        if os.path.exists(os.path.join(control, marker)):
            phase = marker
    for name, (sql, params) in STATEMENTS.items():
        key = f"{phase}/{name}"
        counts.setdefault(key, {"ok": 0, "failed": 0})
        try:
            conn.execute(sql, params(n)).fetchall()
            counts[key]["ok"] += 1
        except psycopg.Error as e:
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
