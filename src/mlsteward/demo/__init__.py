"""The end-to-end demo run by ``steward demo`` / ``make demo``."""

from mlsteward.demo._runner import STEPS, DemoContext, DemoStep, run_demo

__all__ = ["STEPS", "DemoContext", "DemoStep", "run_demo"]
