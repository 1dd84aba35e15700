"""Training engine: phases as data, one loop, checkpoints and run directories."""
