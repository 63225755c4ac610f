"""The sequence wing: a task and its data, a sequence policy, the REINFORCE/cross-entropy step,
its builders (algorithmic tasks, text, Hugging Face models), the KL reference and evaluation."""
