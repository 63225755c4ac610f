"""The run machinery: the loop, the source protocol, checkpoints and snapshots, the run
directory, devices, data parallelism, the update, the state and the diagnostics. It knows no kind
of run: each wing (seqrl.sequences, seqrl.envs) hands it a source."""
