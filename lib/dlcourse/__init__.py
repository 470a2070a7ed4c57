"""dlcourse: the shared library of the deep-learning course.

One concept per module; notebooks import what they need:

* :mod:`dlcourse.runtime`   seed, device and size presets (the course prologue)
* :mod:`dlcourse.data`      toy problems, digits, Fashion-MNIST (offline, seeded)
* :mod:`dlcourse.linear`    Bayes' rule, the sigmoid, logistic regression (lecture 01, ps1)
* :mod:`dlcourse.perceptron` the perceptron rule, its convergence bound, losses of the margin (lecture 02, ps2)
* :mod:`dlcourse.information` entropy, cross-entropy, KL and Jensen-Shannon divergences (lectures 03, 09)
* :mod:`dlcourse.softmax`   softmax regression on K classes (lecture 03, ps2)
* :mod:`dlcourse.gradcheck` numerical gradients and the generic gradient checker
* :mod:`dlcourse.autodiff`  forward mode (dual numbers) and reverse mode (``Value``) automatic differentiation
* :mod:`dlcourse.layers`    numpy layers as forward/backward pairs, ``Sequential`` (lectures 04-06, ps3)
* :mod:`dlcourse.convolution` conv1d, conv2d and max/avg pooling forward/backward in numpy (lecture 07, ps4)
* :mod:`dlcourse.optim`     SGD, momentum, Adagrad, Adam, learning-rate schedules (lecture 06)
* :mod:`dlcourse.training`  build, fit (with early stopping) and evaluate numpy networks (lecture 06)
* :mod:`dlcourse.mlp`       the one-hidden-layer MLP of ps3, in numpy and in torch
* :mod:`dlcourse.torch_training` the one torch training loop (device, seed, live curves, history), evaluation and
  per-layer gradient norms (lectures 07-09)
* :mod:`dlcourse.convnets`  LeNet and the plain / batch-normalised / residual deep CNNs in torch (lecture 07)
* :mod:`dlcourse.subspaces` PCA's subspace and principal angles between subspaces (lecture 08, ps5)
* :mod:`dlcourse.autoencoders` linear, tied and torch autoencoders, input corruption (lecture 08, ps5)
* :mod:`dlcourse.gans`     GAN losses, the optimal discriminator, MLP/DCGAN builders, the GAN training loop,
  the mode-coverage score, latent interpolation and arithmetic (lecture 09, ps6)
* :mod:`dlcourse.attention` differentiable memory: the soft key-value read, its sharpness, associative recall
  (lecture 10)
* :mod:`dlcourse.sparse_coding` shrinkage, ISTA, FISTA and LISTA (lecture 10)
* :mod:`dlcourse.distributed` elastic-averaging SGD and synchronous data-parallel SGD with torch.distributed
  (lecture 10)
* :mod:`dlcourse.plots`     figures shared by lectures
* :mod:`dlcourse.widgets`   ipywidgets sliders (thin layer over plain functions)
* :mod:`dlcourse.progress`  progress bar with live loss curves for long training loops
* :mod:`dlcourse.grading`   checks that the assignments' test cells call

Importing the package is cheap: torch and scikit-learn are imported only by the functions that need them.
"""

__version__ = "0.1.0"
