"""Many processes as one, measured through the load balancer: nginx (deploy/nginx.conf) in front
of app processes sharing a PostgreSQL database (the harness of tests/test_processes.py,
tests/cluster.py). Run beside a throwaway PostgreSQL:

    scripts/with-postgres.sh .venv/bin/python -m bench.cluster [--seconds 120]

1. Writers: bench/writers' 50 writers (new turns, settings, titles) through the balancer, with
   the answers from the loopback Groq so that the database is the limit; first in front of one
   app process, then of three, in the same run. Every acknowledged turn must be stored.
2. The shared model: `POST /response` through the balancer, every answer from the one
   llama.cpp server (the bundled 0.5B model), with 1 and then 4 closed-loop clients: how many
   answers per second one model server gives a whole fleet.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.common import Check, Result, write_result
from bench.loadgen import hey, require_hey
from bench.writers import SECONDS, groq_env, report, writers
from tests.cluster import Cluster, fresh_database, running_cluster
from tests.groq_server import running_fake_groq
from tests.helpers import ADMIN

NAME = "cluster"
MODEL_SECONDS = 60
QUESTION = "What is two plus two?"


def sign_in(cluster: Cluster) -> dict[str, str]:
    reply = httpx.post(
        f"{cluster.balancer}/login",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=30,
    )
    reply.raise_for_status()
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def answered_turns(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM turns WHERE status = 'answered'")
            return int(conn.execute(query).scalar() or 0)
    finally:
        engine.dispose()


def writers_through(admin_url: str, apps: int, seconds: int) -> Result:
    """The writers in front of `apps` processes, on a database of their own."""
    with (
        running_fake_groq() as fake,
        fresh_database(admin_url) as url,
        tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp,
    ):
        fake.answer = "Four."
        with running_cluster(url, Path(tmp), apps=apps, env=groq_env(fake)) as cluster:
            print(f"\n{apps} app process(es) behind nginx, PostgreSQL:")
            runs = writers(cluster.balancer, sign_in(cluster), seconds)
            log = "\n".join(app.log.read_text(errors="replace") for app in cluster.apps)
            stored = answered_turns(url)
    return report(runs, log, stored, None, name=f"writers-{apps}")


def model_server(admin_url: str, seconds: int) -> dict[str, Any]:
    """Answers per second from the one inference server, through three app processes."""
    figures: dict[str, Any] = {}
    with (
        fresh_database(admin_url) as url,
        tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp,
        running_cluster(url, Path(tmp), apps=3) as cluster,
    ):
        auth = sign_in(cluster)
        print("\nOne llama.cpp server (0.5B) answering through 3 app processes:")
        for clients in (1, 4):
            done = hey(
                f"{cluster.balancer}/response",
                seconds=seconds,
                workers=clients,
                method="POST",
                headers=auth,
                body=f'{{"text": "{QUESTION}"}}'.encode(),
            )
            got = done.figures()
            latency = got["answered_latency"]
            print(
                f"  {clients} client(s): {got['answered_per_s']:.2f} answers/s, statuses "
                f"{got['statuses']}, p50/p95 {latency['p50_s']:.2f}/{latency['p95_s']:.2f} s"
            )
            figures[f"{clients}_clients"] = got
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=SECONDS, help="of each writers run")
    args = parser.parse_args()
    admin_url = os.environ.get("TEST_POSTGRES_URL")
    if not admin_url:
        raise SystemExit("Run it beside PostgreSQL: scripts/with-postgres.sh .venv/bin/python ...")
    require_hey()
    one, three = (writers_through(admin_url, apps, args.seconds) for apps in (1, 3))
    result = Result(NAME, figures={"writers_1_app": one.figures, "writers_3_apps": three.figures})
    result.checks = [
        Check(f"{apps} app(s): {check.metric}", check.value, check.limit, check.unit)
        for apps, part in ((1, one), (3, three))
        for check in part.checks
    ]
    rates = [part.figures["/response"]["answered_per_s"] for part in (one, three)]
    print(f"\nturns per second, 1 app -> 3 apps: {rates[0]:.1f} -> {rates[1]:.1f}")
    result.figures["model_server"] = model_server(admin_url, MODEL_SECONDS)
    write_result(result)


if __name__ == "__main__":
    main()
