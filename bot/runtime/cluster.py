"""The production profile on one machine: N Rasa servers, M action servers, nginx, the
event consumer and the API, as one ``honcho`` Procfile (``make run-cluster``).

``python -m bot.runtime.cluster OUT_DIR`` writes into ``OUT_DIR`` (default ``var/cluster``):

* ``nginx.conf`` (:func:`nginx_config`): the public server on ``$CLUSTER_PORT`` (8080)
  routes ``/socket.io/`` to one Rasa server per widget connection (hash of the client's
  ``tlroute`` query argument, else of its address: long-polling requests of one connection
  must reach the server that holds it; WebSocket upgrades pass through) and
  ``/webhooks/`` round robin, retrying another server when one refuses the connection;
  everything else (``/model``, ``/conversations``, ``/status``: Rasa's HTTP API) answers
  404.  A second, internal server (127.0.0.1 unless the layout names another address)
  only balances the action servers and serves the
  ``models/`` folder (nginx sends an ``ETag`` per file, which Rasa's model pulling uses);
* ``endpoints.yml`` (:mod:`bot.runtime.endpoints`): the production profile from
  ``DATABASE_URL``, ``REDIS_URL`` and ``RABBITMQ_URL``, actions through nginx, the model
  from the model server;
* ``Procfile`` (:func:`procfile`).

Every Rasa server is one process (``SANIC_WORKERS=1``) with a PostgreSQL pool of
``$TOUCHLINE_DB_POOL`` connections (Rasa's own ``SQL_POOL_SIZE``, ``SQL_MAX_OVERFLOW``),
so N servers, M action servers, the API and the consumer hold at most
``2 x pool x (N + M + 2)`` connections (PostgreSQL allows 100 by default).

``--rasa-servers`` (3), ``--action-servers`` (2), ``--port`` (nginx's public port, 8080)
and ``--first-port`` (first internal port, 5100) choose the shape (``make run-cluster``
passes ``CLUSTER_RASA_SERVERS``, ``CLUSTER_ACTION_SERVERS``, ``CLUSTER_PORT``).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from bot.config import PROJECT_ROOT, settings
from bot.runtime.endpoints import Services, services_from_settings, write_endpoints

MODEL_NAME = "touchline.tar.gz"
"""The model file the servers load (``make model`` writes ``models/touchline.tar.gz``)."""


@dataclass(frozen=True)
class Layout:
    """Ports and folders of one cluster on one machine."""

    workdir: Path
    """Where nginx.conf, endpoints.yml, the Procfile and nginx's own files go."""
    rasa_ports: tuple[int, ...]
    action_ports: tuple[int, ...]
    public_port: int
    """nginx's public server (widget, webhooks)."""
    internal_port: int
    """nginx's internal server: action servers and the model files."""
    models_dir: Path = PROJECT_ROOT / "models"
    public_host: str = "127.0.0.1"
    internal_host: str = "127.0.0.1"
    """Address of nginx's internal server (the Rasa servers must reach it)."""
    rasa_hosts: tuple[str, ...] = ()
    """Address of each Rasa server (empty: all on 127.0.0.1, one machine)."""
    action_hosts: tuple[str, ...] = ()
    """Address of each action server (empty: all on 127.0.0.1)."""

    def rasa_host(self, i: int) -> str:
        """Address Rasa server ``i`` (0-based) listens on."""
        return self.rasa_hosts[i] if self.rasa_hosts else "127.0.0.1"

    def action_host(self, i: int) -> str:
        """Address action server ``i`` (0-based) listens on."""
        return self.action_hosts[i] if self.action_hosts else "127.0.0.1"

    @classmethod
    def plan(cls, workdir: Path, rasa_servers: int = 3, action_servers: int = 2,
             public_port: int = 8080, first_port: int = 5100,
             models_dir: Path | None = None) -> Layout:
        """Consecutive internal ports from ``first_port``: the internal nginx server, then
        the Rasa servers, then the action servers.

        Raises:
            ValueError: fewer than one Rasa or action server.
        """
        if rasa_servers < 1 or action_servers < 1:
            raise ValueError("a cluster needs at least one Rasa and one action server")
        rasa = tuple(range(first_port + 1, first_port + 1 + rasa_servers))
        actions = tuple(range(rasa[-1] + 1, rasa[-1] + 1 + action_servers))
        return cls(workdir.resolve(), rasa, actions, public_port, first_port,
                   (models_dir or PROJECT_ROOT / "models").resolve())

    @property
    def action_url(self) -> str:
        """What the Rasa servers call: the action servers behind nginx."""
        return f"http://{self.internal_host}:{self.internal_port}/webhook"

    @property
    def model_url(self) -> str:
        """The model file on nginx's internal server."""
        return f"http://{self.internal_host}:{self.internal_port}/models/{MODEL_NAME}"


