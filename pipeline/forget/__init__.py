"""Forgetting a job, a batch or a person everywhere the pipeline stored something of them (issue 22)."""

from pipeline.forget.build import build_eraser
from pipeline.forget.eraser import Eraser, ErasureReport
from pipeline.forget.target import Kind, StoreReport, Target

__all__ = ["Eraser", "ErasureReport", "Kind", "StoreReport", "Target", "build_eraser"]
