"""Training of denoisers and DE-GAP models (``sci-viewer train --config FILE.yaml``).

Modules: :mod:`config` (YAML -> dataclasses), :mod:`data` (DAVIS frame cache and video crops),
:mod:`sim` (batched CACTI simulation with random masks), :mod:`fixed_point` (Anderson solve and
the DEQ gradients), :mod:`losses`, :mod:`checkpoint` (save/resume), :mod:`loop` (the stages).
"""