def _servers(addresses: list[str], extra: str = "") -> str:
    return "\n".join(f"    server {a}{extra};" for a in addresses)


def nginx_config(layout: Layout) -> str:
    """nginx's configuration for ``layout`` (run as ``nginx -p WORKDIR -c nginx.conf``,
    unprivileged, in the foreground)."""
    w = layout.workdir
    temp = "\n".join(f"  {kind}_temp_path {w}/nginx-temp/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # Started by root (CI machines), nginx would run its workers as "nobody", who cannot
    # read the models folder; started by anyone else it runs as that user and ignores this.
    user = "user root;\n" if os.geteuid() == 0 else ""
    rasa = [f"{layout.rasa_host(i)}:{p}" for i, p in enumerate(layout.rasa_ports)]
    actions = [f"{layout.action_host(i)}:{p}" for i, p in enumerate(layout.action_ports)]
    return f"""# Generated by python -m bot.runtime.cluster: do not edit.
{user}worker_processes 1;
daemon off;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
{temp}
  log_format upstream '$time_iso8601 $request_method $uri $arg_tlroute $status $upstream_addr';
  access_log {w}/nginx-access.log upstream;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  # One widget connection, one Rasa server: polling requests carry ?tlroute= (the widget
  # adds a random one per page), else they stick to the client's address.
  map $arg_tlroute $sticky {{ "" $remote_addr; default $arg_tlroute; }}
  upstream rasa_sticky {{
    hash $sticky consistent;
{_servers(rasa, " max_fails=1 fail_timeout=3s")}
  }}
  upstream rasa_any {{
{_servers(rasa, " max_fails=1 fail_timeout=3s")}
    keepalive 32;
  }}
  upstream actions {{
{_servers(actions, " max_fails=1 fail_timeout=3s")}
    keepalive 32;
  }}
  server {{
    listen {layout.public_host}:{layout.public_port};
    client_max_body_size 1m;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    location /socket.io/ {{
      proxy_pass http://rasa_sticky;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_read_timeout 120s;
    }}
    location /webhooks/ {{
      proxy_pass http://rasa_any;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503;
      proxy_read_timeout 120s;
    }}
    location = / {{ proxy_pass http://rasa_any; }}
    location / {{ return 404; }}
  }}
  server {{
    listen {layout.internal_host}:{layout.internal_port};
    location /webhook {{
      proxy_pass http://actions;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 60s;
    }}
    location /models/ {{ alias {layout.models_dir}/; }}
    location / {{ return 404; }}
  }}
}}
"""


def rasa_env(pool: int) -> dict[str, str]:
    """Environment of one Rasa server of a cluster: one Sanic worker, Rasa's PostgreSQL
    pool (``rasa/core/tracker_store.py::create_engine_kwargs``) sized like ours."""
    return {"SANIC_WORKERS": "1", "SQL_POOL_SIZE": str(pool), "SQL_MAX_OVERFLOW": str(pool)}


def rasa_args(layout: Layout, i: int, with_model_file: bool,
              token: str = "$RASA_AUTH_TOKEN") -> list[str]:
    """``rasa run`` arguments of Rasa server ``i`` (0-based: its address and port; the API
    token ``token``, by default read from ``$RASA_AUTH_TOKEN``; nginx keeps the API
    private)."""
    args = ["run", "--enable-api", "--auth-token", token, "--interface",
            layout.rasa_host(i), "--port", str(layout.rasa_ports[i]), "--cors",
            "$CORS_ORIGINS", "--credentials", "credentials.yml", "--endpoints",
            str(layout.workdir / "endpoints.yml")]
    if with_model_file:
        args += ["--model", str(layout.models_dir / MODEL_NAME)]
    return args


def procfile(layout: Layout, pool: int, model_url: bool = True) -> str:
    """The Procfile of the cluster (``honcho start -f WORKDIR/Procfile``)."""
    python = ".venv/bin/python"
    env = " ".join(f"{k}={v}" for k, v in rasa_env(pool).items())
    lines = [f"nginx: nginx -p {layout.workdir} -c {layout.workdir / 'nginx.conf'} "
             "-e stderr"]
    lines += [f"actions{i + 1}: SANIC_HOST={layout.action_host(i)} {python} -m actions "
              f"--port {port}" for i, port in enumerate(layout.action_ports)]
    lines += [f"rasa{i + 1}: {env} {python} -m bot.runtime.rasa_server "
              + " ".join(rasa_args(layout, i, not model_url))
              for i in range(len(layout.rasa_ports))]
    lines += [f"consumer: {python} -m bot.runtime.event_consumer",
              "api: .venv/bin/uvicorn bot.api.app:create_app --factory --ws none --host $HOST "
              "--port $API_PORT",
              f"retention: {python} -m bot.privacy.retention --daily"]
    return "\n".join(lines) + "\n"


def write_cluster(layout: Layout, services: Services, pool: int) -> Path:
    """Write nginx.conf, endpoints.yml and the Procfile into ``layout.workdir``.

    Returns:
        The Procfile's path.
    """
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (layout.workdir / "nginx-temp" / kind).mkdir(parents=True, exist_ok=True)
    (layout.workdir / "nginx.conf").write_text(nginx_config(layout))
    write_endpoints(layout.workdir / "endpoints.yml", layout.action_url, "unused-tracker.db",
                    services)
    path = layout.workdir / "Procfile"
    path.write_text(procfile(layout, pool, model_url=services.model_url is not None))
    return path


def main(argv: list[str]) -> None:
    """``python -m bot.runtime.cluster [OUT_DIR] [--rasa-servers N] [--action-servers M]
    [--port P] [--first-port F]`` (see the module docstring).

    Raises:
        SystemExit: ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL`` or ``RABBITMQ_URL`` missing.
    """
    parser = argparse.ArgumentParser(prog="python -m bot.runtime.cluster")
    parser.add_argument("out", nargs="?", default="var/cluster", type=Path)
    parser.add_argument("--rasa-servers", type=int, default=3)
    parser.add_argument("--action-servers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080, help="nginx's public port")
    parser.add_argument("--first-port", type=int, default=5100,
                        help="first internal port (nginx's internal server, then the servers)")
    args = parser.parse_args(argv)
    config = settings()
    layout = Layout.plan(args.out, args.rasa_servers, args.action_servers, args.port,
                         args.first_port)
    services = services_from_settings(config)
    missing = [name for name, value in (("DATABASE_URL (PostgreSQL)", services.tracker_url),
                                        ("REDIS_URL", services.redis_url),
                                        ("RABBITMQ_URL", services.rabbitmq_url)) if not value]
    if missing:
        raise SystemExit(f"make run-cluster needs {', '.join(missing)}")
    services = replace(services, model_url=config.model_url or layout.model_url)
    print(write_cluster(layout, services, config.db_pool_size))


if __name__ == "__main__":
    main(sys.argv[1:])
