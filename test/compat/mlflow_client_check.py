"""Checks that MLflow's own Python client works against the Faultline registry.

Not part of vitest. Run against a started registry:
    python3 -m venv /tmp/mlflow-venv && /tmp/mlflow-venv/bin/pip install mlflow-skinny
    REGISTRY_DB=/tmp/r.db ARTIFACT_ROOT=/tmp/art ADMIN_TOKEN=secret PORT=5055 \
        node_modules/.bin/node src/pipeline/registry/main.ts &
    MLFLOW_TRACKING_URI=http://127.0.0.1:5055 MLFLOW_TRACKING_TOKEN=secret \
        /tmp/mlflow-venv/bin/python test/compat/mlflow_client_check.py
Exits non-zero on the first mismatch.
"""

import json
import os
import sys
import tempfile
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

uri = os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5055")
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
name = f"compat-{uuid.uuid4().hex[:8]}"

rm = client.create_registered_model(name, description="mlflow client check")
assert rm.name == name, rm
try:
    client.create_registered_model(name)
    sys.exit("duplicate create should fail")
except MlflowException as e:
    assert e.error_code == "RESOURCE_ALREADY_EXISTS", e.error_code

# The artifact goes up through the registry's mlflow-artifacts endpoint (the trainer's convention).
mlflow.set_tracking_uri(uri)
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository  # noqa: E402

with tempfile.TemporaryDirectory() as d:
    for v in (1, 2):
        path = os.path.join(d, "model.json")
        with open(path, "w") as f:
            json.dump({"v": v}, f)
        MlflowArtifactsRepository(f"mlflow-artifacts:/{name}/{v}").log_artifact(path)

v1 = client.create_model_version(name, source=f"mlflow-artifacts:/{name}/1", tags={"k": "v"})
v2 = client.create_model_version(name, source=f"mlflow-artifacts:/{name}/2")
assert (v1.version, v2.version) == ("1", "2"), (v1.version, v2.version)
assert v1.tags == {"k": "v"}, v1.tags

client.set_registered_model_alias(name, "champion", v2.version)
assert client.get_model_version_by_alias(name, "champion").version == "2"
# Roll back by moving the alias.
client.set_registered_model_alias(name, "champion", v1.version)
mv = client.get_model_version_by_alias(name, "champion")
assert mv.version == "1" and mv.aliases == ["champion"], (mv.version, mv.aliases)
assert client.get_registered_model(name).aliases == {"champion": "1"}
assert client.get_model_version_download_uri(name, "1") == f"mlflow-artifacts:/{name}/1"

with tempfile.TemporaryDirectory() as d:
    local = MlflowArtifactsRepository(mv.source).download_artifacts("model.json", d)
    with open(local) as f:
        assert json.load(f) == {"v": 1}

client.delete_registered_model_alias(name, "champion")
try:
    client.get_model_version_by_alias(name, "champion")
    sys.exit("alias should be gone")
except MlflowException as e:
    assert e.error_code == "RESOURCE_DOES_NOT_EXIST", e.error_code

print(f"ok: MLflow {mlflow.__version__} client registered {name} v1/v2, moved and deleted alias champion")
