"""Real grading, end to end: the instructor's nbgrader commands on a scratch copy of the course.

Every assignment is generated, submitted by several students and autograded in one course with one gradebook.
For ps1: the solution, the untouched release, one wrong gradient, a never-ending loop, a deleted test cell, correct
answers that emit warnings, an answer that calls the reference solution, a renamed function, and a function that
kills the kernel. For the later assignments: the solution, the untouched release, and typical mistakes (each
submission must lose exactly the points of the questions it breaks; independent mistakes may share a submission).
ps1-ps3 are graded by plain `nbgrader autograde`, ps4-ps7 by `dlcourse grade` (the parallel queue, sandboxed
fork-server kernels), with the same expectations.
Expected scores are derived from the points in the notebook's metadata, not hard-coded. Each assignment is graded
the first time a test asks for it, so `pytest -k ps4` grades ps4 only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
DLCOURSE = str(Path(sys.executable).parent / "dlcourse")
HELPER_LIMIT_S = 10  # dlcourse.grading.core.DEFAULT_TIME_LIMIT
CELL_TIMEOUT_S = 30  # Execute.timeout in nbgrader_config.py

BROKEN = {
    "nll_grad": '''def nll_grad(w, b, X, y):
    r = 1 / (1 + np.exp(-(X @ w + b))) - y
    return X.T @ r / len(y) * 2, float(np.mean(r))   # factor 2 too many in dw
''',
    "fit_logistic": '''def fit_logistic(X, y, lr, n_iter):
    w, b = np.zeros(X.shape[1]), 0.0
    step = 0
    while step < n_iter or True:   # never ends
        step += 1
    return w, b
''',
    "cheat_sigmoid": '''import dlcourse.linear
def sigmoid(z):
    return dlcourse.linear.sigmoid(z)
''',
    "crash_sigmoid": '''import os
def sigmoid(z):
    os._exit(1)   # kills the kernel
''',
    "renamed_nll": '''def negative_log_likelihood(w, b, X, y):
    a = X @ w + b
    return float(np.mean(np.logaddexp(0, a) - y * a))
''',
    "hinge_grad_at_kink": '''def hinge_grad(w, X, y):
    active = 1 - y * (X @ w) >= 0   # counts the kink as active
    return -(X.T @ (y * active)) / len(y)
''',
    "naive_softmax": '''def softmax(Z):
    E = np.exp(Z)   # overflows at 1000
    return E / E.sum(axis=1, keepdims=True)
''',
    "perceptron_no_ties": '''def perceptron_fit(X, y, max_epochs):
    w, n = np.zeros(X.shape[1]), 0
    for _ in range(max_epochs):
        m = 0
        for x_i, y_i in zip(X, y):
            if y_i * (w @ x_i) < 0 or not w.any():   # a tie is not counted as a mistake
                w, m = w + y_i * x_i, m + 1
        n += m
        if m == 0:
            break
    return w, n
''',
    "slow_settings": "LR, BATCH_SIZE, EPOCHS = 0.001, 32, 1\n",
    "linear_backward_db_mean": '''def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)   # db averaged instead of summed
''',
    "conv2d_forward_flipped": '''def conv2d_forward(x, w, b, stride, padding):
    return _conv(x, w[:, :, ::-1, ::-1], b, stride, padding)   # convolution: the kernel flipped

def _conv(x, w, b, stride, padding):
    F, C, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = conv_output_size(x.shape[2], HH, stride, padding), conv_output_size(x.shape[3], WW, stride, padding)
    out = np.zeros((x.shape[0], F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, w) + b
    return out
''',
    "conv2d_backward_dx_padded": '''def conv2d_backward(dout, x, w, stride, padding):
    Ho, Wo = dout.shape[2:]
    HH, WW = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(Ho):
        for j in range(Wo):
            rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
            dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], w)
    return dxp, dw, dout.sum(axis=(0, 2, 3))   # forgot to cut the padding off dx
''',
    "conv_output_size_no_floor": '''def conv_output_size(n, k, stride, padding):
    return (n + 2 * padding - k) / stride + 1   # no floor
''',
    "maxpool2d_backward_all_ties": '''def maxpool2d_backward(dout, x, size, stride):
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            window = x[:, :, rows, cols]
            mask = window == window.max(axis=(2, 3), keepdims=True)   # every tied maximum gets the gradient
            dx[:, :, rows, cols] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx
''',
    "train_lenet_unseeded": '''def train_lenet(model, X, y, epochs, seed):
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(epochs):
        order = np.random.permutation(len(y))   # numpy's global generator: not drawn from seed
        for start in range(0, len(y), BATCH_SIZE):
            batch = torch.as_tensor(order[start:start + BATCH_SIZE])
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X[batch]), y[batch]).backward()
            optimizer.step()
    return model
''',
    "build_lenet_borrowed": '''from dlcourse import convnets
def build_lenet(n_classes):
    return convnets.build_lenet(in_size=8, n_classes=n_classes)   # the course's model
''',
    "conv2d_backward_borrowed": "from dlcourse.convolution import conv2d_backward   # the course's solution\n",
    "lenet_weak_settings": "LR, BATCH_SIZE, EPOCHS = 0.0003, 32, 1\n",
    "pca_subspace_not_centred": '''def pca_subspace(X, k):
    return np.linalg.svd(np.asarray(X, float), full_matrices=False)[2][:k].T   # forgot to centre
''',
    "linear_ae_dW_enc_no_W_dec": '''def linear_ae_loss_and_grads(X, W_enc, W_dec):
    n = X.shape[0]
    R = X @ W_enc @ W_dec - X
    return 0.5 * np.sum(R ** 2) / n, X.T @ R[:, :W_enc.shape[1]] / n, (X @ W_enc).T @ R / n   # dW_enc lost W_dec
''',
    "corrupt_mask_inverted": '''def corrupt(X, kind, level, seed):
    X = np.asarray(X, float)
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return X + level * rng.standard_normal(X.shape)
    return np.where(rng.random(X.shape) < level, X, 0.0)   # keeps with probability level
''',
    "train_denoising_ae_copy": '''def train_denoising_ae(X_train, level, epochs, seed):
    return torch.nn.Identity()   # an overcomplete copy: the noise goes straight through
''',
    "discriminator_loss_log_sigmoid": '''def discriminator_loss(real_logits, fake_logits):
    return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())  # log 0
''',
    "optimal_discriminator_nan": '''def optimal_discriminator(p_data, p_g):
    return p_data / (p_data + p_g)   # 0/0 = nan where both densities vanish
''',
    "train_gan_2d_memoriser": '''def train_gan_2d(data, steps, seed):
    rng = np.random.default_rng(seed)
    return lambda n: data[rng.integers(len(data), size=n)]   # hands the training points back
''',
    "generator_loss_borrowed": "from dlcourse.gans import generator_loss   # the course's solution\n",
    "memory_read_unstable": '''def memory_read(X, K, V):
    E = np.exp(X @ K.T)   # overflows at a score of 1000, 0/0 at -1000
    C = E / E.sum(axis=1, keepdims=True)
    return C, C @ V
''',
    "memory_read_transposed": '''def memory_read(X, K, V):
    S = X @ K.T
    C = np.exp(S - S.max(axis=1, keepdims=True))
    C = C / C.sum(axis=1, keepdims=True)
    return C.T, C @ V   # C handed back transposed
''',
    "shrink_hard": '''def shrink(x, t):
    return x * (np.abs(x) > t)   # hard thresholding
''',
    "shrink_borrowed": "from dlcourse.sparse_coding import shrink   # the course's solution\n",
    "ista_step_threshold_lam": '''def ista_step(Z, Y, W_d, lam, L):
    return shrink(Z - W_d.T @ (W_d @ Z - Y) / L, lam)   # the threshold lam instead of lam / L
''',
    "easgd_round_in_place": '''def easgd_round(workers, center, grads, eta, alpha):
    beta = len(workers) * alpha
    new_center = (1 - beta) * center + beta * workers.mean(axis=0)
    workers -= eta * grads + alpha * (workers - center)   # the caller's array
    return workers, new_center
''',
    "easgd_round_sequential": '''def easgd_round(workers, center, grads, eta, alpha):
    workers = workers - eta * grads - alpha * (workers - center)
    beta = len(workers) * alpha
    return workers, (1 - beta) * center + beta * workers.mean(axis=0)   # the centre from the updated workers
''',
    "mlp_gradients_no_mask": '''def mlp_gradients(params, X, y):
    a1 = linear_forward(X, params["W1"], params["b1"])
    h = relu_forward(a1)
    _, dlogits = softmax_cross_entropy(linear_forward(h, params["W2"], params["b2"]), y)
    dh, dW2, db2 = linear_backward(dlogits, h, params["W2"])
    _, dW1, db1 = linear_backward(dh, X, params["W1"])   # forgot relu_backward
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
''',
}
WARN_PREFIX = "import warnings\nwarnings.warn('answer cell warns at definition time')\n"

# assignment -> student -> (replaced answers, deleted cells, prefix, the test cells that must score 0)
SCENARIOS = {
    "ps1": {
        "solution": ({}, set(), "", set()),
        "untouched": (None, set(), "", "ALL"),
        "wrong_grad": ({"nll_grad": BROKEN["nll_grad"]}, set(), "", {"test_nll_grad"}),
        "deleted_test": ({}, {"test_sigmoid"}, "", set()),
        "warns": ({}, set(), WARN_PREFIX, set()),
        "cheater": ({"sigmoid": BROKEN["cheat_sigmoid"]}, set(), "", {"test_sigmoid"}),
        "renamed": ({"nll": BROKEN["renamed_nll"]}, set(), "", {"test_nll"}),
        "crasher": ({"sigmoid": BROKEN["crash_sigmoid"]}, set(), "", {"test_sigmoid"}),
        "endless": ({"fit_logistic": BROKEN["fit_logistic"]}, set(), "", {"test_fit_logistic"}),
    },
    "ps2": {
        "solution": ({}, set(), "", set()),
        "untouched": (None, set(), "", "ALL"),
        # three independent mistakes in one submission: each loses exactly its question
        "three_mistakes": ({"hinge_grad": BROKEN["hinge_grad_at_kink"], "softmax": BROKEN["naive_softmax"],
                            "perceptron_fit": BROKEN["perceptron_no_ties"]}, set(), "",
                           {"test_hinge_grad", "test_softmax", "test_perceptron_fit"}),
        "slow": ({"digits_settings": BROKEN["slow_settings"]}, set(), "", {"test_digits_accuracy"}),
    },
    "ps3": {
        "solution": ({}, set(), "", set()),
        "untouched": (None, set(), "", "ALL"),
        "db_mean": ({"linear_backward": BROKEN["linear_backward_db_mean"]}, set(), "", {"test_linear_backward"}),
        "no_mask": ({"mlp_gradients": BROKEN["mlp_gradients_no_mask"]}, set(), "", {"test_mlp_gradients"}),
    },
    "ps4": {
        "solution": ({}, set(), "", set()),
        "untouched": (None, set(), "", "ALL"),
        # three independent mistakes in one submission (each training submission costs four LeNet trainings)
        "three_mistakes": ({"conv2d_forward": BROKEN["conv2d_forward_flipped"],
                            "conv2d_backward": BROKEN["conv2d_backward_dx_padded"],
                            "maxpool2d_backward": BROKEN["maxpool2d_backward_all_ties"]}, set(), "",
                           {"test_conv2d_forward", "test_conv2d_backward", "test_maxpool2d_backward"}),
        # the solution's conv2d_forward, conv2d_backward and pooling call conv_output_size: a correct one is lent
        "no_floor": ({"conv_output_size": BROKEN["conv_output_size_no_floor"]}, set(), "", {"test_conv_output_size"}),
        "unseeded": ({"train_lenet": BROKEN["train_lenet_unseeded"]}, set(), "", {"test_lenet"}),
        "weak": ({"lenet_settings": BROKEN["lenet_weak_settings"]}, set(), "", {"test_lenet"}),
        "borrower": ({"build_lenet": BROKEN["build_lenet_borrowed"],
                      "conv2d_backward": BROKEN["conv2d_backward_borrowed"]}, set(), "",
                     {"test_lenet", "test_conv2d_backward"}),
    },
    "ps5": {
        "solution": ({}, set(), "", set()),
        "untouched": (None, set(), "", "ALL"),
        "two_mistakes": ({"pca_subspace": BROKEN["pca_subspace_not_centred"],
                          "corrupt": BROKEN["corrupt_mask_inverted"]}, set(), "", {"test_pca_subspace", "test_corrupt"}),
        # the solution's train_linear_ae calls linear_ae_loss_and_grads: a correct one is lent
        "grad": ({"linear_ae_loss_and_grads": BROKEN["linear_ae_dW_enc_no_W_dec"]}, set(), "",
                 {"test_linear_ae_loss_and_grads"}),
        "copier": ({"train_denoising_ae": BROKEN["train_denoising_ae_copy"]}, set(), "", {"test_train_denoising_ae"}),
    },
    "ps6": {
        "solution": ({}, set(), "", set()),
        "untouched": (None, set(), "", "ALL"),
        # the solution's train_gan_2d trains with this discriminator_loss: its logits never reach the log 0; and an
        # independent mistake in the same submission (each training submission costs three GAN trainings)
        "log_sigmoid": ({"discriminator_loss": BROKEN["discriminator_loss_log_sigmoid"],
                         "optimal_discriminator": BROKEN["optimal_discriminator_nan"]}, set(), "",
                        {"test_discriminator_loss", "test_optimal_discriminator"}),
        "memoriser": ({"train_gan_2d": BROKEN["train_gan_2d_memoriser"]}, set(), "", {"test_train_gan_2d"}),
        # the solution's train_gan_2d calls generator_loss, the stub in the sandbox: both questions lost
        "borrower": ({"generator_loss": BROKEN["generator_loss_borrowed"]}, set(), "",
                     {"test_generator_loss", "test_train_gan_2d"}),
    },
    "ps7": {
        "solution": ({}, set(), "", set()),
        "untouched": (None, set(), "", "ALL"),
        # independent mistakes share a submission; the solution's ista_step calls shrink, hard here: while
        # ista_step is graded a correct one is lent, so only Question 2 is lost
        "three_mistakes": ({"memory_read": BROKEN["memory_read_unstable"], "shrink": BROKEN["shrink_hard"],
                            "easgd_round": BROKEN["easgd_round_in_place"]}, set(), "",
                           {"test_memory_read", "test_shrink", "test_easgd_round"}),
        "other_three": ({"memory_read": BROKEN["memory_read_transposed"],
                         "ista_step": BROKEN["ista_step_threshold_lam"],
                         "easgd_round": BROKEN["easgd_round_sequential"]}, set(), "",
                        {"test_memory_read", "test_ista_step", "test_easgd_round"}),
        # the stub of the course's shrink in the sandbox: Question 2 lost, ista_step still gets a correct shrink
        "borrower": ({"shrink": BROKEN["shrink_borrowed"]}, set(), "", {"test_shrink"}),
    },
}
# graded by `dlcourse grade` (two workers) instead of plain `nbgrader autograde`
QUEUED = {"ps4", "ps5", "ps6", "ps7"}
ENDLESS = {"ps1": "endless"}  # graded on its own, to time it


def nbgrader(course: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([NBGRADER, *args], cwd=course, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def dlcourse_grade(course: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([DLCOURSE, "grade", *args], cwd=course, capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if not k.startswith("DLCOURSE_")})
    assert proc.returncode == 0, f"dlcourse grade {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def hidden_test_lines(assignment: str) -> list[str]:
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    assert lines, "the solution notebook has no hidden tests?"
    return lines


def points_by_test(nb: nbformat.NotebookNode) -> dict[str, float]:
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


def written_answers(nb: nbformat.NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]


def warning_answers(assignment: str, answers: dict[str, str]) -> dict[str, str]:
    """Correct answers that also warn while a check runs them (not only at definition time)."""
    if assignment != "ps1":
        return {}
    return {
        "nll": "import warnings\n" + answers["nll"].replace(
            '"""\n', '"""\n    warnings.warn("slow path", UserWarning)\n', 1),
        "fit_logistic": answers["fit_logistic"].replace(
            '"""\n', '"""\n    np.exp(np.array([1000.0]))  # overflow warning, result unused\n', 1),
    }


class GradedCourse:
    """One scratch course with one gradebook, in which each assignment is generated, submitted by its scenarios'
    students, autograded and given feedback the first time a test asks for it (``ensure``)."""

    def __init__(self, course: Path, submissions):
        self.course, self.submissions = course, submissions
        self.points: dict[str, dict[str, float]] = {}  # assignment -> test cell -> points
        self.written: dict[str, list[str]] = {}  # assignment -> the written answers' ids
        self.endless_seconds: dict[str, float] = {}  # assignment -> autograde seconds of the never-ending student

    def ensure(self, *assignments: str) -> Path:
        for assignment in assignments:
            if assignment not in self.points:
                self._grade(assignment)
        return self.course

    def everything(self) -> Path:
        """Every assignment graded, and grades.csv exported."""
        self.ensure(*SCENARIOS)
        nbgrader(self.course, "export")
        return self.course

    def _grade(self, assignment: str) -> None:
        course, scenarios = self.course, SCENARIOS[assignment]
        nbgrader(course, "generate_assignment", assignment)
        release = nbformat.read(course / "grading" / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        solutions = nbformat.read(course / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
        warn = warning_answers(assignment, self.submissions.solution_answers(solutions))
        for student, (replace, delete, prefix, _) in scenarios.items():
            if replace is None:
                nb = release
            else:
                replace = dict(replace, **(warn if student == "warns" else {}))
                nb = self.submissions.fill_answers(release, solutions, replace, delete, prefix)
            folder = course / "grading" / "submitted" / student / assignment
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
        endless = ENDLESS.get(assignment)
        if assignment in QUEUED:
            dlcourse_grade(course, assignment, "--workers", "2", "--no-progress")
        else:
            nbgrader(course, "autograde", assignment, f"--CourseDirectory.student_id_exclude={endless or ''}")
        if endless:
            start = time.perf_counter()
            nbgrader(course, "autograde", assignment, "--student", endless)
            self.endless_seconds[assignment] = time.perf_counter() - start
        nbgrader(course, "generate_feedback", assignment)
        self.points[assignment], self.written[assignment] = points_by_test(release), written_answers(release)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, submissions) -> GradedCourse:
    """The whole instructor workflow, in one course with one gradebook, each assignment graded on first use."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    return GradedCourse(course, submissions)


