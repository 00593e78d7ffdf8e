"""Checks that MLflow's own Python client works against the Faultline registry.

Run by test/compat/mlflow-client.test.ts (venv from scripts/setup-mlflow-venv). By hand:
    PY=$(scripts/setup-mlflow-venv)
    REGISTRY_DB=/tmp/r.db ARTIFACT_ROOT=/tmp/art ADMIN_TOKEN=secret PORT=5055 \
        node_modules/.bin/node src/pipeline/registry/main.ts &
    MLFLOW_TRACKING_URI=http://127.0.0.1:5055 MLFLOW_TRACKING_TOKEN=secret \
        $PY test/compat/mlflow_client_check.py
Exits non-zero on the first mismatch.
"""

import json
import os
import sys
import tempfile
import uuid
import warnings

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


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except MlflowException as e:
        assert e.error_code == code, (fn.__name__, e.error_code, str(e))
        return
    sys.exit(f"{fn.__name__}{args} should fail with {code}")


# ---- tags on models and versions ----
client.set_registered_model_tag(name, "team", "fraud")
client.set_registered_model_tag(name, "tier", "gold")
client.set_registered_model_tag(name, "tier", "silver")  # overwrite
assert client.get_registered_model(name).tags == {"team": "fraud", "tier": "silver"}
client.delete_registered_model_tag(name, "tier")
assert client.get_registered_model(name).tags == {"team": "fraud"}
client.set_model_version_tag(name, "2", "validated", "yes")
client.delete_model_version_tag(name, "1", "k")
assert client.get_model_version(name, "1").tags == {}
assert client.get_model_version(name, "2").tags == {"validated": "yes"}
expect_error("RESOURCE_DOES_NOT_EXIST", client.set_model_version_tag, name, "99", "a", "b")

# ---- descriptions ----
rm = client.update_registered_model(name, description="updated")
assert rm.description == "updated", rm.description
mv = client.update_model_version(name, "2", description="v2 notes")
assert mv.description == "v2 notes" and client.get_model_version(name, "2").description == "v2 notes"

# ---- search with MLflow filter strings ----
other = f"{name}-other"
client.create_registered_model(other, tags={"team": "risk"})
v3 = client.create_model_version(name, source=f"mlflow-artifacts:/{name}/2", run_id="run-abc")

def names(rms):
    return sorted(r.name for r in rms)

assert names(client.search_registered_models(filter_string=f"name = '{name}'")) == [name]
assert names(client.search_registered_models(filter_string=f"name LIKE '{name}%'")) == [name, other]
assert names(client.search_registered_models(filter_string=f"name ILIKE '{name.upper()}%'")) == [name, other]
assert names(client.search_registered_models(filter_string=f"name LIKE '{name}%' AND tags.team = 'risk'")) == [other]
found = client.search_registered_models(filter_string=f"name = '{name}'")[0]
assert found.tags == {"team": "fraud"} and found.description == "updated", found
# Paging: one model per page, the client follows next_page_token.
page1 = client.search_registered_models(filter_string=f"name LIKE '{name}%'", max_results=1)
assert len(page1) == 1 and page1.token, (len(page1), page1.token)
page2 = client.search_registered_models(filter_string=f"name LIKE '{name}%'", max_results=1, page_token=page1.token)
assert names(page1) + names(page2) == [name, other], (names(page1), names(page2))
desc = client.search_registered_models(filter_string=f"name LIKE '{name}%'", order_by=["name DESC"])
assert [r.name for r in desc] == [other, name]

vs = client.search_model_versions(f"name = '{name}'")
assert sorted(int(v.version) for v in vs) == [1, 2, 3], [v.version for v in vs]
vs = client.search_model_versions(f"name = '{name}' AND run_id = 'run-abc'")
assert [v.version for v in vs] == ["3"], [v.version for v in vs]
vs = client.search_model_versions(f"name = '{name}' AND tags.validated = 'yes'")
assert [v.version for v in vs] == ["2"], [v.version for v in vs]
vs = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
assert [v.version for v in vs] == ["1", "2", "3"], [v.version for v in vs]
expect_error("INVALID_PARAMETER_VALUE", client.search_model_versions, "nonsense ~ 'x'")
expect_error("INVALID_PARAMETER_VALUE", client.search_registered_models, "name = 'a' OR name = 'b'")

# ---- latest versions (deprecated in MLflow, still called by older scripts) ----
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    latest = client.get_latest_versions(name)
    assert [v.version for v in latest] == ["3"], [v.version for v in latest]
    assert client.get_latest_versions(name, stages=["Production"]) == []

# ---- deletes ----
client.set_registered_model_alias(name, "champion", "3")
client.delete_model_version(name, "3")
expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, name, "3")
# The alias on a deleted version goes with it, as in MLflow.
expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version_by_alias, name, "champion")
v4 = client.create_model_version(name, source=f"mlflow-artifacts:/{name}/1")
assert v4.version == "4", v4.version  # numbers of deleted versions are not reused
client.delete_registered_model(other)
expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, other)
expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_registered_model, other)

# ---- writes need the admin token; reads do not ----
token = os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
if token:
    assert client.get_registered_model(name).name == name
    assert names(client.search_registered_models(filter_string=f"name = '{name}'")) == [name]
    expect_error("UNAUTHENTICATED", client.set_registered_model_tag, name, "x", "y")
    expect_error("UNAUTHENTICATED", client.update_registered_model, name, "nope")
    expect_error("UNAUTHENTICATED", client.delete_model_version, name, "1")
    expect_error("UNAUTHENTICATED", client.delete_registered_model, name)
    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    assert client.get_registered_model(name).description == "updated"

client.delete_registered_model(name)
expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, name)

print(
    f"ok: MLflow {mlflow.__version__} client: create/get, aliases, artifacts, tags, update, "
    f"search (filters, paging, order_by), get-latest-versions, deletes, auth ({name})"
)
