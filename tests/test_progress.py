import math

import nbformat
import pytest
from nbclient import NotebookClient

from dlcourse import progress


def test_history_and_summary_outside_a_notebook(capsys):
    with progress.LiveLoss(total=3, title="toy") as live:
        for k in range(3):
            live.update(loss=1.0 / (k + 1), acc=0.5 + 0.1 * k)
    assert live.history == {"loss": [1.0, 0.5, 1 / 3], "acc": [0.5, 0.6, 0.7]}
    assert capsys.readouterr().out == "toy: 3/3 epochs, loss 0.3333, acc 0.7\n"


def test_bad_total_is_rejected():
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="total must be a positive integer"):
            progress.LiveLoss(total=bad)


def test_svg_curve_survives_nan_and_constant_values():
    svg = progress.svg_curve([1.0, math.nan, 1.0], "loss")
    assert svg.startswith("<svg") and "nan" not in svg.split("points=")[1]
    assert "loss 1" in svg


def test_in_a_kernel_the_saved_outputs_do_not_depend_on_timing(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from dlcourse import progress\n"
        "with progress.LiveLoss(total=5, title='demo', refresh=0.0) as live:\n"
        "    for k in range(5):\n"
        "        live.update(loss=10.0 - k)\n")])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data", "stream"]
    assert outputs[0].data["text/plain"] == "HTML(value='<b>demo</b>: starting')"
    assert outputs[1].text == "demo: 5/5 epochs, loss 6\n"
    # the widget itself (saved in the notebook's metadata) ends at the last step, with the curve drawn
    states = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    final = [s["state"]["value"] for s in states.values() if s["model_name"] == "HTMLModel"]
    assert len(final) == 1 and "epoch 5/5" in final[0] and "<polyline" in final[0] and "loss 6" in final[0]
