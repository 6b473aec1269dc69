"""Pure computations over normalized polars frames: no AWS, no plotting, no I/O."""
