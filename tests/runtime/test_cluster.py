"""What ``python -m bot.runtime.cluster`` writes for ``make run-cluster``, checked by
Debian's nginx itself (``nginx -t``)."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest
import yaml

from bot.runtime import cluster
from bot.runtime.cluster import Layout, nginx_config, procfile
from testing.services import ensure_debian_package

PRODUCTION = {
    "DATABASE_URL": "postgresql://touchline:pw@127.0.0.1:5432/touchline",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/",
}


def test_layout_puts_the_internal_server_first_then_rasa_then_actions(tmp_path):
    layout = Layout.plan(tmp_path, rasa_servers=3, action_servers=2, first_port=6000)
    assert (layout.internal_port, layout.rasa_ports, layout.action_ports) == (
        6000, (6001, 6002, 6003), (6004, 6005))
    assert layout.action_url == "http://127.0.0.1:6000/webhook"
    with pytest.raises(ValueError):
        Layout.plan(tmp_path, rasa_servers=0)


def test_nginx_accepts_the_generated_configuration(tmp_path):
    layout = Layout.plan(tmp_path, rasa_servers=3, action_servers=2, first_port=6000)
    (tmp_path / "nginx.conf").write_text(nginx_config(layout))
    nginx = ensure_debian_package("nginx", "nginx")
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "nginx-temp" / kind).mkdir(parents=True)
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                           "-e", "stderr"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = nginx_config(layout)
    assert "hash $sticky consistent;" in text and "location / { return 404; }" in text
    assert text.count("server 127.0.0.1:600") == 3 + 3 + 2  # sticky, round robin, actions


def test_servers_on_other_hosts_are_balanced_and_listened_for_there(tmp_path):
    layout = replace(Layout.plan(tmp_path, rasa_servers=2, action_servers=2, first_port=6000),
                     internal_host="10.0.0.1", rasa_hosts=("10.0.0.10", "10.0.0.11"),
                     action_hosts=("10.0.0.20", "10.0.0.21"))
    text = nginx_config(layout)
    assert text.count("server 10.0.0.10:6001") == 2 and text.count("server 10.0.0.11:6002") == 2
    assert "server 10.0.0.20:6003" in text and "server 10.0.0.21:6004" in text
    assert "listen 10.0.0.1:6000;" in text and "listen 127.0.0.1:8080;" in text
    assert "127.0.0.1:600" not in text
    assert layout.model_url == "http://10.0.0.1:6000/models/touchline.tar.gz"
    lines = procfile(layout, pool=4).splitlines()
    assert "--interface 10.0.0.11 --port 6002" in next(x for x in lines if x.startswith("rasa2"))
    assert "SANIC_HOST=10.0.0.21 " in next(x for x in lines if x.startswith("actions2"))


def test_procfile_runs_n_rasa_and_m_action_servers_and_the_consumer(tmp_path):
    layout = Layout.plan(tmp_path, rasa_servers=3, action_servers=2)
    lines = procfile(layout, pool=4).splitlines()
    names = [line.split(":", 1)[0] for line in lines]
    assert names == ["nginx", "actions1", "actions2", "rasa1", "rasa2", "rasa3", "consumer",
                     "api", "retention"]
    rasa = [line for line in lines if line.startswith("rasa")]
    assert all("SANIC_WORKERS=1 SQL_POOL_SIZE=4 SQL_MAX_OVERFLOW=4" in line for line in rasa)
    assert all("--model" not in line for line in rasa), "the model comes from the model server"


def test_main_writes_the_cluster_files(tmp_path, env):
    for name, value in PRODUCTION.items():
        env.set(name, value)
    cluster.main([str(tmp_path / "c"), "--rasa-servers", "2", "--action-servers", "1",
                  "--first-port", "6100"])
    endpoints = yaml.safe_load((tmp_path / "c" / "endpoints.yml").read_text())
    assert endpoints["models"]["url"] == "http://127.0.0.1:6100/models/touchline.tar.gz"
    assert endpoints["lock_store"]["type"] == "bot.dialogue.redis_lock_store.RedisLockStore"
    assert endpoints["event_broker"]["type"].endswith("ConfirmingPikaEventBroker")
    assert endpoints["tracker_store"]["dialect"] == "postgresql"


def test_main_refuses_without_the_services(tmp_path, env):
    env.set("DATABASE_URL", "sqlite:///x.db")
    env.unset("TRACKER_DB")
    env.unset("REDIS_URL")
    env.unset("RABBITMQ_URL")
    with pytest.raises(SystemExit, match="DATABASE_URL .PostgreSQL., REDIS_URL, RABBITMQ_URL"):
        cluster.main([str(tmp_path / "c")])
