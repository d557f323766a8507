"""The documented worker commands (deploy/, README) are the ones the integration test runs, and the
Kubernetes manifests in deploy/kubernetes.md parse and keep the entity affinity of deploy/dagster.yaml:
what can be checked here without a cluster."""

import re
from pathlib import Path
from typing import Any

import yaml
from dagster._serdes.config_class import ConfigurableClassData

from pipelines.celery_workers import worker_command
from pipelines.run_coordinator import EntityAffineRunCoordinator

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
    [launcher] = [b for b in _yaml_blocks(REPO / "deploy" / "kubernetes.md") if "run_launcher" in b]
    [worker] = [b for b in _yaml_blocks(REPO / "deploy" / "kubernetes.md") if b.get("kind") == "Deployment"]
    run_launcher = launcher["run_launcher"]
    assert (run_launcher["module"], run_launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    spec = worker["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    command = spec["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("-Q") + 1] == "billbridge-0"
    assert command[command.index("-c") + 1] == "1" and "--prefetch-multiplier=1" in command


def test_the_helm_values_load_billbridges_coordinator_with_the_limits_of_the_team_instance() -> None:
    [values] = [b for b in _yaml_blocks(REPO / "deploy" / "kubernetes.md") if "dagsterDaemon" in b]
    custom = values["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]
    # What the chart writes into the instance's dagster.yaml, loaded as the instance loads it.
    coordinator = ConfigurableClassData(
        custom["module"], custom["class"], yaml.safe_dump(custom["config"])
    ).rehydrate(as_type=EntityAffineRunCoordinator)
    assert isinstance(coordinator, EntityAffineRunCoordinator)
    team = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_coordinator"]
    assert (team["module"], team["class"]) == (custom["module"], custom["class"])
    assert custom["config"] == team["config"]
    limits = {limit["key"]: limit for limit in custom["config"]["tag_concurrency_limits"]}
    assert limits["billbridge/entity"] == {
        "key": "billbridge/entity",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    }


def test_the_step_pods_of_a_run_write_one_at_a_time() -> None:
    [execution] = [b for b in _yaml_blocks(REPO / "deploy" / "kubernetes.md") if "execution" in b]
    assert execution["execution"]["config"]["max_concurrent"] == 1
