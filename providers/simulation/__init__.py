"""What the PIMS simulators share: the threaded server runner, the fault-knob engine, the
foreground runner and the common ``/_sim/*`` routes. Each simulator keeps only its PIMS."""
