"""Every engine limit in one place. The API's settings build this object; so can callers.

FLOP budgets count each gate's overhead as tensor.GATE_FLOPS (1,000) FLOPs beside its arithmetic.
The compile cache is bounded per process in bytes (program.CACHE, 64 MB by default), not here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_program_chars: int = 500_000
    max_nodes: int = 20_000
    max_depth: int = 256
    max_literal_chars: int = 32
    max_name_chars: int = 64
    max_inputs: int = 1_000
    max_steps: int = 10_000
    max_points: int = 10_000
    max_optimize_work: int = 20_000_000  # optimizer steps x graph nodes
    max_sweep_work: int = 50_000_000  # sweep points x graph nodes
    max_check_work: int = 20_000_000  # numerical check: 2 x inputs x graph nodes
    max_rank: int = 2  # tensor rank
    max_elements: int = 1_000_000  # elements per tensor node
    max_total_elements: int = 10_000_000  # elements over all nodes of one evaluation (memory: ~80 MB + gradients)
    max_flops: int = 100_000_000  # floating-point operations per evaluation (from the shapes)
    max_optimize_flops: int = 2_000_000_000  # tensor optimizer: steps x FLOPs per step
    max_check_flops: int = 400_000_000  # tensor numerical check: runs x FLOPs per run
    max_batch: int = 100_000  # points in one batched evaluation
    max_batch_work: int = 50_000_000  # batched evaluation: points x graph nodes
    max_document_numbers: int = 10_000_000  # numbers a document lists (a backstop: the API bounds bytes too)
    # training (app/engine/train.py, app/datasets.py)
    max_train_flops: int = 100_000_000_000  # a training run: steps x FLOPs per step (x3 for backward) + evaluations
    max_epochs: int = 1_000
    max_train_samples: int = 100_000  # samples of a dataset (train and test splits together)
    max_csv_bytes: int = 10_000_000  # a CSV file (the API's body limit applies first)
    max_csv_rows: int = 100_000
    max_csv_columns: int = 1_000
    summary_above: int = 4_096  # tensors with more elements are summarized in documents (not a limit)

    def __hash__(self) -> int:  # hashed per request (plan and compile-cache keys): the fields once, then kept
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash(tuple(getattr(self, f) for f in self.__dataclass_fields__))
            self.__dict__["_hash"] = h
        return h


DEFAULT_LIMITS = Limits()
