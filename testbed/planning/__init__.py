"""Planning: the pure pipeline from a graph to a Plan (pipeline.py) and what follows from a
Plan without a kernel (the expected reachability, reach.py)."""
