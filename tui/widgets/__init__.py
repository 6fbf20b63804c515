"""Reusable Textual widgets; each widget's logic lives in a pure model beside it so it can be tested alone."""
