"""Training of denoisers and DE-GAP models (``sci-viewer train --config FILE.yaml``).

Modules: :mod:`config` (YAML -> dataclasses), :mod:`data` (DAVIS frame cache and video crops),
:mod:`sim` (batched CACTI simulation with random masks), :mod:`fixed_point` (the DEQ
solve and gradients, on :mod:`sci_viewer.solvers`), :mod:`losses`, :mod:`checkpoint`
(save/resume), :mod:`loop` (the stages).
"""
