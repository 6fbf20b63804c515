"""The SLURM adapter: command lines and batch scripts (commands), output parsers (parse), log names."""
