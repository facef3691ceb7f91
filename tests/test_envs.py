"""The per-rule conda environments (envs/*.yaml) against the rules and the pip locks.

Conda cannot run on the CI machines, so this checks what can be checked without it: every env
parses, uses conda-forge + bioconda + nodefaults and pins every package exactly; a package pinned
both in an env and in requirements*.lock has the same version in both; every rule names an env
that exists; and every third-party module a rule's script imports (through the `roco` package,
followed statically) is provided by that rule's env.
"""

import ast
import re
import sys
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ENVS = sorted((REPO / "envs").glob("*.yaml"))
RULES = REPO / "workflow" / "rules"
SCRIPTS = REPO / "workflow" / "scripts"
LOCKS = (REPO / "requirements.lock", REPO / "requirements-nodeps.lock")
CHANNELS = ["conda-forge", "bioconda", "nodefaults"]
# conda-forge names whose PyPI distribution is called differently.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}
# Conda packages with no PyPI counterpart in the lock.
CONDA_ONLY = {"python", "pip"}

RULE_RE = re.compile(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", re.MULTILINE)
DIRECTIVE_RE = r"^    {}:\n\s+\"([^\"]+)\""
PIN_RE = re.compile(r"^([A-Za-z0-9_.-]+)==([^=\s]+)$")


def normalise(name: str) -> str:
    """PEP 503 name, after mapping conda-forge names to their PyPI distribution."""
    name = CONDA_TO_PYPI.get(name.lower(), name)
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pin(spec: str) -> tuple[str, str]:
    match = PIN_RE.match(spec.strip())
    if not match:
        raise ValueError(f"not pinned with ==: {spec!r}")
    return normalise(match.group(1)), match.group(2)


def env_specs(env: dict) -> list[str]:
    """Conda dependencies and the specs of a `pip:` subsection, in one list."""
    specs = []
    for dep in env["dependencies"]:
        specs.extend(dep["pip"] if isinstance(dep, dict) else [dep])
    return specs


def post_deploy_specs(env_path: Path) -> list[str]:
    """Packages the env's post-deploy script installs with pip (`name==version` words)."""
    script = env_path.with_suffix(".post-deploy.sh")
    if not script.exists():
        return []
    return [word for word in script.read_text().split() if PIN_RE.match(word)]


def env_pins(env_path: Path) -> dict[str, str]:
    env = yaml.safe_load(env_path.read_text())
    return dict(parse_pin(s) for s in env_specs(env) + post_deploy_specs(env_path))


def lock_pins() -> dict[str, str]:
    pins = {}
    for lock in LOCKS:
        for line in lock.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, version = parse_pin(line)
                pins[name] = version
    return pins


@cache
def rules() -> dict[str, dict[str, Path]]:
    """rule name -> {'conda': env path, 'script': script path} from workflow/rules/*.smk."""
    found = {}
    for smk in sorted(RULES.glob("*.smk")):
        for name, body in RULE_RE.findall(smk.read_text()):
            found[name] = {
                key: (RULES / match.group(1)).resolve()
                for key in ("conda", "script")
                if (match := re.search(DIRECTIVE_RE.format(key), body, re.MULTILINE))
            }
    return found


def imported_modules(path: Path) -> set[str]:
    """Dotted names of every import in the file, function-local ones included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module == "roco":
                names |= {f"roco.{alias.name}" for alias in node.names}
    return names


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party modules the script needs, following `roco` modules transitively."""
    todo, seen, found = [script], set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            top, *rest = name.split(".")
            if top == "roco":
                module = SCRIPTS / "roco" / f"{rest[0]}.py" if rest else None
                if module and module.exists():
                    todo.append(module)
            elif top not in sys.stdlib_module_names:
                found.add(top)
    return found


@cache
def cached_distributions() -> dict[str, list[str]]:
    return packages_distributions()


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_parses_with_the_project_channels(path):
    env = yaml.safe_load(path.read_text())
    assert env["channels"] == CHANNELS
    assert env_specs(env), "an env without dependencies"
    assert any(spec.startswith("python==") for spec in env["dependencies"] if isinstance(spec, str))


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_every_dependency_is_pinned_exactly(path):
    env = yaml.safe_load(path.read_text())
    unpinned = [s for s in env_specs(env) + post_deploy_specs(path) if not PIN_RE.match(s.strip())]
    assert not unpinned


def test_pip_subsections_come_with_a_pinned_pip():
    for path in ENVS:
        env = yaml.safe_load(path.read_text())
        if any(isinstance(dep, dict) for dep in env["dependencies"]):
            assert "pip" in env_pins(path), path.name


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_versions_agree_with_the_pip_locks(path):
    locked = lock_pins()
    pins = env_pins(path)
    disagree = {
        name: (version, locked[name])
        for name, version in pins.items()
        if name in locked and locked[name] != version
    }
    assert not disagree, f"env version != lock version: {disagree}"
    unlocked = set(pins) - set(locked) - CONDA_ONLY
    assert not unlocked, f"pinned in {path.name} but absent from the locks: {unlocked}"


def test_the_same_package_has_one_version_in_every_env():
    versions = {}
    for path in ENVS:
        for name, version in env_pins(path).items():
            versions.setdefault(name, set()).add(version)
    assert {name: v for name, v in versions.items() if len(v) > 1} == {}


def test_every_rule_names_an_existing_env_and_every_env_is_used():
    found = rules()
    assert {"plan", "extract", "classify", "annotate", "report"} <= set(found)
    missing = {name for name, d in found.items() if "conda" not in d}
    assert not missing, f"rules without conda: {missing}"
    absent = {name: str(d["conda"]) for name, d in found.items() if not d["conda"].is_file()}
    assert not absent
    assert {d["conda"] for d in found.values()} == {p.resolve() for p in ENVS}


@pytest.mark.parametrize("rule", sorted(n for n, d in rules().items() if "script" in d))
def test_rule_env_provides_what_its_script_imports(rule):
    entry = rules()[rule]
    distributions = cached_distributions()
    needed = {
        normalise(dist)
        for module in third_party_imports(entry["script"])
        for dist in distributions.get(module, [module])
    }
    provided = set(env_pins(entry["conda"]))
    assert needed - provided == set(), f"{entry['conda'].name} lacks what {rule} imports"


def test_lock_parsing_and_name_normalisation():
    assert normalise("PyYAML") == normalise("pyyaml") == "pyyaml"
    assert normalise("matplotlib-base") == "matplotlib"
    assert normalise("typing_extensions") == "typing-extensions"
    with pytest.raises(ValueError):
        parse_pin("numpy>=2")
    with pytest.raises(ValueError):
        parse_pin("numpy")
