"""The demo: a synthetic credit-risk model and its data, runnable with no infrastructure."""