def scores(course: Path, assignment: str, student: str) -> dict[str, tuple[float | None, bool]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades}


def feedback(course: Path, assignment: str, student: str) -> str:
    return (course / "grading" / "feedback" / student / assignment / f"{assignment}.html").read_text()


@pytest.mark.parametrize("assignment, student", [(a, s) for a, scenarios in SCENARIOS.items() for s in scenarios])
def test_each_scenario_loses_exactly_its_points(graded, assignment, student):
    course = graded.ensure(assignment)
    written = graded.written
    zero = SCENARIOS[assignment][student][3]
    points = graded.points[assignment]
    assert zero == "ALL" or zero <= set(points), f"unknown test cells {zero}"
    got = scores(course, assignment, student)
    for test_id, full in points.items():
        expected = 0.0 if zero == "ALL" or test_id in zero else full
        score, needs_manual = got[test_id]
        assert (score, needs_manual) == (expected, False), f"{student}: {test_id} scored {score}, expected {expected}"
    auto = sum(got[t][0] for t in points)
    lost = sum(points.values()) if zero == "ALL" else sum(points[t] for t in zero)
    assert auto == sum(points.values()) - lost
    # the written answers wait for the instructor (the untouched ones are 0: nothing was written)
    assert written[assignment]
    for answer in written[assignment]:
        assert got[answer] == ((0.0, False) if student == "untouched" else (None, True))


