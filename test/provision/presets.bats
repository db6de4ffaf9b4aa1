#!/usr/bin/env bats
# presets/helm/*.yaml: valid Helm values whose requests fit the size's machine.

load helpers/common

@test "every size has Helm values that fit its machine and grow with the size" {
  "$PYTHON" - "$PRESETS_DIR" "$BATS_TEST_DIRNAME/../../presets/sizes.json" <<'PY'
import json, re, sys
import yaml

presets_dir, sizes_file = sys.argv[1], sys.argv[2]
sizes = json.load(open(sizes_file))["sizes"]
order = ["XS", "S", "M", "L", "XL"]
scaled = ["frontend", "gitserver", "indexedSearch", "searcher", "pgsql", "codeIntelDB"]

def cpu(v):
    v = str(v)
    return float(v[:-1]) / 1000 if v.endswith("m") else float(v)

def mem_gib(v):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi|M|G)", str(v))
    assert m, v
    n, unit = float(m.group(1)), m.group(2)
    return {"Mi": n / 1024, "Gi": n, "M": n * 1e6 / 2**30, "G": n * 1e9 / 2**30}[unit]

previous = None
for size in order:
    values = yaml.safe_load(open(f"{presets_dir}/{size}.yaml"))
    node = sizes[size]
    assert values["storageClass"] == {"create": False, "name": "local-path"}, size
    total_cpu = total_mem = 0.0
    limits = {}
    for key, component in values.items():
        if not isinstance(component, dict) or "resources" not in component:
            continue
        res = component["resources"]
        replicas = component.get("replicaCount", 1)
        rc, rm = cpu(res["requests"]["cpu"]), mem_gib(res["requests"]["memory"])
        lc, lm = cpu(res["limits"]["cpu"]), mem_gib(res["limits"]["memory"])
        assert rc <= lc and rm <= lm, (size, key)
        assert lc <= node["vcpu"] and lm <= node["memoryGiB"], (size, key, "limit above the machine")
        total_cpu += replicas * rc
        total_mem += replicas * rm
        limits[key] = (lc, lm)
    for key in scaled:
        assert key in limits, (size, key)
    # Requests leave room for k3s, system pods and a rolling update.
    assert total_cpu <= 0.7 * node["vcpu"], (size, total_cpu)
    assert total_mem <= 0.7 * node["memoryGiB"], (size, total_mem)
    if previous:
        for key in scaled:
            assert limits[key][0] >= previous[key][0] and limits[key][1] >= previous[key][1], (size, key)
    previous = limits
PY
}
