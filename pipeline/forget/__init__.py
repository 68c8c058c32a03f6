"""Forgetting a job, a batch or a person everywhere the pipeline stored something of them (issue 22).

``eraser`` runs the erasure over one module per store; ``build.build_eraser`` wires it from the settings;
``tombstones`` is what a step checks before it works on a job. Nothing is imported here, so a step can
import the tombstones alone.
"""
