"""The assignment's grader: scores students' submissions against our solution.

    python -m tools.grade SUBMISSION... [--json results.json] [--csv scores.csv] [--jobs N]
                          [--report report.html]

``cases.py`` is the table of what is graded (question, function, points, inputs),
``programs.py`` the calls made on a ``cs231n`` package, ``worker.py`` the sandboxed
process that runs a student's package, ``sandbox.py`` the sandbox around it (bubblewrap,
an unprivileged uid, process and disk limits), ``runner.py`` the grader's side (reference,
worker supervision, scoring), ``notebooks.py`` Q5's claims (what the notebooks printed),
``q5.py`` Q5's check (the saved model, evaluated by ``model_worker.py`` in the same sandbox on
the CIFAR-10 test set and ``--q5-test-set``), ``report.py`` the outputs.
``mistakes.py`` is the catalogue of known student mistakes and ``recognize.py`` names the one
a wrong answer matches in its feedback; ``class_report.py`` sums a batch up for course staff.
"""
