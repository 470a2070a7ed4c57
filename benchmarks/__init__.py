"""The benchmark suite of the course (`make bench`): how fast it runs, grades and trains, side by side with what
users would pick instead. One module per table of benchmarks/RESULTS.md:

1. :mod:`benchmarks.notebooks`  every notebook from a fresh kernel: wall time, peak memory
2. :mod:`benchmarks.grading`    plain `nbgrader autograde` vs `dlcourse grade`, and how grading scales
3. :mod:`benchmarks.reference`  the numpy reference implementations vs torch (with :mod:`benchmarks.conv`),
                                and against the machine's matmul peak
4. :mod:`benchmarks.engine`     the scalar `Value` autodiff engine vs torch scalars
5. :mod:`benchmarks.gpu`        lectures 07-09's models per epoch, CPU vs GPU

:mod:`benchmarks.run` (``python -m benchmarks``) runs them and writes the results; :mod:`benchmarks.report` writes
and parses RESULTS.md.
"""
