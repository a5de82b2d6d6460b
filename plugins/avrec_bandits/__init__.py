"""Built-in policy plugin: contextual bandits and off-policy estimators."""
