"""The personal-data registry: every package's part registers in every process, in order.

A package whose ``personal_data`` module the app factory does not import would be missing
from data exports and left out of account deletions without any error, so this checks
that every such module is in ``BACKGROUND_MODULES``, and that accounts' data-rights
modules import no feature package.
"""

import ast
import importlib.util
from pathlib import Path

from accounts import personal_data
from arbiter import BACKGROUND_MODULES

PACKAGES = ("orders", "disputes", "claims", "appeals", "settlements", "incidents",
            "integrations", "dashboards")
ROOT = Path(__file__).resolve().parents[2]


def test_every_package_registers_its_part_when_the_app_is_built(app):
    modules = [f"{name}.personal_data" for name in PACKAGES
               if importlib.util.find_spec(f"{name}.personal_data") is not None]
    assert set(modules) <= set(BACKGROUND_MODULES)
    # The order of the packages' files in the ZIP and of their deletion steps.
    assert [holder.name for holder in personal_data.HOLDERS] == [
        "orders", "disputes", "claims", "appeals", "settlements", "incidents", "integrations"]


def test_accounts_data_rights_import_no_feature_package():
    for name in ("exports.py", "deletion.py", "personal_data.py"):
        tree = ast.parse((ROOT / "accounts" / name).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not {module.split(".")[0] for module in imported} & set(PACKAGES), name