def test_an_endless_loop_costs_one_helper_time_limit(graded):
    graded.ensure(*ENDLESS)
    seconds = graded.endless_seconds
    assert seconds, "no never-ending student was graded"
    for assignment, s in seconds.items():
        assert s < CELL_TIMEOUT_S, f"grading a never-ending loop in {assignment} took {s:.1f} s"
        assert s > HELPER_LIMIT_S  # the limit really was hit (not an instant error)


@pytest.mark.parametrize("assignment", list(SCENARIOS))
def test_feedback_never_shows_hidden_tests(graded, assignment):
    course = graded.ensure(assignment)
    hidden = hidden_test_lines(assignment)
    for student in SCENARIOS[assignment]:
        html = feedback(course, assignment, student)
        assert "HIDDEN TESTS" not in html and "BEGIN SOLUTION" not in html
        for line in hidden:
            assert line not in html, f"{student}'s feedback shows a hidden test line: {line}"


@pytest.mark.parametrize("assignment, student, explanations", [
    ("ps1", "wrong_grad", ["dw is wrong", "db is right"]),
    ("ps1", "renamed", ["name &#39;nll&#39; is not defined|name 'nll' is not defined"]),
    ("ps1", "cheater", ["reference solution"]),
    ("ps2", "three_mistakes", ["hinge_grad is not correct", "at the kink", "softmax emitted a warning", "overflow",
                               "perceptron_fit is not correct", "a tie"]),
    ("ps2", "slow", ["test accuracy", "is below 0.90 with lr = 0.001"]),
    ("ps3", "db_mean", ["db is wrong", "dx and dW are right", "largest relative error"]),
    ("ps3", "no_mask", ["W1 is wrong", "b1 is wrong", "W2 and b2 are right"]),
    ("ps5", "two_mistakes", ["pca_subspace is not correct", "before* centring", "corrupt is not correct",
                             "is the mask inverted"]),
    ("ps5", "grad", ["dW_enc is wrong", "loss and dW_dec are right"]),
    ("ps5", "copier", ["train_denoising_ae on Fashion-MNIST is not correct", "error 1.000 is below 2.00"]),
    ("ps4", "three_mistakes", ["conv2d_forward is not correct", "asymmetric 2x2 kernel", "the kernel flipped",
                               "stride 2, padding 1", "dx: expected shape (2, 2, 6, 6), got shape (2, 2, 8, 8)",
                               "dw and db are right", "cut the padding off",
                               "maxpool2d_backward is not correct", "tie for the maximum"]),
    ("ps4", "no_floor", ["the last window does not fit (floor)", "whole number"]),
    ("ps4", "unseeded", ["seed 0 again", "two trainings with the same seed gave different predictions"]),
    ("ps4", "weak", ["test accuracy 0.", "is below 0.97 with epochs = 1"]),
    ("ps6", "log_sigmoid", ["discriminator_loss is not correct", "contains inf", "softplus(-a)"]),
    ("ps6", "log_sigmoid", ["optimal_discriminator is not correct", "D* is 0.5 by convention"]),
    ("ps6", "memoriser", ["are training points", "not hand back (or resample) the data"]),
    ("ps6", "borrower", ["dlcourse.gans.generator_loss is the course library"]),
    ("ps7", "three_mistakes", ["memory_read emitted a warning", "overflow", "largest score is subtracted first",
                               "shrink is not correct", "hard thresholding",
                               "easgd_round changed its argument workers in place"]),
    ("ps7", "other_three", ["yours is transposed", "the threshold is lam: ", "*after* their update"]),
    ("ps7", "borrower", ["shrink calls dlcourse.sparse_coding.shrink"]),
    ("ps4", "borrower", ["conv2d_backward calls dlcourse.convolution.conv2d_backward",
                         "dlcourse.convnets.build_lenet is the course library"]),
])
def test_feedback_explains_failures(graded, assignment, student, explanations):
    html = feedback(graded.ensure(assignment), assignment, student)
    for explanation in explanations:
        assert any(option in html for option in explanation.split("|")), f"{student}: no '{explanation}' in feedback"


