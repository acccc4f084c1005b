"""The audit log of operator actions and who may take each action (see models, rights, log)."""
