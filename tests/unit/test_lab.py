"""JupyterLab as `make lab` runs it: the command line and the environment's settings."""

import json

from scalelab.plumbing import paths
from scalelab.publishing import lab


def test_lab_serves_the_project_on_loopback_opens_00_and_culls_idle_kernels():
    cmd = lab.command()
    assert cmd[1] == "lab" and cmd[cmd.index("--ip") + 1] == "127.0.0.1"
    # the project root, so a notebook's ../docs/glossary.md link opens in the lab
    assert f"--notebook-dir={paths.PROJECT_ROOT}" in cmd
    assert "--LabApp.default_url=/lab/tree/notebooks/00-start-here.ipynb" in cmd
    assert (paths.PROJECT_ROOT / lab.FIRST_PAGE).exists()
    # a closed tab's kernel is stopped once idle, with the stacks it started
    assert f"--MappingKernelManager.cull_idle_timeout={lab.CULL_IDLE_S}" in cmd
    assert "--MappingKernelManager.cull_connected=False" in cmd
    assert str(lab.CULL_IDLE_S // 60) + " minutes" in lab.banner()


def test_the_tests_lab_is_the_same_command_on_its_own_folder_and_port(tmp_path):
    cmd = lab.command(tmp_path, port=8123, token="t", first_page=None, browser=False)
    assert f"--notebook-dir={tmp_path}" in cmd and "--port=8123" in cmd
    assert "--ServerApp.token=t" in cmd and "--no-browser" in cmd
    assert not [c for c in cmd if c.startswith("--LabApp.default_url")]


def test_settings_turn_the_news_off_and_keep_what_else_is_there(tmp_path):
    path = lab.settings_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"other:plugin": {"x": 1}}))
    lab.write_settings(tmp_path)
    data = json.loads(path.read_text())
    assert data["other:plugin"] == {"x": 1}
    assert data["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    lab.write_settings(tmp_path)  # twice is the same
    assert json.loads(path.read_text()) == data


def test_git_strips_the_outputs_of_notebooks_but_not_of_the_reference_copies():
    attributes = (paths.PROJECT_ROOT / ".gitattributes").read_text().splitlines()
    rules = [line.split() for line in attributes if line and not line.startswith("#")]
    assert ["notebooks/*.ipynb", "filter=nbstripout", "diff=ipynb"] in rules
    assert not [r for r in rules if "filter=nbstripout" in r and r[0] != "notebooks/*.ipynb"]
    setup = (paths.PROJECT_ROOT / "scripts" / "setup-python.sh").read_text()
    assert "filter.nbstripout.clean" in setup and "-m nbstripout" in setup
