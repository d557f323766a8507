"""The documented worker commands (deploy/, README) are the ones the integration test runs, and the
Kubernetes manifests in deploy/kubernetes.md parse: what can be checked here without a cluster."""

import re
from pathlib import Path
from typing import Any

import yaml

from pipelines.celery_workers import worker_command

REPO = Path(__file__).resolve().parents[2]


def _yaml_blocks(path: Path) -> list[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)]


def test_the_documented_workers_have_one_slot_on_their_shard_queue() -> None:
    tested = worker_command("billbridge-0")
    for doc in (REPO / "deploy" / "celery.md", REPO / "README.md"):
        line = next(row for row in doc.read_text().splitlines() if "-Q billbridge-0" in row)
        for option in ("-A pipelines.celery_app", "-n billbridge-0@%h", "-c 1", "--prefetch-multiplier=1"):
            assert option in line, (doc.name, option)
            assert option in " ".join(tested)


def test_the_kubernetes_manifests_parse_and_keep_one_consumer_per_shard() -> None:
    launcher, worker = _yaml_blocks(REPO / "deploy" / "kubernetes.md")
    run_launcher = launcher["run_launcher"]
    assert (run_launcher["module"], run_launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    spec = worker["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    command = spec["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("-Q") + 1] == "billbridge-0"
    assert command[command.index("-c") + 1] == "1" and "--prefetch-multiplier=1" in command
