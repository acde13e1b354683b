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


@pytest.fixture
def one_thread():
    """Run a test on one torch thread: small inputs gain nothing from threads, and on a shared
    machine OpenMP threads waiting for each other made the backbone tests ten times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_wandb_run_left_open():
    """End any W&B run a test leaves open: Lightning's WandbLogger never finishes its run, and a
    later logger in this process would otherwise log into it (a fit through the CLI followed by
    predict, then the offline-run fixture, made that fixture's run directory the wrong one)."""
    yield
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


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


# The quick loop, `pytest -m "not slow"`, leaves out what trains, spawns processes or traces full-size
# networks. Measured with `pytest --durations=0` on 2 cores: these took 1 s or more each. Tests can
# also carry @pytest.mark.slow themselves.
SLOW = (
    "tests/test_accuracy_vs_gflops.py::",
    "tests/test_backbones.py::test_sgs_off_equals_the_builder_and_trains",
    "tests/test_callbacks_adaptive.py::",
    "tests/test_callbacks_ddp.py::",
    "tests/test_cli.py::",
    "tests/test_datasets_real_videos.py::test_datamodule_decodes_the_sample_videos",
    "tests/test_ddp_cli.py::",
    "tests/test_flops_cli.py::",
    "tests/test_input_errors.py::test_the_stated_minimum_is_the_real_one",
    "tests/test_multiview.py::",
    "tests/test_multiview_metric.py::test_metric_is_exact_under_ddp",
    "tests/test_network.py::test_cost_table_is_",
    "tests/test_network.py::test_masked_training_ignores_what_the_padding_holds",
    "tests/test_network.py::test_padded_execution_is_the_reference_behaviour",
    "tests/test_network.py::test_x3d_s_gflops_match_the_x3d_paper",
    "tests/test_nonfinite.py::",
    "tests/test_notebook.py::",
    "tests/test_predict_folder.py::test_predict_command",
    "tests/test_pretrained.py::test_slowfast_zoo_checkpoint_loads_and_reproduces_the_backbone",
    "tests/test_reductions.py::test_fixed_average_cost_counts_the_layers_after_it_at_t_over_k",
    "tests/test_resume.py::test_resumed_runs",
    "tests/test_sweep_runner.py::test_a_failed_run",
    "tests/test_sweep_runner.py::test_grid_runs",
    "tests/test_sweep_runner.py::test_hyperband",
    "tests/test_sweep_runner.py::test_killed_sweep",
    "tests/test_sweep_runner.py::test_num_bins_sweep",
    "tests/test_sweep_runner.py::test_random_and_bayes",
    "tests/test_sweep_runner.py::test_runs_do_not_share",
    "tests/test_warm_start.py::test_sgs_starts_at_the_given_epoch",
    "tests/test_warm_start.py::test_two_stage_path",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
