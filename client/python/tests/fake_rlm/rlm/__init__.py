from rlm.core.rlm import RLM

__all__ = ["RLM"]
