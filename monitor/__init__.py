"""The jobdeck engine: states, manifest, reconciliation, validation and the controller.

Nothing here imports Textual, a backend or the store by name; those are handed in.
"""
