import os
import sys
from pathlib import Path

# Tests never talk to W&B servers.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
sys.path.insert(0, str(Path(__file__).parent))


# Session-wide tiny runs for the adaptive-resolution callbacks and the notebook (a fit is ~30 s on
# two cores, so each is made once). Imported lazily so other tests do not pay for Lightning.
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def adaptive_data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("adaptive_data")


@pytest.fixture(scope="session")
def wandb_offline_run(adaptive_data_root, tmp_path_factory):
    from adaptive_runs import wandb_offline_run as make

    run_dir = tmp_path_factory.mktemp("wandb_offline_run")
    cli = make(adaptive_data_root, run_dir)
    return cli, run_dir


@pytest.fixture(scope="session")
def wandb_off_run(adaptive_data_root, tmp_path_factory):
    from adaptive_runs import wandb_off_run as make

    run_dir = tmp_path_factory.mktemp("wandb_off_run")
    cli = make(adaptive_data_root, run_dir)
    return cli, run_dir