def test_runtime_data_stays_in_the_grading_folder(graded):
    course, points = graded.everything(), graded.points
    assert sorted(p.name for p in course.iterdir()) == ["grading", "nbgrader_config.py", "solutions"]  # no course/
    assert sorted(p.name for p in (course / "grading").iterdir()) == [
        "autograded", *(["dlcourse-grade"] if QUEUED else []), "feedback", "gradebook.db", "grades.csv", "release",
        "submitted"]  # dlcourse-grade/: the queue's journal
    csv = (course / "grading" / "grades.csv").read_text().splitlines()
    assert csv[0].startswith("assignment,")
    students = set().union(*SCENARIOS.values())  # one row per student and assignment, submitted or not
    assert len(csv) == 1 + len(SCENARIOS) * len(students)
    for assignment in SCENARIOS:
        solution_row = next(r for r in csv if r.startswith(f"{assignment},") and ",solution," in r)
        assert f",{sum(points[assignment].values()):.1f}," in solution_row


@pytest.mark.parametrize("assignment", list(SCENARIOS))
def test_gradescope_results_match_the_gradebook_and_the_format(graded, assignment):
    import jsonschema

    from dlcourse.grading.results import SCHEMA, write_all

    course = graded.ensure(assignment)
    written = write_all(course, assignment)
    assert sorted(p.parent.name for p in written) == sorted(SCENARIOS[assignment])
    hidden = hidden_test_lines(assignment)
    for path in written:
        document = json.loads(path.read_text())
        jsonschema.validate(document, SCHEMA)
        student = path.parent.name
        by_name = {t["name"]: t for t in document["tests"]}
        for name, (score, needs_manual) in scores(course, assignment, student).items():
            assert by_name[name]["score"] == (score or 0.0)
            assert by_name[name]["status"] == ("passed" if not needs_manual and score == by_name[name]["max_score"]
                                               else "failed")
        assert document["score"] == sum(t["score"] for t in document["tests"])
        text = path.read_text()
        assert not [line for line in hidden if line in text], f"{student}'s results.json shows a hidden test"
    if assignment == "ps1":
        wrong = json.loads((course / "grading" / "results" / "ps1" / "wrong_grad" / "results.json").read_text())
        message = {t["name"]: t["output"] for t in wrong["tests"]}["test_nll_grad"]
        assert message.startswith("CheckFailed: nll_grad is not correct") and "dw is wrong" in message
